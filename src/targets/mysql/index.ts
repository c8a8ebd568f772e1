/** The MySQL 8 / MariaDB 10.11 target adapter. Only MariaDB is exercised by the tests in this repository. */
import type { DatabaseEntry } from '../../core/catalog.js';
import type { DatabaseEngine, Logger } from '../../core/ports.js';
import { MysqlEngine } from './engine.js';
import type { ServerQueues } from '../serialize.js';

export { mysqlAdminSetupSql, type MysqlAdminSetupOptions } from './admin-setup.js';
export { classifyMysqlError, isAccountLocked, type Flavour } from './errors.js';

/** `installation`: written into each user's marker; the engine then treats only this installation's users (and
 *  markers written before installation ids) as its own. Omitted by tools that only inspect. `queues`: DDL turns per
 *  server shared with the other engines of a registry (absent: the engine's own). */
export function createMysqlEngine(
  db: DatabaseEntry,
  deps: { logger: Logger; installation?: string; queues?: ServerQueues },
): DatabaseEngine {
  return new MysqlEngine(db, deps.logger, deps.installation, deps.queues);
}
