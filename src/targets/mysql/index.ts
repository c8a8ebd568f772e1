/** The MySQL 8 / MariaDB 10.11 target adapter. Only MariaDB is exercised by the tests in this repository. */
import type { DatabaseEntry } from '../../core/catalog.js';
import type { DatabaseEngine, Logger } from '../../core/ports.js';
import { MysqlEngine } from './engine.js';

export { mysqlAdminSetupSql, type MysqlAdminSetupOptions } from './admin-setup.js';
export { classifyMysqlError, isAccountLocked, type Flavour } from './errors.js';

export function createMysqlEngine(db: DatabaseEntry, deps: { logger: Logger }): DatabaseEngine {
  return new MysqlEngine(db, deps.logger);
}
