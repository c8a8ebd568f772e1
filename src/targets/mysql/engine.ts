/**
 * The MySQL 8 / MariaDB 10.11 DatabaseEngine (contract: src/core/ports.ts). Accounts are `'jit_…'@'%'`; the
 * broker's marker is a row in `<brokerSchema>.managed_users`, written before CREATE USER so a crash can leave a
 * marker without a user (harmless, swept) but never a user of ours without a marker. A name that exists with no
 * marker, or with another grant's marker, is someone else's: refused with 'conflict' and never touched.
 */
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { AccessLevel, DatabaseEntry } from '../../core/catalog.js';
import { groupBy } from '../../core/group-by.js';
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
import { accountTable, adminAccount } from './admin-setup.js';
import { addToAuditList, auditListProblem, refuseOnMysql, removeFromAuditList } from './statement-audit.js';
import { inspectServer } from './checks.js';
import { ERRNO, isErrno, isFatal, isUnknownThread, toTargetError, type Flavour } from './errors.js';
import { fetchServerInfo, type ServerInfo } from './server-info.js';
import { adminPassword, adminSecrets } from '../admin-password.js';
import { certificateError, plaintextPasswordRefusal, tlsPlan, type TlsPlan } from '../tls.js';
import { HANDSHAKE_SSL_ERROR, probeTlsFailure, verifyFullByIpProblem } from './tls-diagnosis.js';
import { createAdminPool, delay, rows, run, withDdlLock, type Queryable } from './session.js';
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
import {
  DEFAULT_ROLE_PROCEDURE,
  MARKER_TABLE,
  account,
  assertJitUser,
  assertSchemaName,
  bundleRoleName,
  convergeUserSql,
  createExpiryEventSql,
  EXPIRY_EVENT,
  createUserSql,
  createUsersSql,
  dropExpiryEventSql,
  legacyExpiryEventName,
  inSchema,
  markerTableDdl,
  addMarkerInstallationSql,
  parseUtcDatetime,
  q,
  renderTemplate,
  resourceOptions,
  role,
  utcDatetime,
} from './sql.js';

/** How long disableUser keeps ending sessions before it reports a retryable failure. */
const KILL_DEADLINE_MS = 10_000;

interface Marker {
  grantId: number;
  expiresAt?: number;
}

/** A newUser request that passed the up-front checks, with its access statements. */
interface Planned {
  req: NewUserRequest;
  access: ReturnType<typeof accessStatements>;
}

export class MysqlEngine implements DatabaseEngine {
  readonly engine = 'mysql' as const;
  private readonly pool: Pool;
  private readonly log: Logger;
  /** The catalog's `tls`, resolved once (src/targets/tls.ts). */
  private readonly tls: TlsPlan;
  private server?: Promise<ServerInfo>;
  private markerTable?: Promise<void>;
  private expiryEventMade = false;
  /** For classifying errors that happen before the flavour is known (network, login: same numbers on both). */
  private lastFlavour: Flavour = 'mysql';
  private readonly sampler = new activity.SessionSampler();

  constructor(
    private readonly db: DatabaseEntry,
    logger: Logger,
    /** This installation's id, written into its markers; undefined = every marker counts as ours (inspection). */
    private readonly installation?: string,
    /** DDL turns per server, shared with the other engines of a registry. */
    private readonly queues: ServerQueues = new ServerQueues(),
  ) {
    assertSchemaName(db.brokerSchema);
    this.log = logger.child({ database: db.name, engine: 'mysql' });
    this.tls = tlsPlan(db);
    this.pool = createAdminPool(db, this.log, this.tls);
  }

  async initialize(): Promise<EngineCapabilities> {
    return this.guard('initialize', [], (server) =>
      inspectServer({ pool: this.pool, db: this.db, server, ensureMarkerTable: () => this.ensureMarkerTable() }),
    );
  }

  /** One user of newUsers in its own DDL section: the batch's fallback when the batch fails for a reason that is not transient. */
  private async newUser(req: NewUserRequest): Promise<NewUserResponse> {
    this.refusePlaintextPassword();
    return this.guard('newUser', [req.password], async (server) => {
      assertJitUser(req.username);
      // Everything the catalog could get wrong is refused before the first write.
      const access = accessStatements(server.flavour, this.db.brokerSchema, req.username, req.level);
      await this.ensureMarkerTable();
      const made = await withDdlLock(this.queues, this.pool, this.db, (conn) =>
        this.provision(conn, server.flavour, [{ req, access }]),
      );
      const res = made.get(req.username)!;
      if (res instanceof Error) throw res;
      this.log.info({ grant_id: req.grantId, user: req.username, outcome: res.outcome }, 'mysql user provisioned');
      return res;
    });
  }

  /**
   * newUser for many users under one GET_LOCK: one marker read and one account lookup for all, the new markers in
   * one multi-row INSERT, the accounts several per CREATE USER and (MariaDB) their role one GRANT per role, then per
   * user the rest of its access and its backstop event. A user that fails is undone
   * as newUser undoes it and gets its error; the others proceed. A failure of the batch itself that is not transient
   * falls back to newUser per user.
   */
  async newUsers(reqs: readonly NewUserRequest[]): Promise<Map<string, NewUserResponse | Error>> {
    const { items, out } = batchItems<NewUserRequest, NewUserResponse>(
      reqs,
      (r) => r.username,
      (r) => assertJitUser(r.username),
    );
    if (items.length === 0) return out;
    const refusal = plaintextPasswordRefusal(this.db);
    if (refusal) {
      for (const r of items) out.set(r.username, refusal);
      return out;
    }
    const passwords = items.map((r) => r.password);
    let made: PerUser<NewUserResponse>;
    try {
      made = await this.guard('newUsers', passwords, async (server) => {
        const planned: Planned[] = [];
        const refused: PerUser<NewUserResponse> = new Map();
        for (const req of items) {
          try {
            planned.push({
              req,
              access: accessStatements(server.flavour, this.db.brokerSchema, req.username, req.level),
            });
          } catch (err) {
            refused.set(req.username, toTargetError(err, server.flavour, passwords));
          }
        }
        if (planned.length === 0) return refused;
        await this.ensureMarkerTable();
        const result = await withDdlLock(this.queues, this.pool, this.db, (conn) =>
          this.provision(conn, server.flavour, planned),
        );
        return new Map([...refused, ...result]);
      });
    } catch (err) {
      if (err instanceof TargetError && err.kind === 'retryable') throw err;
      made = await oneByOneOf(
        items,
        (r) => r.username,
        new Map(),
        (r) => this.newUser(r),
      );
    }
    for (const [u, res] of made) out.set(u, res);
    this.log.info(newUsersTally(made), 'mysql users provisioned');
    return out;
  }

  async updateUser(req: UpdateUserRequest): Promise<void> {
    if (req.newPassword !== undefined) this.refusePlaintextPassword();
    return this.guard('updateUser', [req.newPassword], async () => {
      const { username: user, grantId } = req;
      assertJitUser(user);
      await this.ensureMarkerTable();
      await withDdlLock(this.queues, this.pool, this.db, async (conn) => {
        const marker = await this.readMarker(conn, user);
        if (!marker || marker.grantId !== grantId) {
          throw new TargetError(
            'conflict',
            `${user} is not managed for grant ${grantId} (marker: ${marker ? `grant ${marker.grantId}` : 'none'})`,
          );
        }
        if (req.newPassword !== undefined) {
          try {
            await run(conn, `ALTER USER ${account(user)} IDENTIFIED BY ${q(req.newPassword)}`);
          } catch (err) {
            if (isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED)) {
              throw new TargetError(
                'permanent',
                `${user} no longer exists on the server (dropped by hand or by its expiry event)`,
                String(ERRNO.ACCOUNT_OPERATION_FAILED),
              );
            }
            throw err;
          }
        }
        if (req.newExpiresAt !== undefined) {
          // The marker is the backstop the schema's expiry event reads. A one-shot event of an earlier version would
          // fire at the old expiry: it goes, scheduler on or off.
          await run(conn, dropExpiryEventSql(this.db.brokerSchema, user));
          await run(conn, `UPDATE ${this.markerTableName()} SET expires_at = ? WHERE \`user\` = ?`, [
            utcDatetime(req.newExpiresAt),
            user,
          ]);
        }
      });
      this.log.info(
        { grant_id: grantId, user, rotated: req.newPassword !== undefined, moved: req.newExpiresAt !== undefined },
        'mysql user updated',
      );
    });
  }

  /** One user of disableUsers in its own DDL section (the batch's fallback). */
  private async disableUser(username: string): Promise<DisableUserResponse> {
    return this.guard('disableUser', [], async (server) => {
      assertJitUser(username);
      await this.ensureMarkerTable();
      const existed = await withDdlLock(this.queues, this.pool, this.db, async (conn) => {
        if (!(await this.readMarker(conn, username))) {
          if ((await this.accountExists(conn, username, server.flavour)) === true) throw notOurs(username);
          return undefined; // never ours, or fully deleted: nothing to do
        }
        try {
          // Logins first: existing connections survive ACCOUNT LOCK, so they are ended next.
          await run(conn, `ALTER USER ${account(username)} ACCOUNT LOCK`);
          return true;
        } catch (err) {
          if (isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED)) return false; // dropped already; sessions may survive DROP USER
          throw err;
        }
      });
      if (existed === undefined) return { existed: false, sessionsTerminated: 0 };
      const sessionsTerminated = await this.killSessions(username);
      this.log.info({ user: username, existed, sessions_terminated: sessionsTerminated }, 'mysql user disabled');
      return { existed, sessionsTerminated };
    });
  }

  /** One user of deleteUsers in its own DDL section (the batch's fallback). */
  private async deleteUser(username: string): Promise<DeleteUserResponse> {
    return this.guard('deleteUser', [], async (server) => {
      assertJitUser(username);
      await this.ensureMarkerTable();
      const outcome = await withDdlLock(
        this.queues,
        this.pool,
        this.db,
        async (conn): Promise<DeleteUserResponse['outcome']> => {
          if (!(await this.readMarker(conn, username))) {
            if ((await this.accountExists(conn, username, server.flavour)) === true) throw notOurs(username);
            return 'already_absent';
          }
          let result: DeleteUserResponse['outcome'] = 'dropped';
          try {
            await run(conn, `DROP USER ${account(username)}`);
          } catch (err) {
            if (isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED)) result = 'already_absent';
            else if (server.flavour === 'mysql' && isErrno(err, ERRNO.MYSQL_USER_IS_DEFINER)) {
              // MySQL ≥ 8.0.22 (untested): the user is the DEFINER of a stored object. It stays locked, with its
              // marker, until a human drops those objects. MariaDB drops the user and leaves the objects orphaned.
              throw new TargetError(
                'permanent',
                `${username} is the DEFINER of stored objects: left locked; drop its objects, then retry`,
                String(ERRNO.MYSQL_USER_IS_DEFINER),
              );
            } else throw err;
          }
          // The marker goes last: until then a retry or the sweeper still finds what is left.
          if (server.flavour === 'mariadb') await run(conn, `DROP ROLE IF EXISTS ${role(bundleRoleName(username))}`);
          await run(conn, dropExpiryEventSql(this.db.brokerSchema, username));
          await this.unlistAudited(conn, [username]);
          await run(conn, `DELETE FROM ${this.markerTableName()} WHERE \`user\` = ?`, [username]);
          return result;
        },
      );
      this.log.info({ user: username, outcome }, 'mysql user deleted');
      return { outcome };
    });
  }

  /**
   * disableUser for many users under one GET_LOCK: one marker read and one account lookup for all, one
   * `ALTER USER a, b, … ACCOUNT LOCK` (both servers take a list), then one processlist sweep for all of them. A
   * failure of the batch that is not transient falls back to disableUser per user.
   */
  async disableUsers(usernames: readonly string[]): Promise<Map<string, DisableUserResponse | Error>> {
    const { names, out } = batchNames<DisableUserResponse>(usernames, assertJitUser);
    if (names.length === 0) return out;
    let plan: Map<string, 'locked' | 'gone' | 'never' | 'foreign'>;
    try {
      plan = await this.guard('disableUsers', [], async (server) => {
        await this.ensureMarkerTable();
        return withDdlLock(this.queues, this.pool, this.db, async (conn) => {
          const marked = await this.readMarkers(conn, names);
          const accounts = await this.inAccountTable(conn, names, '%', server.flavour);
          const result = new Map<string, 'locked' | 'gone' | 'never' | 'foreign'>();
          const toLock: string[] = [];
          for (const u of names) {
            if (!marked.has(u)) result.set(u, accounts?.has(u) === true ? 'foreign' : 'never');
            else if (accounts && !accounts.has(u))
              result.set(u, 'gone'); // dropped already; sessions may survive DROP USER
            else toLock.push(u);
          }
          if (toLock.length > 0) {
            try {
              // Logins first: existing connections survive ACCOUNT LOCK, so they are ended next.
              await run(conn, `ALTER USER ${toLock.map(account).join(', ')} ACCOUNT LOCK`);
              for (const u of toLock) result.set(u, 'locked');
            } catch (err) {
              if (!isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED)) throw err;
              // Some account is gone (MariaDB locked the others anyway; locking again is harmless): find which.
              for (const u of toLock) {
                try {
                  await run(conn, `ALTER USER ${account(u)} ACCOUNT LOCK`);
                  result.set(u, 'locked');
                } catch (e) {
                  if (!isErrno(e, ERRNO.ACCOUNT_OPERATION_FAILED)) throw e;
                  result.set(u, 'gone');
                }
              }
            }
          }
          return result;
        });
      });
    } catch (err) {
      if (err instanceof TargetError && err.kind === 'retryable') throw err;
      return oneByOne(names, out, (u) => this.disableUser(u));
    }
    const toKill = names.filter((u) => plan.get(u) === 'locked' || plan.get(u) === 'gone');
    let counts = new Map<string, number | Error>();
    if (toKill.length > 0) {
      try {
        counts = await this.guard('disableUsers', [], () => this.killSessionsOf(toKill));
      } catch (err) {
        if (err instanceof TargetError && err.kind === 'retryable') throw err;
        for (const u of toKill)
          counts.set(
            u,
            await this.guard('disableUser', [], () => this.killSessions(u)).catch((e: unknown) => asError(e)),
          );
      }
    }
    let sessionsTerminated = 0;
    for (const u of names) {
      const state = plan.get(u);
      if (state === 'foreign') out.set(u, notOurs(u));
      else if (state === 'never' || state === undefined) out.set(u, { existed: false, sessionsTerminated: 0 });
      else {
        const n = counts.get(u) ?? 0;
        if (n instanceof Error) out.set(u, n);
        else {
          out.set(u, { existed: state === 'locked', sessionsTerminated: n });
          sessionsTerminated += n;
        }
      }
    }
    this.log.info({ users: toKill.length, sessions_terminated: sessionsTerminated }, 'mysql users disabled');
    return out;
  }

  /**
   * deleteUser for many users: disableUsers first (a dropped account's sessions would survive), then under one
   * GET_LOCK: one marker read and account lookup, `DROP USER a, b, …` (per user when the list fails, to tell who
   * failed how), the bundle roles in one `DROP ROLE IF EXISTS`, the backstop events that exist, and the marker rows
   * in one DELETE, last. A failure of the batch that is not transient falls back to deleteUser per user.
   */
  async deleteUsers(usernames: readonly string[]): Promise<Map<string, DeleteUserResponse | Error>> {
    if (usernames.length === 0) return new Map();
    const { names, out } = disabledNames<DeleteUserResponse>(await this.disableUsers(usernames));
    if (names.length === 0) return out;
    let result: Map<string, DeleteUserResponse | Error>;
    try {
      result = await this.guard('deleteUsers', [], async (server) => {
        await this.ensureMarkerTable();
        return withDdlLock(this.queues, this.pool, this.db, async (conn) => {
          const res = new Map<string, DeleteUserResponse | Error>();
          const marked = await this.readMarkers(conn, names);
          const accounts = await this.inAccountTable(conn, names, '%', server.flavour);
          const toDrop: string[] = [];
          const cleanUp: string[] = [];
          for (const u of names) {
            if (!marked.has(u)) res.set(u, accounts?.has(u) === true ? notOurs(u) : { outcome: 'already_absent' });
            else if (accounts && !accounts.has(u)) {
              res.set(u, { outcome: 'already_absent' });
              cleanUp.push(u);
            } else toDrop.push(u);
          }
          if (toDrop.length > 0) {
            try {
              await run(conn, `DROP USER ${toDrop.map(account).join(', ')}`);
              for (const u of toDrop) res.set(u, { outcome: 'dropped' });
              cleanUp.push(...toDrop);
            } catch (err) {
              if (!isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED) && !isErrno(err, ERRNO.MYSQL_USER_IS_DEFINER))
                throw err;
              // Per user, to attribute the failure. MariaDB applies a list to every account it can (an account
              // seen a moment ago under this lock and now absent was dropped by that list); MySQL 8 is atomic.
              for (const u of toDrop) {
                try {
                  await run(conn, `DROP USER ${account(u)}`);
                  res.set(u, { outcome: 'dropped' });
                } catch (e) {
                  if (isErrno(e, ERRNO.ACCOUNT_OPERATION_FAILED)) {
                    res.set(u, {
                      outcome: server.flavour === 'mariadb' && accounts?.has(u) === true ? 'dropped' : 'already_absent',
                    });
                  } else if (server.flavour === 'mysql' && isErrno(e, ERRNO.MYSQL_USER_IS_DEFINER)) {
                    // MySQL ≥ 8.0.22 (untested): as deleteUser, left locked with its marker until a human acts.
                    res.set(
                      u,
                      new TargetError(
                        'permanent',
                        `${u} is the DEFINER of stored objects: left locked; drop its objects, then retry`,
                        String(ERRNO.MYSQL_USER_IS_DEFINER),
                      ),
                    );
                    continue;
                  } else throw e;
                }
                cleanUp.push(u);
              }
            }
          }
          if (cleanUp.length > 0) {
            // The marker goes last: until then a retry or the sweeper still finds what is left.
            if (server.flavour === 'mariadb') {
              // Only the bundle roles that exist: MariaDB's DROP ROLE costs milliseconds per name once the server
              // holds thousands of accounts, even IF EXISTS for a role that is not there.
              const bundles = cleanUp.map(bundleRoleName);
              const present = await this.inAccountTable(conn, bundles, '', server.flavour);
              const drop = present ? bundles.filter((r) => present.has(r)) : bundles;
              if (drop.length > 0) await run(conn, `DROP ROLE IF EXISTS ${drop.map(role).join(', ')}`);
            }
            for (const u of await this.expiryEventsOf(conn, cleanUp))
              await run(conn, dropExpiryEventSql(this.db.brokerSchema, u));
            await this.unlistAudited(conn, cleanUp);
            await run(conn, `DELETE FROM ${this.markerTableName()} WHERE \`user\` IN (?)`, [cleanUp]);
          }
          return res;
        });
      });
    } catch (err) {
      if (err instanceof TargetError && err.kind === 'retryable') throw err;
      return oneByOne(names, out, (u) => this.deleteUser(u));
    }
    for (const u of names) out.set(u, result.get(u) ?? { outcome: 'already_absent' });
    this.log.info(
      {
        users: names.length,
        dropped: [...result.values()].filter((r) => !(r instanceof Error) && r.outcome === 'dropped').length,
      },
      'mysql users deleted',
    );
    return out;
  }

  async listManagedUsers(): Promise<ManagedUser[]> {
    return this.guard('listManagedUsers', [], async () => {
      await this.ensureMarkerTable();
      const [ours, args] = this.oursFilter();
      const markers = await rows(
        this.pool,
        `SELECT \`user\`, grant_id, expires_at FROM ${this.markerTableName()} WHERE ${ours} ORDER BY \`user\``,
        args,
      );
      const counts = await rows(
        this.pool,
        "SELECT USER AS u, COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER LIKE 'jit!_%' ESCAPE '!' GROUP BY USER",
      );
      const sessions = new Map(counts.map((c) => [String(c.u), Number(c.n)]));
      return markers
        .filter((m) => USERNAME_PATTERN.test(String(m.user)))
        .map((m) => {
          const expiresAt = parseUtcDatetime(m.expires_at);
          return {
            username: String(m.user),
            grantId: Number(m.grant_id),
            ...(expiresAt !== undefined ? { expiresAt } : {}),
            sessions: sessions.get(String(m.user)) ?? 0,
          };
        });
    });
  }

  observeSessions(usernames: readonly string[]): Promise<ObservedSession[]> {
    return this.guard('observeSessions', [], () => this.sampler.observe(this.pool, usernames));
  }

  statementSummaries(usernames: readonly string[]): Promise<Map<string, StatementSummary>> {
    return this.guard('statementSummaries', [], () => activity.statementSummaries(this.pool, usernames));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** A TLS failure as a TargetError naming the database and the certificate problem; undefined for other errors. */
  private async tlsFailure(err: unknown): Promise<TargetError | undefined> {
    if ((err as { code?: unknown } | null)?.code !== HANDSHAKE_SSL_ERROR) return certificateError(err, this.db);
    const code = (await probeTlsFailure(this.db, this.tls)) ?? HANDSHAKE_SSL_ERROR;
    return certificateError({ code }, this.db);
  }

  /** A new password crosses as plaintext SQL: never over a network without TLS (see plaintextPasswordRefusal). */
  private refusePlaintextPassword(): void {
    const refusal = plaintextPasswordRefusal(this.db);
    if (refusal) {
      this.log.warn({ kind: refusal.kind }, refusal.message);
      throw refusal;
    }
  }

  // --------------------------------------------------------------------------------------------------------------

  /** Server info first (cached), then `fn`; any failure leaves as a scrubbed TargetError. */
  private async guard<T>(
    op: string,
    secrets: ReadonlyArray<string | undefined>,
    fn: (server: ServerInfo) => Promise<T>,
  ): Promise<T> {
    const allSecrets = [...secrets, ...adminSecrets(this.db)];
    try {
      // Configuration problems first, each naming its file: an unreadable CA bundle or admin.passwordFile.
      if (this.tls.problem) throw this.tls.problem;
      const byIp = verifyFullByIpProblem(this.db, this.tls);
      if (byIp) throw byIp;
      adminPassword(this.db);
      const server = await this.serverInfo();
      this.lastFlavour = server.flavour;
      return await fn(server);
    } catch (err) {
      const error =
        (await this.tlsFailure(err)) ?? toTargetError(err, this.lastFlavour, allSecrets, `${op} on ${this.db.name}`);
      this.log.warn({ op, kind: error.kind, code: error.code, err: error.message }, 'mysql engine call failed');
      throw error;
    }
  }

  private serverInfo(): Promise<ServerInfo> {
    this.server ??= fetchServerInfo(this.pool).catch((err: unknown) => {
      this.server = undefined;
      throw err;
    });
    return this.server;
  }

  private ensureMarkerTable(): Promise<void> {
    this.markerTable ??= this.createOrUpgradeMarkerTable().then(
      () => undefined,
      (err: unknown) => {
        this.markerTable = undefined;
        throw err;
      },
    );
    return this.markerTable;
  }

  /** The table exists and has its installation column (added to a table an earlier version created). */
  private async createOrUpgradeMarkerTable(): Promise<void> {
    await run(this.pool, markerTableDdl(this.db.brokerSchema));
    const [has] = await rows(
      this.pool,
      "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = 'installation'",
      [this.db.brokerSchema, MARKER_TABLE],
    );
    if (Number(has?.n) === 0) await run(this.pool, addMarkerInstallationSql(this.db.brokerSchema));
  }

  /** Markers this installation may act on: its own and those written before installation ids existed. */
  private oursFilter(): [string, unknown[]] {
    return this.installation === undefined
      ? ['1 = 1', []]
      : ['(installation IS NULL OR installation = ?)', [this.installation]];
  }

  private markerTableName(): string {
    return inSchema(this.db.brokerSchema, MARKER_TABLE);
  }

  private async readMarker(conn: Queryable, user: string): Promise<Marker | undefined> {
    const [ours, args] = this.oursFilter();
    const [row] = await rows(
      conn,
      `SELECT grant_id, expires_at FROM ${this.markerTableName()} WHERE \`user\` = ? AND ${ours}`,
      [user, ...args],
    );
    return row ? toMarker(row) : undefined;
  }

  /** readMarker for many users in one query: the marker of each name that carries one of ours. Another
   *  installation's marker reads as none, so its user is "not ours" and left untouched. */
  private async readMarkers(conn: Queryable, users: readonly string[]): Promise<Map<string, Marker>> {
    const [ours, args] = this.oursFilter();
    const found = await rows(
      conn,
      `SELECT \`user\`, grant_id, expires_at FROM ${this.markerTableName()} WHERE \`user\` IN (?) AND ${ours}`,
      [users, ...args],
    );
    return new Map(found.map((row) => [String(row.user), toMarker(row)]));
  }

  /**
   * The names among `names` in the account table with that host: '%' for the broker's users, '' for MariaDB roles.
   * undefined when the admin may not read the table (then callers act as if every name might exist).
   */
  private async inAccountTable(
    conn: Queryable,
    names: readonly string[],
    host: '%' | '',
    flavour: Flavour,
  ): Promise<Set<string> | undefined> {
    try {
      const found = await rows(conn, `SELECT User FROM ${accountTable(flavour)} WHERE User IN (?) AND Host = ?`, [
        names,
        host,
      ]);
      return new Set(found.map((r) => String(r.User)));
    } catch (err) {
      if (toTargetError(err, flavour, []).kind === 'permission') return undefined;
      throw err;
    }
  }

  /**
   * The users among `users` that still have the one-shot backstop event of an earlier version (there is none for a
   * user made since, so no DROP EVENT is sent). When the admin cannot list events, every user is returned: DROP
   * EVENT IF EXISTS is harmless.
   */
  private async expiryEventsOf(conn: Queryable, users: readonly string[]): Promise<string[]> {
    const names = new Map(users.map((u) => [legacyExpiryEventName(u), u]));
    try {
      const found = await rows(
        conn,
        'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME IN (?)',
        [this.db.brokerSchema, [...names.keys()]],
      );
      return found.map((r) => names.get(String(r.name))).filter((u): u is string => u !== undefined);
    } catch (err) {
      if (toTargetError(err, this.lastFlavour, []).kind !== 'permission') throw err;
      return [...users];
    }
  }

  /**
   * killSessions for many users: one processlist query per round for all of them, KILL CONNECTION per session.
   * Users whose sessions outlive the deadline get a retryable error of their own; the others their count.
   */
  private async killSessionsOf(users: readonly string[]): Promise<Map<string, number | Error>> {
    const killed = new Map<string, Set<number>>(users.map((u) => [u, new Set<number>()]));
    const deadline = Date.now() + KILL_DEADLINE_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const listed = (
        await rows(this.pool, 'SELECT ID AS id, USER AS user FROM information_schema.PROCESSLIST WHERE USER IN (?)', [
          users,
        ])
      )
        .map((r) => ({ id: Number(r.id), user: String(r.user) }))
        .filter((r) => Number.isSafeInteger(r.id) && r.id > 0 && killed.has(r.user));
      if (listed.length === 0 || Date.now() > deadline) {
        const left = new Map<string, number>();
        for (const r of listed) left.set(r.user, (left.get(r.user) ?? 0) + 1);
        return new Map(
          users.map((u) => {
            const n = left.get(u);
            return [
              u,
              n === undefined
                ? (killed.get(u)?.size ?? 0)
                : new TargetError(
                    'retryable',
                    `${u} still has ${n} session(s) after ${KILL_DEADLINE_MS / 1000}s of KILL`,
                  ),
            ];
          }),
        );
      }
      for (const { id, user } of listed) {
        const mine = killed.get(user)!;
        if (mine.has(id)) continue;
        try {
          await run(this.pool, `KILL CONNECTION ${id}`);
          mine.add(id);
        } catch (err) {
          if (!isUnknownThread(err)) throw err; // gone on its own: not ours to count
        }
      }
      await delay(pause);
    }
  }

  /** true/false from the account table (names only); undefined when the admin may not read it. */
  private async accountExists(conn: Queryable, user: string, flavour: Flavour): Promise<boolean | undefined> {
    return (await this.inAccountTable(conn, [user], '%', flavour))?.has(user);
  }

  /**
   * The schema's expiry event (sql.ts), made once per engine, at its first provisioning while the event scheduler is
   * on; replaced by this version's each time the broker starts. With the scheduler off there is no backstop, as
   * `check` says.
   */
  private async ensureExpiryEvent(conn: Queryable, flavour: Flavour): Promise<void> {
    if (this.expiryEventMade || !(await this.schedulerOn(conn))) return;
    if (flavour === 'mysql') {
      // No CREATE OR REPLACE EVENT on MySQL; a replica starting at the same moment may make it in between.
      await run(conn, `DROP EVENT IF EXISTS ${inSchema(this.db.brokerSchema, EXPIRY_EVENT)}`);
      await run(conn, createExpiryEventSql(this.db.brokerSchema, flavour)).catch((err: unknown) => {
        if (!isErrno(err, ERRNO.EVENT_ALREADY_EXISTS)) throw err;
      });
    } else await run(conn, createExpiryEventSql(this.db.brokerSchema, flavour));
    this.expiryEventMade = true;
  }

  private async schedulerOn(conn: Queryable): Promise<boolean> {
    const [row] = await rows(conn, 'SELECT @@GLOBAL.event_scheduler AS s');
    return String(row?.s ?? '').toUpperCase() === 'ON';
  }

  /**
   * Ends every session of the user (portable: processlist + KILL CONNECTION; MariaDB's KILL USER would not say
   * how many). Loops until none is listed: a killed thread can linger for a moment, and one may have been mid-login
   * when the account was locked.
   */
  private async killSessions(user: string): Promise<number> {
    const killed = new Set<number>();
    const deadline = Date.now() + KILL_DEADLINE_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const ids = (await rows(this.pool, 'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]))
        .map((r) => Number(r.id))
        .filter((id) => Number.isSafeInteger(id) && id > 0);
      if (ids.length === 0) return killed.size;
      if (Date.now() > deadline) {
        throw new TargetError(
          'retryable',
          `${user} still has ${ids.length} session(s) after ${KILL_DEADLINE_MS / 1000}s of KILL`,
        );
      }
      for (const id of ids) {
        if (killed.has(id)) continue;
        try {
          await run(this.pool, `KILL CONNECTION ${id}`);
          killed.add(id);
        } catch (err) {
          if (!isUnknownThread(err)) throw err; // gone on its own: not ours to count
        }
      }
      await delay(pause);
    }
  }

  /**
   * newUser's work under the DDL lock, for one user or many: refuses a name carrying another grant's marker, or no
   * marker while the account exists; writes the markers (new ones in one INSERT) before any CREATE USER; then makes
   * each user. The map holds each user's outcome or its (scrubbed) error. Throws when the batch as a whole failed
   * before any account was touched, or when the connection died before any user was made.
   */
  private async provision(
    conn: PoolConnection,
    flavour: Flavour,
    planned: readonly Planned[],
  ): Promise<PerUser<NewUserResponse>> {
    const result: PerUser<NewUserResponse> = new Map();
    const names = planned.map((p) => p.req.username);
    const markers = await this.readMarkers(conn, names);
    const unmarked = names.filter((u) => !markers.has(u));
    const accounts = unmarked.length > 0 ? await this.inAccountTable(conn, unmarked, '%', flavour) : new Set<string>();
    const go: Array<Planned & { adopt: boolean }> = [];
    for (const p of planned) {
      const { username: user, grantId } = p.req;
      const marker = markers.get(user);
      if (marker && marker.grantId !== grantId) {
        result.set(
          user,
          new TargetError(
            'conflict',
            `${user} carries the marker of grant ${marker.grantId}, not ${grantId}: left untouched`,
          ),
        );
      } else if (!marker && accounts?.has(user) === true) result.set(user, notOurs(user));
      else go.push({ ...p, adopt: marker !== undefined });
    }
    if (go.length === 0) return result;

    // Before the markers are written: a failure here leaves nothing behind.
    await this.ensureExpiryEvent(conn, flavour);
    const adopts = go.filter((p) => p.adopt);
    if (adopts.length > 0) {
      await run(
        conn,
        `UPDATE ${this.markerTableName()} SET expires_at = CASE \`user\` ${adopts.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE \`user\` IN (?)`,
        [...adopts.flatMap((p) => [p.req.username, utcDatetime(p.req.expiresAt)]), adopts.map((p) => p.req.username)],
      );
    }
    const fresh = go.filter((p) => !p.adopt);
    if (fresh.length > 0) {
      const now = utcDatetime(Date.now());
      await run(
        conn,
        `INSERT INTO ${this.markerTableName()} (\`user\`, grant_id, expires_at, created_at, installation) VALUES ?`,
        [
          fresh.map((p) => [
            p.req.username,
            p.req.grantId,
            utcDatetime(p.req.expiresAt),
            now,
            this.installation ?? null,
          ]),
        ],
      );
    }

    // auditStatements: listed before the account exists, so nothing it runs goes unlogged. Refused together.
    const audited = go.filter((p) => p.req.level.auditStatements);
    const unlisted = await this.listForAudit(conn, audited);
    if (unlisted) {
      for (const p of audited) result.set(p.req.username, unlisted);
      const dropMarkers = audited.filter((p) => !p.adopt).map((p) => p.req.username);
      if (dropMarkers.length > 0)
        await run(conn, `DELETE FROM ${this.markerTableName()} WHERE \`user\` IN (?)`, [dropMarkers]);
    }
    const ready = unlisted ? go.filter((p) => !p.req.level.auditStatements) : go;

    // Only when the lookup showed every fresh name free: a list must not run into someone else's account.
    const accountsMade = accounts
      ? await this.createAccounts(
          conn,
          flavour,
          ready.filter((p) => !p.adopt),
        )
      : new Set<string>();
    const roleGranted = await this.grantSoleRoles(
      conn,
      ready.filter((p) => accountsMade.has(p.req.username)),
    );
    const secrets = [...planned.map((p) => p.req.password), ...adminSecrets(this.db)];
    let made = 0;
    for (const [i, p] of ready.entries()) {
      try {
        const { username } = p.req;
        await this.makeUser(conn, flavour, p, accountsMade.has(username), roleGranted.has(username));
        result.set(p.req.username, { outcome: p.adopt ? 'adopted' : 'created' });
        made++;
      } catch (err) {
        if (!isFatal(err)) {
          result.set(p.req.username, toTargetError(err, flavour, secrets, `newUser on ${this.db.name}`));
          continue;
        }
        // The connection is gone: the rest cannot be made now (their markers stay, harmless; a retry adopts them).
        if (made === 0) throw err;
        const lost = toTargetError(err, flavour, secrets, `newUser on ${this.db.name}`);
        for (const rest of ready.slice(i)) result.set(rest.req.username, lost);
        break;
      }
    }
    return result;
  }

  /**
   * The accounts of fresh users, several per CREATE USER (one per set of resource options); returns those made. When
   * a list fails, the accounts it made anyway (MariaDB applies a list to every account it can; MySQL 8 to none) are
   * found in the account table: the others are left to makeUser, which creates each alone and tells its error.
   */
  private async createAccounts(
    conn: PoolConnection,
    flavour: Flavour,
    fresh: readonly Planned[],
  ): Promise<Set<string>> {
    const groups = new Map<string, Planned[]>();
    for (const p of fresh) {
      const options = resourceOptions(p.req.level, flavour);
      groups.set(options, [...(groups.get(options) ?? []), p]);
    }
    const made = new Set<string>();
    for (const group of groups.values()) {
      if (group.length < 2) continue;
      const users = group.map((p) => p.req.username);
      try {
        await run(
          conn,
          createUsersSql(
            group.map((p) => ({ user: p.req.username, password: p.req.password })),
            group[0]!.req.level,
            flavour,
          ),
        );
        for (const u of users) made.add(u);
      } catch (err) {
        if (isFatal(err)) throw err;
        for (const u of (await this.inAccountTable(conn, users, '%', flavour)) ?? []) made.add(u);
      }
    }
    return made;
  }

  /**
   * MariaDB: the accounts just made together that get one role each, granted it in one GRANT per role (several
   * grantees); returns the users granted. A list that fails leaves its users to makeUser, which grants each alone
   * (granting a role twice is harmless) and tells its error.
   */
  private async grantSoleRoles(conn: PoolConnection, made: readonly Planned[]): Promise<Set<string>> {
    const byRole = groupBy(
      made.filter((p) => p.access.soleRole !== undefined),
      (p) => p.access.soleRole!,
    );
    const granted = new Set<string>();
    for (const [r, planned] of byRole) {
      if (planned.length < 2) continue;
      const users = planned.map((p) => p.req.username);
      try {
        await run(conn, `GRANT ${r} TO ${users.map(account).join(', ')}`);
        for (const u of users) granted.add(u);
      } catch (err) {
        if (isFatal(err)) throw err;
      }
    }
    return granted;
  }

  /**
   * One user's account (created unless `accountMade`, or converged when adopted), access (its role already granted
   * when `roleGranted`) and backstop event; its marker is already written. On failure, what was made for it is undone
   * (compensate) before the error is rethrown.
   */
  private async makeUser(
    conn: PoolConnection,
    flavour: Flavour,
    p: Planned & { adopt: boolean },
    accountMade: boolean,
    roleGranted: boolean,
  ): Promise<void> {
    const { req, access, adopt } = p;
    const user = req.username;
    let accountIsOurs = adopt || accountMade;
    let bundleIsOurs = adopt && access.usesBundle;
    try {
      if (adopt) {
        await run(conn, convergeUserSql(user, req.password, req.level, flavour)).catch(async (err: unknown) => {
          if (!isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED)) throw err;
          await run(conn, createUserSql(user, req.password, req.level, flavour)); // marker only: crash before CREATE
        });
      } else if (!accountMade) {
        try {
          await run(conn, createUserSql(user, req.password, req.level, flavour));
        } catch (err) {
          // The name was taken after all (the lookup grant is missing, or a race with someone else's DDL).
          if (isErrno(err, ERRNO.ACCOUNT_OPERATION_FAILED)) throw notOurs(user);
          throw err;
        }
        accountIsOurs = true;
      }
      for (const step of access.steps(adopt, roleGranted)) {
        await run(conn, step.sql);
        if (step.createsBundle) bundleIsOurs = true;
      }
      // An adopted user may still have the one-shot event of an earlier version, at its old expiry.
      if (adopt) await run(conn, dropExpiryEventSql(this.db.brokerSchema, user));
    } catch (err) {
      await this.compensate(conn, user, flavour, {
        dropAccount: accountIsOurs,
        dropBundle: bundleIsOurs,
        audited: req.level.auditStatements === true,
      });
      throw err;
    }
  }

  /** Undo a failed newUser. Best effort: what cannot be undone is found again by a retry (adopt) or the sweeper. */
  private async compensate(
    conn: PoolConnection,
    user: string,
    flavour: Flavour,
    what: { dropAccount: boolean; dropBundle: boolean; audited: boolean },
  ): Promise<void> {
    const steps = [
      what.dropAccount ? `DROP USER IF EXISTS ${account(user)}` : undefined,
      what.dropBundle && flavour === 'mariadb' ? `DROP ROLE IF EXISTS ${role(bundleRoleName(user))}` : undefined,
    ];
    for (const sql of steps) {
      if (!sql) continue;
      await run(conn, sql).catch((err: unknown) =>
        this.log.warn(
          { user, err: toTargetError(err, flavour, adminSecrets(this.db)).message },
          'mysql compensation step failed',
        ),
      );
    }
    if (what.audited) await this.unlistAudited(conn, [user]);
    await run(conn, `DELETE FROM ${this.markerTableName()} WHERE \`user\` = ?`, [user]).catch((err: unknown) =>
      this.log.warn(
        { user, err: toTargetError(err, flavour, adminSecrets(this.db)).message },
        'mysql compensation: marker not removed',
      ),
    );
  }

  /**
   * addToAuditList for the users of auditStatements levels; undefined when done, else the error each of them gets
   * (plugin missing, logging off, SUPER missing, list full), explained. The connection dying is thrown.
   */
  private async listForAudit(conn: PoolConnection, audited: readonly Planned[]): Promise<TargetError | undefined> {
    if (audited.length === 0) return undefined;
    try {
      const outcome = await addToAuditList(
        conn,
        audited.map((p) => p.req.username),
      );
      if (outcome === 'everyone')
        this.log.info(
          { users: audited.length },
          'server_audit_incl_users is empty, so server_audit logs every account: left empty',
        );
      return undefined;
    } catch (err) {
      if (isFatal(err)) throw err;
      const [me] = await rows(conn, 'SELECT CURRENT_USER() AS me').catch(() => []);
      const who = String(me?.me ?? this.db.admin.user);
      const at = who.lastIndexOf('@');
      const admin = at < 0 ? q(who) : adminAccount(who.slice(0, at), who.slice(at + 1));
      return (
        auditListProblem(err, admin) ??
        toTargetError(err, 'mariadb', adminSecrets(this.db), `auditStatements on ${this.db.name}`)
      );
    }
  }

  /**
   * Takes dropped users out of server_audit_incl_users (MariaDB; whatever their level said, so a catalog edit cannot
   * strand a name). Best effort: a name left behind names an account that no longer exists, and the revocation it
   * belongs to has done its work; no plugin means no list.
   */
  private async unlistAudited(conn: PoolConnection, users: readonly string[]): Promise<void> {
    if (users.length === 0 || this.lastFlavour !== 'mariadb') return;
    try {
      await removeFromAuditList(conn, users);
    } catch (err) {
      if (isFatal(err)) throw err;
      if (isErrno(err, ERRNO.UNKNOWN_SYSTEM_VARIABLE)) return;
      this.log.warn(
        { users: users.length, err: toTargetError(err, 'mariadb', adminSecrets(this.db)).message },
        'could not take dropped users out of server_audit_incl_users',
      );
    }
  }
}

function toMarker(row: RowDataPacket): Marker {
  const expiresAt = parseUtcDatetime(row.expires_at);
  return { grantId: Number(row.grant_id), ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

function notOurs(user: string): TargetError {
  return new TargetError(
    'conflict',
    `${user} exists and carries no marker of this broker: left untouched`,
    String(ERRNO.ACCOUNT_OPERATION_FAILED),
  );
}

/**
 * The statements that give a level's access to the user, checked up front.
 *
 * MariaDB activates exactly one role at login, set with SET DEFAULT ROLE r FOR u, which for another user needs
 * UPDATE on the mysql database; the broker calls the DBA's definer procedure instead (admin-setup.ts). Several
 * roles go into a per-user bundle role. MySQL 8 (untested): `GRANT r1, r2 TO u` then `SET DEFAULT ROLE ALL TO u`
 * (CREATE USER suffices), because roles are inactive at login unless they are default roles.
 */
export function accessStatements(flavour: Flavour, schema: string, user: string, level: AccessLevel) {
  if (level.auditStatements && flavour === 'mysql') throw refuseOnMysql(level);
  resourceOptions(level, flavour);
  const roles = [...new Set(level.roles)].map((r) => role(r));
  const templates = level.grants.map((t) => renderTemplate(t, user, level.name));
  const acct = account(user);
  const setDefault = (roleName: string) =>
    `CALL ${inSchema(schema, DEFAULT_ROLE_PROCEDURE)}(${q(user)}, ${q(roleName)})`;
  const useBundle = flavour === 'mariadb' && roles.length > 1;

  return {
    usesBundle: useBundle,
    /** MariaDB, one role: the role granted by the first step, which a batch may grant to several users at once. */
    soleRole: flavour === 'mariadb' && roles.length === 1 ? roles[0]! : undefined,
    steps(adopt: boolean, roleGranted = false): Array<{ sql: string; createsBundle?: true }> {
      const out: Array<{ sql: string; createsBundle?: true }> = [];
      const add = (...sqls: string[]) => out.push(...sqls.map((sql) => ({ sql })));
      if (roles.length > 0 && flavour === 'mysql') {
        add(`GRANT ${roles.join(', ')} TO ${acct}`, `SET DEFAULT ROLE ALL TO ${acct}`);
      } else if (roles.length === 1) {
        if (!roleGranted) add(`GRANT ${roles[0]!} TO ${acct}`);
        add(setDefault(level.roles[0]!));
      } else if (useBundle) {
        const bundle = bundleRoleName(user);
        // A fresh create must not take over a role of that name made by someone else (1396 → conflict);
        // a same-grant leftover's bundle is ours.
        out.push({ sql: `CREATE ROLE${adopt ? ' IF NOT EXISTS' : ''} ${role(bundle)}`, createsBundle: true });
        add(...roles.map((r) => `GRANT ${r} TO ${role(bundle)}`));
        add(`GRANT ${role(bundle)} TO ${acct}`, setDefault(bundle));
      }
      add(...templates);
      return out;
    },
  };
}
