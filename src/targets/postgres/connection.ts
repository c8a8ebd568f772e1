/**
 * Connection plumbing: one small pool per engine, 'error' handlers on the pool and on every client (a session
 * the server terminates emits 'error' and would otherwise crash the process), the DDL transaction (advisory
 * lock, lock/statement timeouts) and bounded, jittered retries of transient failures.
 */
import { Client, Pool, type ClientConfig, type PoolClient } from 'pg';
import type { DatabaseEntry } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { adminPassword, adminSecrets } from '../admin-password.js';
import { certificateError, pgSslOptions, tlsPlan, type TlsPlan } from '../tls.js';
import { classifyError, errorCode, toTargetError } from './errors.js';
import { DDL_ADVISORY_LOCK_KEY } from './sql.js';

export interface Tuning {
  /** lock_timeout inside DDL transactions. */
  lockTimeoutMs: number;
  /** statement_timeout inside DDL transactions. */
  statementTimeoutMs: number;
  /** Attempts for a retryable failure before TargetError('retryable'). */
  retryAttempts: number;
  /** First backoff; doubles per attempt, jittered ×0.5–1.5. */
  retryBaseDelayMs: number;
  /** disableUser waits this long for the user's sessions to end. */
  terminateDeadlineMs: number;
  connectTimeoutMs: number;
}

export const DEFAULT_TUNING: Tuning = {
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  retryAttempts: 5,
  retryBaseDelayMs: 100,
  terminateDeadlineMs: 20_000,
  connectTimeoutMs: 10_000,
};

export interface ServerInfo {
  /** server_version_num, e.g. 150018. */
  versionNum: number;
  /** The admin is a superuser (not recommended; checks warn). */
  superuser: boolean;
}

export type Row = Record<string, unknown>;
/** Runs one statement; `params` only where PostgreSQL accepts bind parameters (not in utility statements). */
export type Exec = (sql: string, params?: unknown[]) => Promise<Row[]>;

/** lockedTransaction's options: `rollback` for dry runs; `first`, a read sent with BEGIN and the lock. */
export interface LockedOptions {
  rollback?: boolean;
  first?: string;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Connections {
  readonly pool: Pool;
  /** The catalog's `tls`, resolved (CA bundle read) once; see src/targets/tls.ts for what each mode does. */
  private readonly tls: TlsPlan;

  constructor(
    private readonly db: DatabaseEntry,
    private readonly logger: Logger,
    readonly tuning: Tuning,
  ) {
    this.tls = tlsPlan(db);
    this.pool = new Pool({ ...this.config(db.database), max: 4, idleTimeoutMillis: 10_000 });
    this.pool.on('error', (err) =>
      this.logger.warn({ code: errorCode(err) }, 'an idle PostgreSQL admin connection failed'),
    );
  }

  config(database: string): ClientConfig {
    return {
      host: this.db.host,
      port: this.db.port,
      user: this.db.admin.user,
      // passwordFile: node-postgres calls this for every new connection, so a rotated secret is picked up.
      password:
        this.db.admin.passwordFile === undefined ? this.db.admin.password : async () => adminPassword(this.db) ?? '',
      // No `tls` key: node-postgres's default, exactly as before (no TLS unless PGSSLMODE says otherwise).
      ...(this.db.tls && { ssl: pgSslOptions(this.tls) }),
      database,
      application_name: 'db-access',
      connectionTimeoutMillis: this.tuning.connectTimeoutMs,
      keepAlive: true,
    };
  }

  secrets(extra: ReadonlyArray<string | undefined> = []): Array<string | undefined> {
    return [...adminSecrets(this.db), ...extra];
  }

  /** A pooled client with an 'error' handler for as long as it is checked out; destroyed if it broke. */
  async withClient<T>(fn: (exec: Exec) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.connecting(() => this.pool.connect());
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
      this.logger.warn({ code: errorCode(err) }, 'PostgreSQL admin connection failed while in use');
    };
    client.on('error', onError);
    try {
      return await fn(execOn(client));
    } catch (err) {
      // A connection-level failure (no SQLSTATE, 08xxx, 57xxx) leaves the client unusable: destroy it.
      const code = errorCode(err);
      if (!(err instanceof TargetError) && (code === undefined || /^(08|57)/.test(code))) broken ??= err as Error;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken ?? undefined);
    }
  }

  /** A one-off client for another database of the same server (DROP OWNED there). */
  async withDatabase<T>(database: string, fn: (exec: Exec) => Promise<T>): Promise<T> {
    const client = new Client(this.config(database));
    client.on('error', (err) =>
      this.logger.warn({ code: errorCode(err), database }, 'PostgreSQL admin connection failed'),
    );
    await this.connecting(() => client.connect());
    try {
      return await fn(execOn(client));
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Opens a connection: an unreadable CA bundle or password file fails first, and a certificate that does not verify leaves as a
   * TargetError('permanent') naming the database and the problem (never retried, so nothing is attempted).
   */
  private async connecting<T>(open: () => Promise<T>): Promise<T> {
    if (this.tls.problem) throw this.tls.problem;
    adminPassword(this.db); // an unreadable admin.passwordFile, named, before any network traffic
    try {
      return await open();
    } catch (err) {
      throw certificateError(err, this.db) ?? err;
    }
  }

  /**
   * One transaction that holds the db-access advisory lock, with lock and statement timeouts. Commits unless
   * `rollback` (dry runs). Any failure rolls back: nothing is left half done. `first`: a read that runs in the
   * same round trip as BEGIN, once the lock is held (so it sees what the lock protects); its rows are handed to
   * `fn`. It goes by the simple protocol with the rest: constants only, no parameters.
   */
  async lockedTransaction<T>(
    exec: Exec,
    fn: (exec: Exec, firstRows: Row[]) => Promise<T>,
    opts: LockedOptions = {},
  ): Promise<T> {
    const { rollback = false, first } = opts;
    try {
      const firstRows = await exec(
        `BEGIN; SET LOCAL lock_timeout = ${Math.trunc(this.tuning.lockTimeoutMs)}; ` +
          `SET LOCAL statement_timeout = ${Math.trunc(this.tuning.statementTimeoutMs)}; ` +
          `SELECT pg_catalog.pg_advisory_xact_lock(${BigInt(DDL_ADVISORY_LOCK_KEY)}::bigint)` +
          (first === undefined ? '' : `;\n${first}`),
      );
      const result = await fn(exec, first === undefined ? [] : firstRows);
      await exec(rollback ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (err) {
      await exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Runs `fn`, retrying retryable failures with jittered exponential backoff; throws a scrubbed TargetError. */
  async retrying<T>(
    op: string,
    secrets: ReadonlyArray<string | undefined>,
    fn: () => Promise<T>,
    attempts = this.tuning.retryAttempts,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const kind = classifyError(err);
        if (kind !== 'retryable' || attempt >= attempts) throw toTargetError(err, op, this.secrets(secrets));
        const wait = Math.round(this.tuning.retryBaseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
        this.logger.warn(
          { op, attempt, code: errorCode(err), retryInMs: wait },
          'transient PostgreSQL failure, retrying',
        );
        await delay(wait);
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A GRANT by someone who holds some but not all of the grant options only WARNS (SQLSTATE 01007 "no privileges
 * were granted" / "not all privileges were granted") and succeeds: treat that as the permission error it is.
 */
function execOn(client: Client | PoolClient): Exec {
  return async (sql, params) => {
    let notGranted: string | undefined;
    const onNotice = (n: { code?: string; message?: string }) => {
      if (n.code === '01007') notGranted ??= n.message ?? 'privileges were not granted';
    };
    client.on('notice', onNotice);
    try {
      // Several statements in one simple-protocol query answer with one result each: the last one's rows.
      const res = (await client.query(sql, params)) as unknown as { rows: Row[] } | Array<{ rows: Row[] }>;
      const rows = (Array.isArray(res) ? res[res.length - 1]!.rows : res.rows) ?? [];
      if (notGranted !== undefined)
        throw new TargetError(
          'permission',
          `${notGranted}: the admin lacks the GRANT OPTION for a templated grant`,
          '01007',
        );
      return rows;
    } finally {
      client.off('notice', onNotice);
    }
  };
}
