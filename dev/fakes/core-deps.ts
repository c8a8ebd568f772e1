/**
 * The core's dependencies on in-memory fakes only: a MemoryStateStore, a MemoryEngine per catalog database, a
 * MemoryScheduler, the real approver resolver (catalog emails and Slack users need no network) and a clock the
 * caller moves. Core rules run on these in milliseconds; the real-server suites cover the adapters.
 */
import { Broker, type CorePorts } from '../../src/core/broker.js';
import type { Catalog, DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { provision, revokeIfDue } from '../../src/core/lifecycle.js';
import type { Clock, Logger, Notifier } from '../../src/core/ports.js';
import { ApproverResolver } from '../../src/oncall/resolver.js';
import { MemoryEngine, MemoryEngines, type MemoryEngineOptions } from './memory-engine.js';
import { MemoryScheduler, type JobHandlers } from './memory-scheduler.js';
import { MemoryStateStore } from './memory-state-store.js';

/** A clock that moves only when told. */
export class ManualClock implements Clock {
  constructor(private at: number) {}

  now(): number {
    return this.at;
  }

  advance(ms: number): number {
    return (this.at += ms);
  }

  set(at: number): void {
    this.at = at;
  }
}

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silent };

export interface MemoryCore {
  deps: CoreDeps;
  store: MemoryStateStore;
  engines: MemoryEngines;
  scheduler: MemoryScheduler;
  clock: ManualClock;
  /** The engine of one catalog database. */
  engine(database: string): MemoryEngine;
  /** What the queue worker does with each job: provision, or revoke once due (a job fired early waits again). */
  handlers: JobHandlers;
}

export function memoryCore(
  databases: readonly DatabaseEntry[],
  opts: { notifier: Notifier; clock?: ManualClock; engine?: MemoryEngineOptions; over?: Partial<CorePorts> },
): MemoryCore {
  const catalog: Catalog = { databases: new Map(databases.map((d) => [d.name, d])) };
  const clock = opts.clock ?? new ManualClock(Date.UTC(2031, 0, 2, 3, 0, 0));
  const store = new MemoryStateStore();
  const engines = new MemoryEngines(
    databases.map((d) => d.name),
    (name) => new MemoryEngine({ engine: catalog.databases.get(name)!.engine, ...opts.engine }),
  );
  const scheduler = new MemoryScheduler();
  const { deps } = new Broker({
    catalog,
    store,
    engines,
    scheduler,
    notifier: opts.notifier,
    approvers: new ApproverResolver(undefined, clock),
    clock,
    logger: silent,
    revokeAlertAfterMs: 10 * 60_000,
    remindBeforeMs: 5 * 60_000,
    failpoint: () => {},
    ...opts.over,
  });
  const handlers: JobHandlers = {
    provision: async (grantId) => void (await provision(deps, grantId)),
    revoke: async (grantId) => {
      const check = await revokeIfDue(deps, grantId);
      if (!check.due) await scheduler.revokeAt(grantId, check.dueAt);
    },
  };
  return { deps, store, engines, scheduler, clock, engine: (d) => engines.get(d), handlers };
}
