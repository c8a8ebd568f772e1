import type { Broker } from './broker.js';
import type { Catalog, DatabaseEntry } from './catalog.js';
import { BrokerError } from './errors.js';
import type { InboxEdges } from './inbox.js';
import type {
  ApproverDirectory,
  Clock,
  EngineRegistry,
  IncidentDirectory,
  Logger,
  Notifier,
  RateLimiter,
  Scheduler,
  StateStore,
} from './ports.js';

/** Everything the use cases need, injected by the composition root (src/app.ts). */
export interface CoreDeps {
  catalog: Catalog;
  store: StateStore;
  engines: EngineRegistry;
  scheduler: Scheduler;
  notifier: Notifier;
  approvers: ApproverDirectory;
  /** PagerDuty incidents and Opsgenie alerts (`og:<id>`), when configured (incident-scoped access, `whenResponding`). */
  incidents?: IncidentDirectory;
  clock: Clock;
  /** Requests and extension requests per person, across replicas; absent = not limited (one-process tools). */
  requestLimiter?: RateLimiter;
  /** The "expires soon" reminder goes out this long before expiry (default 5 min). */
  remindBeforeMs: number;
  logger: Logger;
  /** Revocation failing this long flags the grant for a human (default 10 min). */
  revokeAlertAfterMs: number;
  /** Test-only crash points; a no-op in production. */
  failpoint: (name: FailpointName) => void;
  /** Test-only hold points: never resolves at the armed one (the process then waits to be killed); absent or
   *  resolved at once in production. */
  hold?: (name: FailpointName) => Promise<void>;
  /** How each chat platform's inbox actions learn who acted and answer them (recovery after a crash). */
  inboxEdges?: InboxEdges;
  /** This application's in-process state (batchers, grants being worked on); made with these deps. */
  broker: Broker;
}

export type FailpointName =
  | 'provision.after-create-user'
  | 'revoke.after-disable'
  | 'revoke.after-delete'
  | 'inbox.before-process'
  | 'teams.before-process';

export function databaseOf(catalog: Catalog, name: string): DatabaseEntry {
  const db = catalog.databases.get(name);
  if (!db) {
    if (catalog.bundles?.has(name))
      throw new BrokerError(
        'UNKNOWN_DATABASE',
        `"${name}" is a bundle, not a database: ask for it in Slack or Teams with ${name} <duration> <reason>`,
        { field: 'database' },
      );
    throw new BrokerError('UNKNOWN_DATABASE', `unknown database "${name}"`, {
      field: 'database',
      valid: [...catalog.databases.keys(), ...(catalog.bundles?.keys() ?? [])],
    });
  }
  return db;
}
