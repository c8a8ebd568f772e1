/** The composition root: the one place that wires adapters to the core. */
import type { Redis } from 'ioredis';
import type { Logger as Pino } from 'pino';
import type { Catalog } from './core/catalog.js';
import type { CoreDeps } from './core/deps.js';
import { makeFailpoint } from './core/failpoints.js';
import type { ApproverDirectory, Clock, Logger, Notifier } from './core/ports.js';
import { ApproverResolver } from './oncall/resolver.js';
import type { Settings } from './config/settings.js';
import { connectRedis } from './jobs/queues.js';
import { BullScheduler } from './jobs/scheduler.js';
import { GrantWorker } from './jobs/worker.js';
import { LogNotifier } from './notify/log-notifier.js';
import { openStateStore, pendingMigrations } from './store/index.js';
import { CatalogEngines } from './targets/registry.js';

export const systemClock: Clock = { now: () => Date.now() };

export interface App {
  deps: CoreDeps;
  scheduler: BullScheduler;
  redis: Redis;
  engines: CatalogEngines;
  logger: Pino;
  close(): Promise<void>;
}

export interface AppOptions {
  settings: Settings;
  catalog: Catalog;
  logger: Pino;
  clock?: Clock;
  notifier?: Notifier;
  approvers?: ApproverDirectory;
  role: 'producer' | 'worker';
}

export class PendingMigrationsError extends Error {
  constructor(readonly pending: string[]) {
    super(`the state store has ${pending.length} pending migration(s) (${pending.join(', ')}): run "db-access migrate" first`);
  }
}

export async function openApp(opts: AppOptions): Promise<App> {
  const { settings, catalog, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const store = await openStateStore(settings.DATABASE_URL);
  const pending = await pendingMigrations(store.knex);
  if (pending.length > 0) {
    await store.close();
    throw new PendingMigrationsError(pending);
  }
  const redis = await connectRedis(settings.REDIS_URL, opts.role);
  const scheduler = new BullScheduler(redis, settings.QUEUE_PREFIX, clock);
  const engines = new CatalogEngines(catalog, logger as Logger);
  const deps: CoreDeps = {
    catalog,
    store,
    engines,
    scheduler,
    clock,
    logger: logger as Logger,
    notifier: opts.notifier ?? new LogNotifier(logger as Logger),
    approvers: opts.approvers ?? new ApproverResolver(undefined, clock),
    remindBeforeMs: settings.REMIND_BEFORE,
    revokeAlertAfterMs: settings.REVOKE_ALERT_AFTER,
    failpoint: makeFailpoint(settings.DB_ACCESS_FAILPOINT, () => process.kill(process.pid, 'SIGKILL')),
  };
  return {
    deps,
    scheduler,
    redis,
    engines,
    logger,
    async close() {
      await scheduler.close().catch(() => undefined);
      await engines.close();
      await store.close();
      redis.disconnect();
    },
  };
}

export function createWorker(app: App, settings: Settings): GrantWorker {
  return new GrantWorker(app.deps, app.scheduler, app.redis, {
    prefix: settings.QUEUE_PREFIX,
    concurrency: settings.WORKER_CONCURRENCY,
    lockDurationMs: settings.WORKER_LOCK,
    sweepIntervalMs: settings.SWEEP_INTERVAL,
    revokeRetryMaxMs: settings.REVOKE_RETRY_MAX,
  });
}
