/**
 * The state store: the broker's source of truth, on SQLite, PostgreSQL or MySQL/MariaDB (DATABASE_URL).
 * Opening never migrates: `db-access migrate` runs migrateLatest; serve/worker check pendingMigrations.
 */
import type { Knex } from 'knex';
import type { StateStore } from '../core/ports.js';
import { connectKnex, dialectOf, type KnexOptions } from './connect.js';
import { KnexStateStore } from './knex-state-store.js';

export { StateStoreError, type StateStoreErrorKind } from './errors.js';
export {
  ACCEPTED_DATABASE_URL_FORMS,
  DEFAULT_DATABASE_URL,
  describeStateStoreUrl,
  parseStateStoreUrl,
  type StoreDialect,
} from './url.js';
export { createKnex, connectKnex, dialectOf, type KnexOptions } from './connect.js';
export {
  migrateLatest,
  pendingMigrations,
  freeMigrationLock,
  migrationSource,
  type MigrateOptions,
} from './migrate.js';
export { listTables, dumpTables, type TableDump } from './introspect.js';
export { KnexStateStore } from './knex-state-store.js';
export { isUniqueViolation } from './errors.js';

export type OpenStateStore = StateStore & { readonly knex: Knex };

/** The store's connection options that come from the settings. */
export function storeOptions(settings: { DATABASE_PREPARED_STATEMENTS: boolean }): KnexOptions {
  return { preparedStatements: settings.DATABASE_PREPARED_STATEMENTS };
}

/**
 * Connects (one round trip, so a bad URL or unreachable server fails here with a password-free StateStoreError)
 * and returns the store. Does not migrate.
 */

export async function openStateStore(url: string, options: KnexOptions = {}): Promise<OpenStateStore> {
  const knex = await connectKnex(url, options);
  return new KnexStateStore(knex, dialectOf(knex));
}
