/**
 * DATABASE_URL → a knex instance for the state store. SQLite: better-sqlite3 (one connection, WAL, busy_timeout,
 * foreign keys on); PostgreSQL: pg; MySQL/MariaDB: mysql2. Pools are small: the store is not the hot path.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { inspect } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import type { Logger } from '../core/ports.js';
import { StateStoreError } from './errors.js';
import { PreparingPgClient } from './pg-prepared.js';
import { describeStateStoreUrl, parseStateStoreUrl, scrubPassword, type StoreDialect } from './url.js';

/** How long SQLite waits for another process's write lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;
const POOL_MAX = 5;

interface SqliteConnection {
  pragma(source: string): unknown;
}

export function dialectOf(knex: Knex): StoreDialect {
  const d = knex.client.dialect as string;
  if (d === 'postgresql' || d === 'postgres') return 'postgres';
  if (d === 'mysql' || d === 'mysql2' || d === 'mariadb') return 'mysql';
  if (d === 'sqlite3' || d === 'better-sqlite3') return 'sqlite';
  throw new StateStoreError('config', `unsupported knex dialect for the state store: ${d}`);
}

export interface KnexOptions {
  /** Where knex's own warnings go (pool errors while the database is down …), password scrubbed. Default: stderr. */
  logger?: Logger;
  /** PostgreSQL: prepare each statement once per connection (pg-prepared.ts). Default true. */
  preparedStatements?: boolean;
}

/** knex's log hooks, with the URL's password scrubbed from every message. */
function knexLog(url: string, logger: Logger | undefined): Knex.Config['log'] {
  const text = (m: unknown) => scrubPassword(typeof m === 'string' ? m : inspect(m), url);
  const to = (level: 'debug' | 'warn' | 'error') => (m: unknown) => {
    if (logger) logger[level]({ component: 'state-store' }, text(m));
    // No logger injected (scripts, tests): what knex would print, to stderr, scrubbed.
    else if (level !== 'debug') process.stderr.write(`state-store ${level}: ${text(m)}\n`);
  };
  return {
    debug: to('debug'),
    warn: to('warn'),
    error: to('error'),
    deprecate: (method: string, alt: string) => to('warn')(`${method} is deprecated, use ${alt}`),
  };
}

/** A knex instance for the URL. Lazy: nothing connects until the first query (see connectKnex). */
export function createKnex(url: string, options: KnexOptions = {}): Knex {
  const parsed = parseStateStoreUrl(url);
  const log = knexLog(url, options.logger);
  switch (parsed.dialect) {
    case 'sqlite': {
      const memory = parsed.filename === ':memory:';
      const filename = memory ? parsed.filename : resolve(parsed.filename);
      if (!memory) {
        try {
          mkdirSync(dirname(filename), { recursive: true });
        } catch (err) {
          throw new StateStoreError(
            'config',
            `cannot create the directory for the state store ${filename}: ${(err as Error).message}`,
            (err as NodeJS.ErrnoException).code,
          );
        }
      }
      return knexFactory({
        client: 'better-sqlite3',
        connection: { filename },
        useNullAsDefault: true,
        log,
        pool: {
          min: 1,
          max: 1,
          afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
            try {
              if (!memory) conn.pragma('journal_mode = WAL');
              conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
              conn.pragma('foreign_keys = ON');
              conn.pragma('synchronous = NORMAL');
              done(null, conn);
            } catch (err) {
              done(err as Error, conn);
            }
          },
        },
      });
    }
    case 'postgres':
      return knexFactory({
        // knex accepts a client class in place of its name.
        client: options.preparedStatements === false ? 'pg' : (PreparingPgClient as unknown as typeof Knex.Client),
        connection: {
          connectionString: parsed.connectionString,
          application_name: 'db-access',
          connectionTimeoutMillis: 10_000,
        },
        pool: { min: 0, max: POOL_MAX },
        acquireConnectionTimeout: 15_000,
        log,
      });
    case 'mysql':
      return knexFactory({
        client: 'mysql2',
        connection: { charset: 'utf8mb4', connectTimeout: 10_000, ...parsed.connection },
        pool: { min: 0, max: POOL_MAX },
        acquireConnectionTimeout: 15_000,
        log,
      });
  }
}

/** createKnex + a round trip, so a bad URL or unreachable server fails here with a password-free message. */
export async function connectKnex(url: string, options: KnexOptions = {}): Promise<Knex> {
  const knex = createKnex(url, options);
  try {
    await knex.raw('select 1');
    return knex;
  } catch (err) {
    await knex.destroy().catch(() => undefined);
    throw connectError(url, err);
  }
}

export function connectError(url: string, err: unknown): StateStoreError {
  const e = err as { message?: unknown; code?: unknown; errno?: unknown; errors?: unknown };
  let message = typeof e?.message === 'string' && e.message ? e.message : '';
  // Node's happy-eyeballs connect fails with an AggregateError whose own message is empty.
  if (!message && Array.isArray(e?.errors))
    message = e.errors
      .map((x) => (x as Error)?.message)
      .filter(Boolean)
      .join('; ');
  if (!message) message = typeof e?.code === 'string' ? e.code : String(err);
  const code = typeof e?.code === 'string' ? e.code : typeof e?.errno === 'number' ? String(e.errno) : undefined;
  return new StateStoreError(
    'connect',
    `cannot connect to the state store ${describeStateStoreUrl(url)}: ${scrubPassword(message, url)}`,
    code,
  );
}
