/**
 * The engine's connection handling: one small mysql2 pool logged in as the catalog's admin, statements sent with
 * `query()` (client-side escaping) and retried briefly on deadlock / lock-wait, and the DDL section that takes
 * the in-process per-server mutex and the server-wide GET_LOCK on the connection doing the DDL.
 */
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { serverKey, type DatabaseEntry } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import { scrub } from '../scrub.js';
import { serialized } from '../serialize.js';
import { isFatal, isLockContention } from './errors.js';
import { DDL_LOCK_NAME, q } from './sql.js';

/** Either the pool or a connection taken from it. */
export type Queryable = Pick<Pool, 'query'>;

const LOCK_ATTEMPTS = 4;
const GET_LOCK_TIMEOUT_S = 15;

export function createAdminPool(db: DatabaseEntry, log: Logger): Pool {
  const pool = createPool({
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
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
  const secrets = [db.admin.password];
  const onError = (err: Error) => log.warn({ err: scrub(err.message, secrets) }, 'mysql admin connection error');
  // A connection killed by a DBA or a failover must not crash the process with an unhandled 'error' event.
  pool.pool.on('error', onError);
  pool.on('connection', (conn) => conn.on('error', onError));
  return pool;
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
export async function withDdlLock<T>(pool: Pool, db: DatabaseEntry, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return serialized(serverKey(db), async () => {
    const conn = await pool.getConnection();
    let healthy = true;
    try {
      const [lock] = await rows(conn, `SELECT GET_LOCK(${q(DDL_LOCK_NAME)}, ${GET_LOCK_TIMEOUT_S}) AS got`);
      if (Number(lock?.got) !== 1) {
        throw new TargetError('retryable', `another broker held the DDL lock ${DDL_LOCK_NAME} for more than ${GET_LOCK_TIMEOUT_S}s`);
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
