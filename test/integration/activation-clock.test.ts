/**
 * A grant's clock starts when its user exists, on real targets slowed by a TCP proxy that delays every round trip:
 * the expiry is activation + the granted duration (not approval + duration), the revoke job is scheduled for it,
 * the target's backstop (PostgreSQL VALID UNTIL, the marker the MariaDB expiry EVENT reads) is never earlier than it, and the
 * sweeper ends the grant on that clock — not at approval + duration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backstopSlack } from '../../src/core/activation.js';
import { createAdminGrant } from '../../src/core/asking.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { provision } from '../../src/core/lifecycle.js';
import { Sweeper } from '../../src/core/sweeper.js';
import { EXPIRY_EVENT, parseUtcDatetime } from '../../src/targets/mysql/sql.js';
import type { OpenStateStore } from '../../src/store/index.js';
import { openCoreStage } from '../support/core-deps.js';
import { setupMariadbTarget } from '../support/mariadb-target.js';
import { setupPgTarget, startScramCluster } from '../support/pg-cluster.js';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.js';

interface Target {
  entry: DatabaseEntry;
  userExists(username: string): Promise<boolean>;
  /** When the target itself will refuse or remove the user (epoch ms). */
  backstopOf(username: string): Promise<number | undefined>;
  teardown(): Promise<void>;
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'PostgreSQL',
    async () => {
      const cluster = await startScramCluster();
      const t = await setupPgTarget(cluster);
      return {
        entry: t.entry,
        userExists: (u) => t.userExists(u),
        backstopOf: async (u) => {
          const [row] = await t.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [u]);
          return row?.rolvaliduntil instanceof Date ? row.rolvaliduntil.getTime() : undefined;
        },
        teardown: () => cluster.stop(),
      };
    },
  ],
  [
    'MariaDB',
    async () => {
      const t = await setupMariadbTarget();
      // The backstop is the schema's expiry EVENT, made only while the event scheduler runs; it reads the markers.
      await t.query('SET GLOBAL event_scheduler = ON');
      return {
        entry: t.entry,
        userExists: (u) => t.userExists(u),
        backstopOf: async (u) => {
          const [event] = await t.query(
            'SELECT 1 AS present FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?',
            [t.names.brokerSchema, EXPIRY_EVENT],
          );
          const marker = await t.markerOf(u);
          return event && marker ? parseUtcDatetime(marker.expiresAt) : undefined;
        },
        teardown: () => t.teardown(),
      };
    },
  ],
];

const DURATION_MS = 5_000;
const DELAY_MS = 250;

describe.each(targets)('the activation clock on a slow %s', (_label, makeTarget) => {
  let target: Target;
  let proxy: SlowProxy;
  let store: OpenStateStore;
  let deps: CoreDeps;
  /** Unset: real time. Set: the moment the sweeper is asked about. */
  let pinned: number | undefined;
  const scheduled: Array<{ grantId: number; at: number }> = [];

  beforeAll(async () => {
    target = await makeTarget();
    proxy = await startSlowProxy(target.entry.host, target.entry.port, 0);
    const slow = { ...target.entry, name: 'slow-db', host: '127.0.0.1', port: proxy.port };
    ({ store, deps } = await openCoreStage([slow], { now: () => pinned ?? Date.now() }));
    deps.scheduler = {
      ...deps.scheduler,
      scheduleRevokes: async (jobs) => void scheduled.push(...jobs),
    };
  }, 120_000);

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await proxy?.stop();
    await target?.teardown();
  }, 60_000);

  it('expires at activation + duration; the backstop is never earlier; the sweeper ends it on that clock', async () => {
    const { grant: approved } = await createAdminGrant(
      deps,
      { platform: 'cli', id: 'cli:ops' },
      { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com', name: 'alice' },
      { database: 'slow-db', level: 'read', duration: DURATION_MS, reason: 'a slow target' },
    );
    expect(approved.expiresAt).toBe(approved.createdAt + DURATION_MS);

    proxy.delayMs = DELAY_MS; // every round trip to the target now takes ≥ 0.25 s: creating the user takes seconds
    const res = await provision(deps, approved.id);
    proxy.delayMs = 0;
    expect(res.outcome).toBe('active');

    const grant = (await store.getGrant(approved.id))!;
    expect(grant.status).toBe('active');
    // Slow enough that a clock started at approval would have lost more than the backstop's slack.
    expect(grant.activatedAt! - grant.createdAt).toBeGreaterThan(backstopSlack(DURATION_MS));
    expect(grant.expiresAt).toBe(grant.activatedAt! + DURATION_MS);
    expect(scheduled).toContainEqual({ grantId: grant.id, at: grant.expiresAt });
    const provisioned = await store.listAudit({ type: 'grant.provisioned', grantId: grant.id });
    expect(provisioned[0]?.detail).toMatchObject({ activatedAt: grant.activatedAt, expiresAt: grant.expiresAt });

    // The target's own backstop was moved to the activation clock: not before the broker's expiry.
    const backstop = await target.backstopOf(grant.username);
    expect(backstop).toBeGreaterThanOrEqual(grant.expiresAt);

    // At approval + duration (+ a moment) the grant is not over: the sweeper leaves it and its user alone.
    const sweeper = new Sweeper(deps, {
      graceMs: 0,
      staleProvisioningMs: 60_000,
      retryEveryMs: 0,
      incidentPollMs: 1e9,
    });
    pinned = grant.createdAt + DURATION_MS + 100;
    expect(pinned).toBeLessThan(grant.expiresAt);
    await sweeper.sweep();
    expect((await store.getGrant(grant.id))!.status).toBe('active');
    expect(await target.userExists(grant.username)).toBe(true);

    // Past activation + duration it is.
    pinned = grant.expiresAt + 1;
    const report = await sweeper.sweep();
    pinned = undefined;
    expect(report.revoked).toBe(1);
    const ended = (await store.getGrant(grant.id))!;
    expect(ended.status).toBe('revoked');
    expect(ended.endKind).toBe('overdue');
    expect(await target.userExists(grant.username)).toBe(false);
  }, 60_000);
});
