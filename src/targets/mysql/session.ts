/**
 * The engine's connection handling: one small mysql2 pool logged in as the catalog's admin, statements sent with
 * `query()` (client-side escaping) and retried briefly on deadlock / lock-wait, and the DDL section that takes
 * the in-process per-server mutex and the server-wide GET_LOCK on the connection doing the DDL.
 */
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { serverKey, type DatabaseEntry } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { adminSecrets } from '../admin-password.js';
import { scrub } from '../scrub.js';
import type { ServerQueues } from '../serialize.js';
import { isFatal, isLockContention } from './errors.js';
import { mysqlSslOptions, type TlsPlan } from '../tls.js';
import { DDL_LOCK_NAME, q } from './sql.js';

/** Either the pool or a connection taken from it. */
export type Queryable = Pick<Pool, 'query'>;

const LOCK_ATTEMPTS = 4;
const GET_LOCK_TIMEOUT_S = 15;

/**
 * The admin pool. `tls`: the catalog's `tls`, resolved (src/targets/tls.ts). With `admin.passwordFile` the password
 * is read at every new connection: mysql2 builds each pooled connection's config by copying the pool's
 * connectionConfig property descriptors (Pool#_createConnectionConfig) and reads `config.password` only in the
 * handshake, so a getter there runs once per new connection (test/integration/admin-password-file.test.ts pins it).
 */
export function createAdminPool(db: DatabaseEntry, log: Logger, tls: TlsPlan): Pool {
  const ssl = mysqlSslOptions(tls);
  const pool = createPool({
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    ...(ssl && { ssl }),
    connectionLimit: 4,
    maxIdle: 2,
    idleTimeout: 60_000,
    connectTimeout: 5_000,
    enableKeepAlive: true,
    multipleStatements: false,
    // DATETIME columns come back as the strings we wrote (UTC); see sql.ts utcDatetime.
    dateStrings: true,
    timezone: 'Z',
  });
  // An unreadable file must not throw inside mysql2's handshake; the engine reports it (adminPassword) before use.
  if (db.admin.passwordFile !== undefined) passwordPerConnection(pool, () => adminSecrets(db)[0]);
  const onError = (err: Error) =>
    log.warn({ err: scrub(err.message, adminSecrets(db)) }, 'mysql admin connection error');
  // A connection killed by a DBA or a failover must not crash the process with an unhandled 'error' event.
  pool.pool.on('error', onError);
  pool.on('connection', (conn) => conn.on('error', onError));
  return pool;
}

/** Makes `password` of every connection the pool opens from now on the value of `read()` at that moment. */
function passwordPerConnection(pool: Pool, read: () => string | undefined): void {
  const config = (pool as unknown as { pool?: { config?: { connectionConfig?: object } } }).pool?.config
    ?.connectionConfig;
  if (!config) throw new Error('mysql2 pool internals changed: cannot re-read admin.passwordFile per connection');
  Object.defineProperty(config, 'password', { get: read, enumerable: true, configurable: true });
}

export async function rows(db: Queryable, sql: string, values?: unknown[]): Promise<RowDataPacket[]> {
  const [result] = await run(db, sql, values);
  return result as RowDataPacket[];
}

/** One statement; deadlock / lock-wait are retried a few times with jitter, then surface as retryable. */
export async function run(db: Queryable, sql: string, values?: unknown[]): ReturnType<Pool['query']> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.query(sql, values);
    } catch (err) {
      if (!isLockContention(err) || attempt >= LOCK_ATTEMPTS) throw err;
      await delay(20 * attempt + Math.floor(Math.random() * 50 * attempt));
    }
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `fn` as the only account DDL on this server: in-process (one queue per server, so one process does not
 * park many pool connections on the lock) and across broker processes (GET_LOCK is server-wide and released
 * when the connection ends, so a crashed broker never holds it).
 */
export async function withDdlLock<T>(
  queues: ServerQueues,
  pool: Pool,
  db: DatabaseEntry,
  fn: (conn: PoolConnection) => Promise<T>,
): Promise<T> {
  return queues.serialized(serverKey(db), async () => {
    const conn = await pool.getConnection();
    let healthy = true;
    try {
      const [lock] = await rows(conn, `SELECT GET_LOCK(${q(DDL_LOCK_NAME)}, ${GET_LOCK_TIMEOUT_S}) AS got`);
      if (Number(lock?.got) !== 1) {
        throw new TargetError(
          'retryable',
          `another broker held the DDL lock ${DDL_LOCK_NAME} for more than ${GET_LOCK_TIMEOUT_S}s`,
        );
      }
      try {
        return await fn(conn);
      } finally {
        await conn.query(`SELECT RELEASE_LOCK(${q(DDL_LOCK_NAME)})`).catch(() => {
          healthy = false; // the lock dies with the connection
        });
      }
    } catch (err) {
      if (isFatal(err)) healthy = false;
      throw err;
    } finally {
      if (healthy) conn.release();
      else conn.destroy();
    }
  });
}
