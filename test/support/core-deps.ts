/**
 * The core's dependencies for core-level tests: the real store and engines, our own ports recorded (scheduler,
 * notifier), and a clock the test controls. Override any part.
 */
import { Broker, type CorePorts } from '../../src/core/broker.js';
import type { Catalog, DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import type { Clock, StateStore } from '../../src/core/ports.js';
import { createLogger } from '../../src/logging.js';
import { ApproverResolver } from '../../src/oncall/resolver.js';
import { CatalogEngines } from '../../src/targets/registry.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from './catalog.js';
import { recordingNotifier } from './notifiers.js';

export function coreDeps(
  catalog: Catalog,
  store: StateStore,
  over: Partial<CorePorts> & { clock?: Clock; enqueued?: number[] } = {},
): CoreDeps {
  const { enqueued = [], ...rest } = over;
  const clock = over.clock ?? { now: () => Date.now() };
  const logger = createLogger('silent');
  return new Broker({
    catalog,
    store,
    engines: new CatalogEngines(catalog, logger),
    scheduler: {
      provision: async (id) => void enqueued.push(id),
      revokeAt: async () => {},
      scheduleRevokes: async () => {},
      cancelRevoke: async () => {},
    },
    notifier: recordingNotifier(),
    approvers: new ApproverResolver(undefined, clock),
    clock,
    logger,
    revokeAlertAfterMs: 10 * 60_000,
    remindBeforeMs: 5 * 60_000,
    failpoint: () => {},
    ...rest,
  }).deps;
}

/** A fresh migrated SQLite state store and the core's dependencies on it for these databases, messages recorded. */
export async function openCoreStage(
  databases: readonly DatabaseEntry[],
  clock: Clock,
): Promise<{ store: OpenStateStore; deps: CoreDeps; notifier: ReturnType<typeof recordingNotifier> }> {
  const url = tempSqliteUrl();
  await migrateLatest(url);
  const store = await openStateStore(url);
  const notifier = recordingNotifier();
  const deps = coreDeps({ databases: new Map(databases.map((d) => [d.name, d])) }, store, { notifier, clock });
  return { store, deps, notifier };
}
