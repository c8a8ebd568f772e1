/** PostgreSQL adapter of the DatabaseEngine port. */
import type { DatabaseEntry } from '../../core/catalog.js';
import type { DatabaseEngine } from '../../core/ports.js';
import { PostgresEngine, type PostgresEngineDeps } from './engine.js';

export { postgresAdminSetupSql, type AdminSetupOptions } from './admin-setup.js';
export { classifyCode, classifyError } from './errors.js';
export { scramSha256Verifier } from './scram.js';
export type { PostgresEngineDeps } from './engine.js';
export type { Tuning as PostgresTuning } from './connection.js';

export function createPostgresEngine(db: DatabaseEntry, deps: PostgresEngineDeps): DatabaseEngine {
  return new PostgresEngine(db, deps);
}
