/**
 * The PostgreSQL DatabaseEngine. Users are cluster-wide roles created in one transaction (all or nothing) under
 * the per-server mutex and the db-access advisory lock; the password reaches the server only as a SCRAM
 * verifier; revocation is NOLOGIN (committed) → terminate every session → in every database, REASSIGN OWNED to the
 * level's onExpiry role (when its marker names one) and DROP OWNED → DROP ROLE.
 */
import type { DatabaseEntry } from '../../core/catalog.js';
import { serverKey } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import type {
  DatabaseEngine,
  DeleteUserResponse,
  DisableUserResponse,
  EngineCapabilities,
  Logger,
  ManagedUser,
  NewUserRequest,
  NewUserResponse,
  ObservedSession,
  UpdateUserRequest,
} from '../../core/ports.js';
import type { StatementSummary } from '../../core/model.js';
import * as activity from './activity.js';
import { USERNAME_PATTERN } from '../../core/identifiers.js';
import { scrub } from '../scrub.js';
import { ServerQueues } from '../serialize.js';
import {
  asError,
  batchItems,
  batchNames,
  disabledNames,
  newUsersTally,
  oneByOne,
  oneByOneOf,
  type PerUser,
} from '../batch.js';
import { connectGrantSql, logStatementPrivilegeProblem, reassignTargetGrantSql } from './admin-setup.js';
import { runInitialize } from './checks.js';
import {
  Connections,
  DEFAULT_TUNING,
  delay,
  type Exec,
  type LockedOptions,
  type Row,
  type ServerInfo,
  type Tuning,
} from './connection.js';
import { classifyError, errorCode } from './errors.js';
import { encodeMarker, isOurs, parseMarker, type RoleMarker } from './marker.js';
import { scramSha256VerifierAsync } from './scram.js';
import {
  DROP_ROLE,
  DROP_ROLES,
  adoptRoleSql,
  assertPassword,
  auditStatementsSql,
  commentSql,
  createRoleSql,
  disableRoleSql,
  disableRolesSql,
  grantRoleSql,
  grantUserToAdminSql,
  guardRailSql,
  lookupRolesSql,
  ownedCleanupSql,
  renderTemplate,
  setPasswordSql,
  templateProblem,
  userIdent,
  validUntilSql,
} from './sql.js';
import { PG14, PG16 } from './versions.js';

export interface PostgresEngineDeps {
  logger: Logger;
  /** Written into each user's marker; listManagedUsers then returns only this installation's users. */
  installation?: string;
  /** Timeouts and retry policy; the defaults suit production, tests shorten them. */
  tuning?: Partial<Tuning>;
  /** DDL turns per server, shared with the other engines of a registry; absent = this engine's own. */
  queues?: ServerQueues;
}

interface RoleRow {
  marker: RoleMarker | undefined;
}

export class PostgresEngine implements DatabaseEngine {
  readonly engine = 'postgres' as const;
  private readonly conn: Connections;
  private readonly logger: Logger;
  private info: ServerInfo | undefined;
  private closed = false;
  private readonly installation: string | undefined;
  private readonly queues: ServerQueues;

  constructor(
    private readonly db: DatabaseEntry,
    deps: PostgresEngineDeps,
  ) {
    this.logger = deps.logger.child({ engine: 'postgres', database: db.name });
    this.installation = deps.installation;
    this.queues = deps.queues ?? new ServerQueues();
    this.conn = new Connections(db, this.logger, { ...DEFAULT_TUNING, ...deps.tuning });
  }

  async initialize(): Promise<EngineCapabilities> {
    const caps = await runInitialize(
      this.db,
      this.conn,
      (op, fn) => this.ddl(op, [], fn, { rollback: true }),
      this.installation,
    );
    this.info = { versionNum: caps.versionNum, superuser: caps.superuser };
    return caps.capabilities;
  }

  /** One user of newUsers in its own DDL section: the batch's fallback when the batch fails for a reason that is not transient. */
  private async newUser(req: NewUserRequest): Promise<NewUserResponse> {
    checkNewUser(req);
    const verifier = await verifierOf(req.password);
    return this.ddl(
      `create user ${req.username}`,
      [req.password, verifier],
      async (exec, info, found) => {
        const existing = rolesFrom(found).get(req.username);
        if (existing && existing.marker?.grantId !== req.grantId) throw notOurs(req.username, req.grantId);
        const outcome = existing ? 'adopted' : 'created';
        // Generated, quoted statements (templates are single GRANTs without ";"), sent as one round trip.
        await exec(
          [...(outcome === 'created' ? selfGrantSql(info) : []), ...this.userSql(req, verifier, outcome, info)].join(
            ';\n',
          ),
        );
        if (req.level.auditStatements) await this.auditStatements(exec, req, info);
        this.logger.info({ username: req.username, grantId: req.grantId, outcome }, 'PostgreSQL user ready');
        return { outcome };
      },
      { first: lookupRolesSql([req.username]) },
    ); // the lookup rides with BEGIN and the lock
  }

  /**
   * newUser for many users in one DDL section: the verifiers computed concurrently (thread pool) first, then one
   * locked transaction with one lookup (`rolname = ANY`) and every user's statements as one simple-protocol string,
   * one commit. A user whose name is taken by another role is refused alone before anything runs; a statement
   * that fails aborts the whole transaction (nothing is left), and the batch is then redone with newUser per user,
   * so each user gets its own result.
   */
  async newUsers(reqs: readonly NewUserRequest[]): Promise<Map<string, NewUserResponse | Error>> {
    const { items, out } = batchItems<NewUserRequest, NewUserResponse>(reqs, (r) => r.username, checkNewUser);
    if (items.length === 0) return out;
    const verifiers = await Promise.all(items.map((r) => verifierOf(r.password)));
    let made: PerUser<NewUserResponse>;
    try {
      made = await this.ddl(
        `create ${items.length} users`,
        [...items.map((r) => r.password), ...verifiers],
        async (exec, info, found) => {
          const result: PerUser<NewUserResponse> = new Map();
          const roles = rolesFrom(found);
          const statements: string[] = [];
          const audits: string[] = [];
          items.forEach((req, i) => {
            const existing = roles.get(req.username);
            if (existing && existing.marker?.grantId !== req.grantId)
              return void result.set(req.username, notOurs(req.username, req.grantId));
            const outcome = existing ? 'adopted' : 'created';
            try {
              statements.push(...this.userSql(req, verifiers[i], outcome, info));
              if (req.level.auditStatements) audits.push(auditStatementsSql(req.username));
              result.set(req.username, { outcome });
            } catch (err) {
              result.set(req.username, asError(err));
            }
          });
          const creates = [...result.values()].some((r) => !(r instanceof Error) && r.outcome === 'created');
          if (statements.length > 0)
            await exec([...(creates ? selfGrantSql(info) : []), ...statements, ...audits].join(';\n'));
          return result;
        },
        { first: lookupRolesSql(items.map((r) => r.username)) },
      );
    } catch (err) {
      if (classifyError(err) === 'retryable') throw err;
      this.logger.warn(
        { users: items.length, code: errorCode(err) },
        'batch create failed; creating one user at a time',
      );
      made = await oneByOneOf(
        items,
        (r) => r.username,
        new Map(),
        (r) => this.newUser(r),
      );
    }
    for (const [u, res] of made) out.set(u, res);
    this.logger.info(newUsersTally(made), 'PostgreSQL users ready');
    return out;
  }

  async updateUser(req: UpdateUserRequest): Promise<void> {
    userIdent(req.username);
    if (req.newPassword !== undefined) assertPassword(req.newPassword);
    const verifier = req.newPassword === undefined ? undefined : await scramSha256VerifierAsync(req.newPassword);
    await this.ddl(`update user ${req.username}`, [req.newPassword, verifier], async (exec) => {
      const existing = await lookupRole(exec, req.username);
      if (!existing) throw new TargetError('permanent', `user ${req.username} does not exist on ${this.db.name}`);
      if (existing.marker?.grantId !== req.grantId) throw notOurs(req.username, req.grantId);
      if (verifier !== undefined) await exec(setPasswordSql(req.username, verifier));
      if (req.newExpiresAt !== undefined) {
        await exec(validUntilSql(req.username, req.newExpiresAt));
        // The onExpiry role stays the one recorded at creation.
        await exec(
          commentSql(
            req.username,
            encodeMarker(req.grantId, req.newExpiresAt, this.installation, existing.marker?.reassignTo),
          ),
        );
      }
    });
  }

  /** One user of disableUsers in its own DDL section (the batch's fallback). */
  private async disableUser(username: string): Promise<DisableUserResponse> {
    userIdent(username);
    // NOLOGIN (and an expired VALID UNTIL) is committed before any session is touched: no reconnect race.
    const existed = await this.ddl(`disable user ${username}`, [], async (exec) => {
      const existing = await lookupRole(exec, username);
      if (!existing) return false;
      if (!existing.marker) throw notOurs(username);
      await exec(disableRoleSql(username));
      return true;
    });
    if (!existed) return { existed: false, sessionsTerminated: 0 };
    const sessionsTerminated = await this.terminateSessions(username);
    this.logger.info({ username, sessionsTerminated }, 'PostgreSQL user disabled');
    return { existed: true, sessionsTerminated };
  }

  /** One user of deleteUsers in its own DDL section (the batch's fallback). */
  private async deleteUser(username: string): Promise<DeleteUserResponse> {
    userIdent(username);
    // Callers disable first; doing it again is cheap and means a role is never dropped under a live session
    // (DROP ROLE does not end sessions). It also refuses a role that is not ours.
    await this.disableUser(username);
    const op = `delete user ${username}`;
    return this.queues.serialized(serverKey(this.db), () =>
      this.conn.retrying(op, [], async () => {
        const existing = await this.conn.withClient((exec) => lookupRole(exec, username));
        if (!existing) return { outcome: 'already_absent' as const };
        if (!existing.marker) throw notOurs(username);
        // Objects, privileges and default privileges live per database: in each one that has any, REASSIGN OWNED
        // to the marker's onExpiry role (if any) and DROP OWNED. The role comes from the marker read under the lock.
        for (const database of await this.dependentDatabases(username)) {
          await this.inOtherDatabase(database, username, async (x) => {
            const role = await lookupRole(x, username);
            if (role?.marker) await this.cleanupOwned(x, [{ username, reassignTo: role.marker.reassignTo }]);
          });
        }
        const outcome = await this.conn.withClient((exec) =>
          this.conn.lockedTransaction(exec, async (x) => {
            const role = await lookupRole(x, username);
            if (!role) return 'already_absent' as const;
            if (!role.marker) throw notOurs(username);
            await this.cleanupOwned(x, [{ username, reassignTo: role.marker.reassignTo }]);
            await x(DROP_ROLE(username));
            return 'dropped' as const;
          }),
        );
        this.logger.info({ username, outcome }, 'PostgreSQL user deleted');
        return { outcome };
      }),
    );
  }

  /**
   * disableUser for many users in one DDL section: one lookup (`rolname = ANY`), NOLOGIN + expired VALID UNTIL for
   * all of ours in one statement string, one commit, then one session sweep for all of them. A failure of the
   * batch that is not transient falls back to disableUser per user, so one bad user cannot block the others.
   */
  async disableUsers(usernames: readonly string[]): Promise<Map<string, DisableUserResponse | Error>> {
    const { names, out } = batchNames<DisableUserResponse>(usernames, userIdent);
    if (names.length === 0) return out;
    let locked: string[];
    try {
      const found = await this.ddl(`disable ${names.length} users`, [], async (exec) => {
        const roles = await lookupRoles(exec, names);
        const toLock = names.filter((u) => roles.get(u)?.marker !== undefined);
        if (toLock.length > 0) await exec(disableRolesSql(toLock));
        return roles;
      });
      locked = [];
      for (const u of names) {
        const role = found.get(u);
        if (!role) out.set(u, { existed: false, sessionsTerminated: 0 });
        else if (!role.marker) out.set(u, notOurs(u));
        else locked.push(u);
      }
    } catch (err) {
      if (classifyError(err) === 'retryable') throw err;
      this.logger.warn(
        { users: names.length, code: errorCode(err) },
        'batch disable failed; disabling one user at a time',
      );
      return oneByOne(names, out, (u) => this.disableUser(u));
    }
    if (locked.length === 0) return out;
    let counts: Map<string, number | Error>;
    try {
      counts = await this.terminateSessionsOf(locked);
    } catch (err) {
      if (classifyError(err) === 'retryable') throw err;
      this.logger.warn(
        { users: locked.length, code: errorCode(err) },
        'batch session sweep failed; one user at a time',
      );
      counts = new Map();
      for (const u of locked) counts.set(u, await this.terminateSessions(u).catch((e: unknown) => asError(e)));
    }
    let sessionsTerminated = 0;
    for (const u of locked) {
      const n = counts.get(u) ?? 0;
      if (n instanceof Error) out.set(u, n);
      else {
        out.set(u, { existed: true, sessionsTerminated: n });
        sessionsTerminated += n;
      }
    }
    this.logger.info({ users: locked.length, sessionsTerminated }, 'PostgreSQL users disabled');
    return out;
  }

  /**
   * deleteUser for many users: disableUsers first (never drop under a live session; refuses roles not ours), then
   * in one serialised section DROP OWNED BY all of them in each database where any has objects or privileges, and
   * one locked transaction that re-checks them and runs DROP OWNED BY … ; DROP ROLE … for those still present.
   */
  async deleteUsers(usernames: readonly string[]): Promise<Map<string, DeleteUserResponse | Error>> {
    if (usernames.length === 0) return new Map();
    const { names, out } = disabledNames<DeleteUserResponse>(await this.disableUsers(usernames));
    if (names.length === 0) return out;
    let outcomes: Map<string, DeleteUserResponse | Error>;
    try {
      outcomes = await this.queues.serialized(serverKey(this.db), () =>
        this.conn.retrying(`delete ${names.length} users`, [], async () => {
          const result = new Map<string, DeleteUserResponse | Error>();
          const roles = await this.conn.withClient((exec) => lookupRoles(exec, names));
          const present: string[] = [];
          for (const u of names) {
            const role = roles.get(u);
            if (!role) result.set(u, { outcome: 'already_absent' });
            else if (!role.marker) result.set(u, notOurs(u));
            else present.push(u);
          }
          if (present.length === 0) return result;
          for (const [database, owners] of await this.dependentDatabasesOf(present)) {
            await this.inOtherDatabase(database, `${owners.length} user(s)`, async (x) => {
              // Re-read under the lock: a role dropped meanwhile would make DROP OWNED BY fail for all.
              const still = await lookupRoles(x, owners);
              const mine = owners.filter((u) => still.get(u)?.marker !== undefined);
              if (mine.length > 0)
                await this.cleanupOwned(
                  x,
                  mine.map((u) => ({ username: u, reassignTo: still.get(u)!.marker!.reassignTo })),
                );
            });
          }
          const dropped = await this.conn.withClient((exec) =>
            this.conn.lockedTransaction(exec, async (x) => {
              const still = await lookupRoles(x, present);
              const mine = present.filter((u) => still.get(u)?.marker !== undefined);
              for (const u of present) {
                const role = still.get(u);
                if (!role) result.set(u, { outcome: 'already_absent' });
                else if (!role.marker) result.set(u, notOurs(u));
              }
              // One round trip: the statements in one simple-protocol query, inside this transaction.
              if (mine.length > 0)
                await this.cleanupOwned(
                  x,
                  mine.map((u) => ({ username: u, reassignTo: still.get(u)!.marker!.reassignTo })),
                  DROP_ROLES(mine),
                );
              return mine;
            }),
          );
          for (const u of dropped) result.set(u, { outcome: 'dropped' });
          return result;
        }),
      );
    } catch (err) {
      if (classifyError(err) === 'retryable') throw err;
      this.logger.warn(
        { users: names.length, code: errorCode(err) },
        'batch delete failed; deleting one user at a time',
      );
      return oneByOne(names, out, (u) => this.deleteUser(u));
    }
    for (const u of names) out.set(u, outcomes.get(u) ?? { outcome: 'already_absent' });
    this.logger.info(
      {
        users: names.length,
        dropped: [...outcomes.values()].filter((r) => !(r instanceof Error) && r.outcome === 'dropped').length,
      },
      'PostgreSQL users deleted',
    );
    return out;
  }

  async listManagedUsers(): Promise<ManagedUser[]> {
    const rows = await this.conn.retrying('list managed users', [], () =>
      this.conn.withClient((exec) =>
        exec(
          `SELECT r.rolname AS username, pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment,
                  (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.usename = r.rolname)::int AS sessions
             FROM pg_catalog.pg_roles r
            WHERE r.rolname LIKE 'jit!_%' ESCAPE '!'
            ORDER BY r.rolname`,
        ),
      ),
    );
    const out: ManagedUser[] = [];
    for (const row of rows) {
      const username = String(row.username);
      const marker = parseMarker(row.comment as string | null);
      if (!marker || !USERNAME_PATTERN.test(username) || !isOurs(marker, this.installation)) continue;
      out.push({
        username,
        grantId: marker.grantId,
        ...(marker.expiresAt !== undefined ? { expiresAt: marker.expiresAt } : {}),
        sessions: Number(row.sessions),
      });
    }
    return out;
  }

  observeSessions(usernames: readonly string[]): Promise<ObservedSession[]> {
    return this.conn.retrying('observe sessions', [], () =>
      this.conn.withClient((exec) => activity.observeSessions(exec, usernames)),
    );
  }

  statementSummaries(usernames: readonly string[]): Promise<Map<string, StatementSummary>> {
    return this.conn.retrying('read statement statistics', [], () =>
      this.conn.withClient((exec) => activity.statementSummaries(exec, usernames, this.db.name)),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.conn.close();
  }

  // -------------------------------------------------------------------------------------------------------------

  /** One user's statements after the lookup: the role created or (same grant) converged, its marker, access and
   *  guard-rails. Throws TargetError('invalid') for what the catalog got wrong, before anything is sent. */
  private userSql(
    req: NewUserRequest,
    verifier: string | undefined,
    outcome: NewUserResponse['outcome'],
    info: ServerInfo,
  ): string[] {
    const role = {
      username: req.username,
      verifier,
      expiresAt: req.expiresAt,
      connectionLimit: req.level.guardRails.connectionLimit,
    };
    const statements = [outcome === 'adopted' ? adoptRoleSql(role) : createRoleSql(role)];
    if (info.versionNum < PG16 && !info.superuser) statements.push(grantUserToAdminSql(req.username));
    const onExpiry = req.level.onExpiry;
    const reassignTo = onExpiry !== undefined && onExpiry !== 'drop' ? onExpiry.reassignTo : undefined;
    statements.push(commentSql(req.username, encodeMarker(req.grantId, req.expiresAt, this.installation, reassignTo)));
    for (const r of req.level.roles) statements.push(grantRoleSql(r, req.username));
    for (const t of req.level.grants) statements.push(renderTemplate(t, req.username));
    statements.push(...guardRailSql(req.username, req.level.guardRails));
    return statements;
  }

  /**
   * auditStatementsSql in newUser's transaction, its own statement so that a refusal names the missing privilege:
   * nothing of the user is committed without its statement logging.
   */
  private async auditStatements(exec: Exec, req: NewUserRequest, info: ServerInfo): Promise<void> {
    try {
      await exec(auditStatementsSql(req.username));
    } catch (err) {
      if (errorCode(err) !== '42501') throw err;
      throw new TargetError(
        'permission',
        `cannot turn on statement logging for ${req.username} (level ${req.level.name} has auditStatements): ${logStatementPrivilegeProblem(this.db.admin.user, info)}`,
        '42501',
      );
    }
  }

  /**
   * ownedCleanupSql (REASSIGN OWNED to each onExpiry role, then DROP OWNED) and `then`, as one simple-protocol query
   * in the caller's transaction. A receiving role that is missing or whose privileges the admin lacks fails the
   * revocation with a TargetError naming the fix, rather than dropping objects the catalog said to keep: the user
   * is already locked and its sessions ended, so it can wait for the operator.
   */
  private async cleanupOwned(
    x: Exec,
    users: Array<{ username: string; reassignTo?: string | undefined }>,
    then?: string,
  ): Promise<void> {
    const statements = ownedCleanupSql(users);
    try {
      await x([...statements, ...(then ? [then] : [])].join(';\n'));
    } catch (err) {
      const code = errorCode(err);
      const roles = [...new Set(users.flatMap((u) => (u.reassignTo === undefined ? [] : [u.reassignTo])))];
      if (roles.length === 0 || (code !== '42704' && code !== '42501')) throw err;
      const who = users.map((u) => u.username).join(', ');
      const said = scrub(err instanceof Error ? err.message : String(err), this.conn.secrets());
      const info = await this.serverInfo();
      throw new TargetError(
        code === '42704' ? 'invalid' : 'permission',
        code === '42704'
          ? `cannot hand what ${who} owns to ${roles.join(', ')} (onExpiry reassignTo): ${said}; create the role (CREATE ROLE … NOLOGIN). The user stays locked until then`
          : `cannot hand what ${who} owns to ${roles.join(', ')} (onExpiry reassignTo): ${said}; the admin needs the privileges of that role (${roles
              .map((r) => reassignTargetGrantSql(r, this.db.admin.user, info.versionNum))
              .join(
                '; ',
              )}) and the role CREATE on each schema the user created functions or types in (\`db-access check\` names them). The user stays locked until then`,
        code,
      );
    }
  }

  /** DDL: per-server mutex → retries → one locked transaction (`first`: see Connections.lockedTransaction). */
  private ddl<T>(
    op: string,
    secrets: ReadonlyArray<string | undefined>,
    fn: (exec: Exec, info: ServerInfo, firstRows: Row[]) => Promise<T>,
    opts: LockedOptions = {},
  ): Promise<T> {
    return this.queues.serialized(serverKey(this.db), () =>
      this.conn.retrying(op, secrets, async () => {
        const info = await this.serverInfo();
        return this.conn.withClient((exec) =>
          this.conn.lockedTransaction(exec, (x, firstRows) => fn(x, info, firstRows), opts),
        );
      }),
    );
  }

  private async serverInfo(): Promise<ServerInfo> {
    if (this.info) return this.info;
    const [row] = await this.conn.withClient((exec) =>
      exec(
        `SELECT current_setting('server_version_num')::int AS version_num, r.rolsuper
           FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
      ),
    );
    this.info = { versionNum: Number(row?.version_num), superuser: row?.rolsuper === true };
    return this.info;
  }

  /** Databases (other than ours) where the role owns objects or holds privileges: pg_shdepend is shared. */
  private async dependentDatabases(username: string): Promise<string[]> {
    const rows = await this.conn.withClient((exec) =>
      exec(
        `SELECT DISTINCT d.datname
           FROM pg_catalog.pg_shdepend s
           JOIN pg_catalog.pg_database d ON d.oid = s.dbid
          WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
            AND s.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
            AND d.datallowconn
            AND d.datname <> current_database()
          ORDER BY 1`,
        [username],
      ),
    );
    return rows.map((r) => String(r.datname));
  }

  /**
   * `fn` in a locked transaction in another database of the server (DROP OWNED there). A database dropped meanwhile
   * has nothing left; an admin that may not connect there gets the GRANT that fixes it in the error.
   */
  private async inOtherDatabase(database: string, who: string, fn: (x: Exec) => Promise<void>): Promise<void> {
    await this.conn
      .withDatabase(database, (exec) => this.conn.lockedTransaction(exec, fn))
      .catch((err: unknown) => {
        if (err instanceof TargetError) throw err; // already explained (e.g. cleanupOwned's onExpiry role)
        const code = errorCode(err);
        if (code === '3D000') return;
        if (code === '42501' || code === '28000')
          throw new TargetError(
            'permission',
            `cannot clean up ${who} in database ${database}: the admin may not connect there (${connectGrantSql(database, this.db.admin.user)})`,
            code,
          );
        throw err;
      });
  }

  /** dependentDatabases for many roles in one query: each database with the roles (of `usernames`) that have
   *  objects or privileges there. */
  private async dependentDatabasesOf(usernames: readonly string[]): Promise<Array<[string, string[]]>> {
    const rows = await this.conn.withClient((exec) =>
      exec(
        `SELECT d.datname, array_agg(DISTINCT r.rolname::text ORDER BY r.rolname::text) AS roles
           FROM pg_catalog.pg_shdepend s
           JOIN pg_catalog.pg_database d ON d.oid = s.dbid
           JOIN pg_catalog.pg_roles r ON r.oid = s.refobjid
          WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
            AND r.rolname = ANY($1::text[])
            AND d.datallowconn
            AND d.datname <> current_database()
          GROUP BY d.datname
          ORDER BY 1`,
        [usernames],
      ),
    );
    return rows.map((r) => [String(r.datname), (r.roles as string[]).filter((u) => usernames.includes(u))]);
  }

  /**
   * terminateSessions for many users at once. Each round signals every backend of every user in one statement
   * WITHOUT waiting (the PG14+ timeout form waits ~100 ms per backend, one after the other: 10 sessions took 0.9 s
   * here), then counts what is left per user; stragglers, already signalled, are then waited for with the timeout
   * form, so those waits overlap. Users whose sessions outlive the deadline get a retryable error of their own.
   */
  private async terminateSessionsOf(usernames: readonly string[]): Promise<Map<string, number | Error>> {
    const info = await this.conn.retrying('server info', [], () => this.serverInfo());
    const deadline = Date.now() + this.conn.tuning.terminateDeadlineMs;
    const terminated = new Map<string, Set<number>>(usernames.map((u) => [u, new Set<number>()]));
    const sweep = (users: readonly string[], wait: boolean) =>
      this.conn.retrying(`terminate sessions of ${users.length} users`, [], () =>
        this.conn.withClient((exec) =>
          exec(
            `SELECT a.usename, a.pid, ${wait ? 'pg_catalog.pg_terminate_backend(a.pid, 3000)' : 'pg_catalog.pg_terminate_backend(a.pid)'} AS ok
               FROM pg_catalog.pg_stat_activity a
              WHERE a.usename = ANY($1::text[]) AND a.pid <> pg_catalog.pg_backend_pid()`,
            [users],
          ),
        ),
      );
    const record = (rows: Array<Record<string, unknown>>) => {
      for (const r of rows) if (r.ok === true) terminated.get(String(r.usename))?.add(Number(r.pid));
    };
    record(await sweep(usernames, false));
    for (;;) {
      const left = await this.conn.retrying(`count sessions of ${usernames.length} users`, [], () =>
        this.conn.withClient((exec) =>
          exec(
            `SELECT usename, count(*)::int AS n FROM pg_catalog.pg_stat_activity
              WHERE usename = ANY($1::text[]) AND pid <> pg_catalog.pg_backend_pid() GROUP BY usename`,
            [usernames],
          ),
        ),
      );
      const remaining = new Map(left.map((r) => [String(r.usename), Number(r.n)]));
      if (remaining.size === 0 || Date.now() > deadline) {
        const out = new Map<string, number | Error>();
        for (const u of usernames) {
          const n = remaining.get(u);
          out.set(
            u,
            n === undefined
              ? (terminated.get(u)?.size ?? 0)
              : new TargetError('retryable', `${n} session(s) of ${u} still open after terminating them; will retry`),
          );
        }
        return out;
      }
      if (info.versionNum >= PG14) record(await sweep([...remaining.keys()], true));
      else {
        await delay(50);
        record(await sweep([...remaining.keys()], false));
      }
    }
  }

  /** Terminates every backend of the user until pg_stat_activity shows none; returns how many it ended. */
  private async terminateSessions(username: string): Promise<number> {
    const info = await this.conn.retrying('server info', [], () => this.serverInfo());
    // PG14+: wait (up to 3 s) for each backend to actually exit.
    const terminate =
      info.versionNum >= PG14
        ? 'pg_catalog.pg_terminate_backend(a.pid, 3000)'
        : 'pg_catalog.pg_terminate_backend(a.pid)';
    const deadline = Date.now() + this.conn.tuning.terminateDeadlineMs;
    const terminated = new Set<number>();
    for (;;) {
      const rows = await this.conn.retrying(`terminate sessions of ${username}`, [], () =>
        this.conn.withClient((exec) =>
          exec(
            `SELECT a.pid, ${terminate} AS ok FROM pg_catalog.pg_stat_activity a
              WHERE a.usename = $1 AND a.pid <> pg_catalog.pg_backend_pid()`,
            [username],
          ),
        ),
      );
      for (const r of rows) if (r.ok === true) terminated.add(Number(r.pid));
      const [left] = await this.conn.retrying(`count sessions of ${username}`, [], () =>
        this.conn.withClient((exec) =>
          exec('SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE usename = $1', [username]),
        ),
      );
      const remaining = Number(left?.n ?? 0);
      if (remaining === 0) return terminated.size;
      if (Date.now() > deadline)
        throw new TargetError(
          'retryable',
          `${remaining} session(s) of ${username} still open after terminating them; will retry`,
        );
      await delay(50);
    }
  }
}

async function lookupRole(exec: Exec, username: string): Promise<RoleRow | undefined> {
  const [row] = await exec(
    `SELECT pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
    [username],
  );
  return row ? { marker: parseMarker(row.comment as string | null) } : undefined;
}

/** lookupRole for many names (ours: userIdent's allow-list) in one query; names with no role are absent from the map. */
async function lookupRoles(exec: Exec, usernames: readonly string[]): Promise<Map<string, RoleRow>> {
  return rolesFrom(await exec(lookupRolesSql(usernames)));
}

/** lookupRoles' answer (or lookupRolesSql's rows) by name. */
function rolesFrom(rows: readonly Row[]): Map<string, RoleRow> {
  return new Map(rows.map((row) => [String(row.rolname), { marker: parseMarker(row.comment as string | null) }]));
}

/** What newUser refuses before any DDL: the name, the password's shape, the level's templates. */
function checkNewUser(req: NewUserRequest): void {
  userIdent(req.username);
  if (req.password !== undefined) assertPassword(req.password);
  for (const t of req.level.grants) {
    const problem = templateProblem(t);
    if (problem) throw new TargetError('invalid', `access level ${req.level.name}: ${problem}: ${t}`);
  }
}

/** The SCRAM verifier sent instead of the password; none for a user created with no usable password. */
function verifierOf(password: string | undefined): Promise<string | undefined> {
  return password === undefined ? Promise.resolve(undefined) : scramSha256VerifierAsync(password);
}

/** PG16+: the creator becomes an INHERIT+SET member of each role it creates (session kill, DROP OWNED). */
function selfGrantSql(info: ServerInfo): string[] {
  return info.versionNum >= PG16 ? [`SET LOCAL createrole_self_grant = 'set, inherit'`] : [];
}

/** A role of that name exists without a db-access marker (`grantId` undefined) or with another grant's. */
function notOurs(username: string, grantId?: number): TargetError {
  const marker = grantId === undefined ? 'a db-access marker' : `the db-access marker of grant ${grantId}`;
  return new TargetError('conflict', `a role named ${username} exists and does not carry ${marker}; left untouched`);
}
