/**
 * The DatabaseEngine port in memory, for fast core tests: a "server" of users in a map, each with the broker's
 * marker (or none: someone else's user), a password or none, its level's privileges, a lock and open sessions. It
 * keeps the port's contract (proven by test/contract/database-engine.contract.ts, run against it in
 * test/unit/memory-engine.test.ts): idempotent on the grant (a leftover of the same grant is adopted and converged),
 * a user without the marker refused with TargetError('conflict') and left untouched, a name outside the allow-list
 * refused with TargetError('invalid'), per-user outcomes in batches, and disable = lock, then end every session.
 *
 * What a level grants is the fake's own model: each role and each templated GRANT of the catalog names a set of
 * privileges ("select", "insert", "create" …) configured on the fake; one it does not know fails that user with
 * TargetError('invalid'), as an unknown role fails on a real server. Faults for tests: `down` makes every call fail
 * as an unreachable server does, `failNext` fails the next calls of one operation.
 */
import type { AccessLevel, EngineName } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { USERNAME_PATTERN } from '../../src/core/identifiers.js';
import type {
  DatabaseEngine,
  DeleteUserResponse,
  DisableUserResponse,
  EngineCapabilities,
  EngineRegistry,
  ManagedUser,
  NewUserRequest,
  NewUserResponse,
  ObservedSession,
  UpdateUserRequest,
} from '../../src/core/ports.js';
import type { StatementSummary } from '../../src/core/model.js';

const PASSWORD = /^[A-Za-z0-9]{32,}$/;

/** The broker's marker on a user it created: which grant, until when, who inherits its objects. */
export interface MemoryMarker {
  grantId: number;
  expiresAt: number;
  reassignTo?: string;
}

export interface MemoryUser {
  username: string;
  /** Absent: not the broker's user. */
  marker?: MemoryMarker;
  /** null: no password matches (created without one, or by adoption without one). */
  password: string | null;
  privileges: Set<string>;
  locked: boolean;
  sessions: Set<MemorySession>;
  /** Objects the user created (dropped with it, or handed to the marker's reassignTo). */
  owned: Set<string>;
}

/** A login of a user, ended by the server when the user is disabled or dropped. */
let sessionIds = 0;

export class MemorySession {
  private end!: () => void;
  private open = true;
  /** Unique in this process (observeSessions' session key). */
  readonly id = ++sessionIds;
  /** Resolves when the session ends (closed by the client or terminated by the server). */
  readonly ended = new Promise<void>((r) => (this.end = r));

  constructor(
    private readonly server: MemoryEngine,
    readonly username: string,
  ) {}

  get alive(): boolean {
    return this.open;
  }

  /** Uses `privilege` (creating `object` with "create"): rejected when the session has ended or lacks it. */
  async use(privilege: string, object?: string): Promise<void> {
    if (!this.open) throw new Error(`session of ${this.username} has ended`);
    const user = this.server.users.get(this.username);
    if (!user) throw new Error(`user ${this.username} does not exist`);
    if (!user.privileges.has(privilege)) throw new Error(`permission denied: ${this.username} lacks ${privilege}`);
    if (privilege === 'create' && object !== undefined) user.owned.add(object);
  }

  async close(): Promise<void> {
    this.terminate();
  }

  /** Ends the session; true when it was open. */
  terminate(): boolean {
    if (!this.open) return false;
    this.open = false;
    this.server.users.get(this.username)?.sessions.delete(this);
    this.end();
    return true;
  }
}

export type MemoryEngineOperation =
  | 'newUsers'
  | 'updateUser'
  | 'disableUsers'
  | 'deleteUsers'
  | 'listManagedUsers'
  | 'observeSessions'
  | 'statementSummaries';

export interface MemoryEngineOptions {
  engine?: EngineName;
  /** Roles that exist on the server and the privileges each gives. */
  roles?: Readonly<Record<string, readonly string[]>>;
  /** Templated GRANTs the server accepts and the privileges each gives. */
  grants?: Readonly<Record<string, readonly string[]>>;
}

export class MemoryEngine implements DatabaseEngine {
  readonly engine: EngineName;
  readonly users = new Map<string, MemoryUser>();
  /** Objects handed to a role at expiry (onExpiry reassignTo), by role. */
  readonly reassigned = new Map<string, Set<string>>();
  /** Every call, in order, with the names it was given (tests assert what the core asked for). */
  readonly calls: Array<{ op: MemoryEngineOperation; usernames: string[] }> = [];
  /** While true every call fails as an unreachable server does: TargetError('retryable'). */
  down = false;
  private readonly faults = new Map<MemoryEngineOperation, Error[]>();
  private readonly roles: Readonly<Record<string, readonly string[]>>;
  private readonly grants: Readonly<Record<string, readonly string[]>>;

  constructor(opts: MemoryEngineOptions = {}) {
    this.engine = opts.engine ?? 'postgres';
    this.roles = opts.roles ?? {};
    this.grants = opts.grants ?? {};
  }

  /** The next call of `op` throws `err` (queued: several calls, several errors). */
  failNext(op: MemoryEngineOperation, err: Error = new TargetError('retryable', `${op} failed (injected)`)): void {
    this.faults.set(op, [...(this.faults.get(op) ?? []), err]);
  }

  private enter(op: MemoryEngineOperation, usernames: readonly string[]): void {
    this.calls.push({ op, usernames: [...usernames] });
    if (this.down) throw new TargetError('retryable', 'connect ECONNREFUSED (the in-memory server is down)');
    const queued = this.faults.get(op);
    const err = queued?.shift();
    if (err) throw err;
  }

  async initialize(): Promise<EngineCapabilities> {
    if (this.down) throw new TargetError('retryable', 'connect ECONNREFUSED (the in-memory server is down)');
    const ok = (name: string, detail: string) => ({ name, ok: true, detail, severity: 'error' as const });
    return {
      engine: this.engine,
      flavour: this.engine === 'postgres' ? 'postgresql' : 'mysql',
      serverVersion: '0.0 (in memory)',
      readOnly: false,
      expiryBackstop: 'none',
      checks: [
        ok('connect', 'in memory'),
        ok('create users', 'always'),
        ok('kill sessions', 'always'),
        ...Object.keys(this.roles).map((r) => ok(`role ${r}`, 'exists')),
      ],
    };
  }

  // --- creating ---------------------------------------------------------------------------------------------

  async newUsers(reqs: readonly NewUserRequest[]): Promise<Map<string, NewUserResponse | Error>> {
    const out = new Map<string, NewUserResponse | Error>();
    if (reqs.length === 0) return out;
    this.enter(
      'newUsers',
      reqs.map((r) => r.username),
    );
    for (const req of reqs) {
      if (out.has(req.username)) continue; // the first request of a duplicated name wins
      try {
        out.set(req.username, this.makeUser(req));
      } catch (err) {
        out.set(req.username, err as Error);
      }
    }
    return out;
  }

  private makeUser(req: NewUserRequest): NewUserResponse {
    assertName(req.username);
    if (req.password !== undefined && !PASSWORD.test(req.password))
      throw new TargetError('invalid', `refusing a password outside [A-Za-z0-9]{32,} for ${req.username}`);
    const privileges = this.privilegesOf(req.level);
    const existing = this.users.get(req.username);
    if (existing && existing.marker?.grantId !== req.grantId) throw notOurs(req.username, req.grantId);
    const reassignTo = typeof req.level.onExpiry === 'object' ? req.level.onExpiry.reassignTo : undefined;
    const marker: MemoryMarker = {
      grantId: req.grantId,
      expiresAt: req.expiresAt,
      ...(reassignTo !== undefined && { reassignTo }),
    };
    if (existing) {
      // A leftover of this grant: converged to what is asked now.
      existing.marker = marker;
      existing.password = req.password ?? null;
      existing.privileges = privileges;
      existing.locked = false;
      return { outcome: 'adopted' };
    }
    this.users.set(req.username, {
      username: req.username,
      marker,
      password: req.password ?? null,
      privileges,
      locked: false,
      sessions: new Set(),
      owned: new Set(),
    });
    return { outcome: 'created' };
  }

  private privilegesOf(level: AccessLevel): Set<string> {
    const out = new Set<string>();
    for (const role of level.roles) {
      const given = this.roles[role];
      if (!given) throw new TargetError('invalid', `role "${role}" does not exist`);
      for (const p of given) out.add(p);
    }
    for (const grant of level.grants) {
      const given = this.grants[grant];
      if (!given) throw new TargetError('invalid', `the server rejects the grant "${grant}"`);
      for (const p of given) out.add(p);
    }
    return out;
  }

  async updateUser(req: UpdateUserRequest): Promise<void> {
    this.enter('updateUser', [req.username]);
    assertName(req.username);
    if (req.newPassword !== undefined && !PASSWORD.test(req.newPassword))
      throw new TargetError('invalid', `refusing a password outside [A-Za-z0-9]{32,} for ${req.username}`);
    const user = this.users.get(req.username);
    if (!user) throw new TargetError('permanent', `user ${req.username} does not exist`);
    if (user.marker?.grantId !== req.grantId) throw notOurs(req.username, req.grantId);
    if (req.newPassword !== undefined) user.password = req.newPassword;
    if (req.newExpiresAt !== undefined) user.marker = { ...user.marker!, expiresAt: req.newExpiresAt };
  }

  // --- ending -----------------------------------------------------------------------------------------------

  async disableUsers(usernames: readonly string[]): Promise<Map<string, DisableUserResponse | Error>> {
    const out = new Map<string, DisableUserResponse | Error>();
    if (usernames.length === 0) return out;
    this.enter('disableUsers', usernames);
    for (const username of usernames) {
      if (out.has(username)) continue;
      try {
        assertName(username);
        const user = this.users.get(username);
        if (!user) {
          out.set(username, { existed: false, sessionsTerminated: 0 });
          continue;
        }
        if (!user.marker) throw notOurs(username);
        // Locked before any session is ended: no reconnect race.
        user.locked = true;
        out.set(username, { existed: true, sessionsTerminated: this.terminateAll(user) });
      } catch (err) {
        out.set(username, err as Error);
      }
    }
    return out;
  }

  async deleteUsers(usernames: readonly string[]): Promise<Map<string, DeleteUserResponse | Error>> {
    const out = new Map<string, DeleteUserResponse | Error>();
    if (usernames.length === 0) return out;
    this.enter('deleteUsers', usernames);
    for (const username of usernames) {
      if (out.has(username)) continue;
      try {
        assertName(username);
        const user = this.users.get(username);
        if (!user) {
          out.set(username, { outcome: 'already_absent' });
          continue;
        }
        if (!user.marker) throw notOurs(username);
        this.terminateAll(user);
        const heir = user.marker.reassignTo;
        if (heir !== undefined) {
          const held = this.reassigned.get(heir) ?? new Set<string>();
          for (const o of user.owned) held.add(o);
          this.reassigned.set(heir, held);
        }
        this.users.delete(username);
        out.set(username, { outcome: 'dropped' });
      } catch (err) {
        out.set(username, err as Error);
      }
    }
    return out;
  }

  private terminateAll(user: MemoryUser): number {
    let n = 0;
    for (const s of [...user.sessions]) if (s.terminate()) n++;
    return n;
  }

  /** The open sessions of these users (no start, address or application: the in-memory server has no clients and
   *  no clock of the test's). */
  async observeSessions(usernames: readonly string[]): Promise<ObservedSession[]> {
    this.enter('observeSessions', usernames);
    return usernames.flatMap((u) =>
      [...(this.users.get(u)?.sessions ?? [])].map((session) => ({
        username: u,
        sessionKey: String(session.id),
      })),
    );
  }

  /** The in-memory server keeps no statement statistics. */
  async statementSummaries(usernames: readonly string[]): Promise<Map<string, StatementSummary>> {
    this.enter('statementSummaries', usernames);
    return new Map(
      usernames.map((u) => [u, { available: false, why: 'the in-memory server keeps no statement statistics' }]),
    );
  }

  async listManagedUsers(): Promise<ManagedUser[]> {
    this.enter('listManagedUsers', []);
    return [...this.users.values()]
      .filter((u) => u.marker && USERNAME_PATTERN.test(u.username))
      .map((u) => ({
        username: u.username,
        grantId: u.marker!.grantId,
        expiresAt: u.marker!.expiresAt,
        sessions: u.sessions.size,
      }));
  }

  async close(): Promise<void> {}

  // --- the server's side, for tests ----------------------------------------------------------------------------

  /** A login over password authentication: refused for a missing or locked user, or a password that does not match. */
  connect(username: string, password: string): MemorySession {
    const user = this.users.get(username);
    if (!user || user.locked || user.password === null || user.password !== password) {
      throw new Error(`password authentication failed for user "${username}"`);
    }
    const session = new MemorySession(this, username);
    user.sessions.add(session);
    return session;
  }

  sessionsOf(username: string): number {
    return this.users.get(username)?.sessions.size ?? 0;
  }

  /** A user someone else made: no marker. */
  createForeignUser(username: string, password: string | null = null): void {
    this.users.set(username, {
      username,
      password,
      privileges: new Set(),
      locked: false,
      sessions: new Set(),
      owned: new Set(),
    });
  }

  /** A DBA drops the user outside the broker. */
  dropByHand(username: string): void {
    const user = this.users.get(username);
    if (!user) return;
    this.terminateAll(user);
    this.users.delete(username);
  }
}

function assertName(username: string): void {
  if (!USERNAME_PATTERN.test(username))
    throw new TargetError(
      'invalid',
      `refusing a user name outside ${String(USERNAME_PATTERN)}: ${JSON.stringify(username)}`,
    );
}

function notOurs(username: string, grantId?: number): TargetError {
  return new TargetError(
    'conflict',
    `user ${username} exists and is not ${grantId === undefined ? "the broker's" : `grant ${grantId}'s`}: left untouched`,
  );
}

/** One MemoryEngine per catalog database (the same one for every call), created on first use. */
export class MemoryEngines implements EngineRegistry {
  private readonly engines = new Map<string, MemoryEngine>();

  constructor(
    private readonly databases: readonly string[],
    private readonly make: (database: string) => MemoryEngine = () => new MemoryEngine(),
  ) {}

  get(database: string): MemoryEngine {
    if (!this.databases.includes(database)) throw new Error(`no in-memory engine for database "${database}"`);
    let engine = this.engines.get(database);
    if (!engine) this.engines.set(database, (engine = this.make(database)));
    return engine;
  }

  all(): Array<{ database: string; engine: DatabaseEngine }> {
    return this.databases.map((database) => ({ database, engine: this.get(database) }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.close()));
  }
}
