/** Catalog → one DatabaseEngine per database. Engines are created lazily: a target that is down costs nothing. */
import type { Catalog } from '../core/catalog.js';
import { BrokerError } from '../core/errors.js';
import type { DatabaseEngine, EngineRegistry, Logger } from '../core/ports.js';
import { createMysqlEngine } from './mysql/index.js';
import { createPostgresEngine } from './postgres/index.js';
import { ServerQueues } from './serialize.js';

export class CatalogEngines implements EngineRegistry {
  private readonly engines = new Map<string, DatabaseEngine>();
  /** Engines of databases on the same server take their DDL turns here (and across processes on the server). */
  private readonly queues = new ServerQueues();

  constructor(
    private readonly catalog: Catalog,
    private readonly logger: Logger,
    /** The state store's installation id (PostgreSQL markers carry it); omitted by tools that only inspect. */
    private readonly installation?: string,
  ) {}

  get(database: string): DatabaseEngine {
    let engine = this.engines.get(database);
    if (engine) return engine;
    const db = this.catalog.databases.get(database);
    if (!db)
      throw new BrokerError('UNKNOWN_DATABASE', `unknown database "${database}"`, {
        field: 'database',
        valid: [...this.catalog.databases.keys()],
      });
    const logger = this.logger.child({ target: db.name });
    const deps = { logger, queues: this.queues, ...(this.installation && { installation: this.installation }) };
    engine = db.engine === 'postgres' ? createPostgresEngine(db, deps) : createMysqlEngine(db, deps);
    this.engines.set(database, engine);
    return engine;
  }

  all(): Array<{ database: string; engine: DatabaseEngine }> {
    return [...this.catalog.databases.keys()].map((database) => ({ database, engine: this.get(database) }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.close().catch(() => undefined)));
    this.engines.clear();
  }
}
