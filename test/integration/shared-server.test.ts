/**
 * Two installations (each its own state DB and Redis queues) managing the same database server, both sweeping every
 * second: each drops its own orphans and leaves the other's users alone, on PostgreSQL and on MariaDB. The marker
 * each writes carries its installation id; a marker without one (written before ids existed) counts as anyone's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { provision, revoke } from '../../src/core/lifecycle.js';
import type { Actor } from '../../src/core/model.js';
import { createAdminGrant } from '../../src/core/asking.js';
import { openTestApp, type TestApp } from '../support/app.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { setupMariadbTarget } from '../support/mariadb-target.js';
import { setupPgTarget, startScramCluster } from '../support/pg-cluster.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

interface SharedTarget {
  entry: DatabaseEntry;
  userExists(username: string): Promise<boolean>;
  teardown(): Promise<void>;
}

const TARGETS: Array<[string, () => Promise<SharedTarget>]> = [
  [
    'PostgreSQL',
    async () => {
      const cluster = await startScramCluster();
      const target = await setupPgTarget(cluster);
      return {
        entry: target.entry,
        userExists: async (u) => (await target.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [u])).length > 0,
        teardown: () => cluster.stop(),
      };
    },
  ],
  [
    'MariaDB',
    async () => {
      const target = await setupMariadbTarget();
      return { entry: target.entry, userExists: (u) => target.userExists(u), teardown: () => target.teardown() };
    },
  ],
];

const ADMIN: Actor = { platform: 'cli', id: 'shared-server-test' };

describe.each(TARGETS)('two installations sharing one %s server', (_engine, makeTarget) => {
  let target: SharedTarget;
  const installs: TestApp[] = [];

  beforeAll(async () => {
    target = await makeTarget();
    const catalog = writeCatalog([target.entry]);
    for (const name of ['staging', 'production']) {
      installs.push(
        await openTestApp(
          {
            ...catalog.env,
            CATALOG_PATH: catalog.path,
            DATABASE_URL: tempSqliteUrl(),
            REDIS_URL: sharedRedisUrl,
            QUEUE_PREFIX: uniquePrefix(name),
            SWEEP_INTERVAL: '1s',
          },
          { worker: true },
        ),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const i of installs) await i.close().catch(() => undefined);
    await target?.teardown();
  }, 60_000);

  async function grantIn(install: TestApp, who: string) {
    const grantee: Actor = { platform: 'cli', id: `email:${who}`, email: who };
    const { grant } = await createAdminGrant(install.app.deps, ADMIN, grantee, {
      database: target.entry.name,
      level: 'read',
      duration: '1h',
      reason: 'shared server',
    });
    const result = await provision(install.app.deps, grant.id);
    expect(result.outcome).toBe('active');
    return result.grant;
  }

  it("each sweeps its own orphans and never the other's live users, both directions", async () => {
    const [a, b] = installs as [TestApp, TestApp];
    expect(await a.app.deps.store.installationId()).not.toBe(await b.app.deps.store.installationId());
    const liveA = await grantIn(a, 'live-a@example.com');
    const liveB = await grantIn(b, 'live-b@example.com');
    const orphanA = await grantIn(a, 'orphan-a@example.com');
    const orphanB = await grantIn(b, 'orphan-b@example.com');
    // Each installation loses the row of one of its grants (a restored backup): that user is its orphan.
    for (const [install, g] of [
      [a, orphanA],
      [b, orphanB],
    ] as const) {
      expect(
        await install.app.deps.store.transitionGrant(g.id, ['active'], {
          status: 'revoked',
          revokedAt: Date.now(),
          endReason: 'test: row lost',
        }),
      ).toBe(true);
    }
    // A pass that dropped an installation's orphan listed the server's users with the other's live user among them
    // (a user whose name is not among the installation's live grants is an orphan to it, whatever its grant id).
    // The sweeper audits a drop after making it: wait for both, or the audit may be read in between.
    const audited = async (install: typeof a) =>
      (await install.app.deps.store.listAudit({ type: 'sweeper.orphan_dropped' })).length > 0;
    await waitFor(
      'both orphans to be dropped and audited',
      async () =>
        !(await target.userExists(orphanA.username)) &&
        !(await target.userExists(orphanB.username)) &&
        (await audited(a)) &&
        (await audited(b)),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    expect(await target.userExists(liveA.username)).toBe(true);
    expect(await target.userExists(liveB.username)).toBe(true);
    for (const [install, g] of [
      [a, orphanA],
      [b, orphanB],
    ] as const) {
      const dropped = (await install.app.deps.store.listAudit({ type: 'sweeper.orphan_dropped' })).map(
        (e) => e.detail.username,
      );
      expect(dropped).toEqual([g.username]);
    }
    // Each still ends its own grant.
    await revoke(a.app.deps, liveA.id, ADMIN, 'done');
    await revoke(b.app.deps, liveB.id, ADMIN, 'done');
    expect(await target.userExists(liveA.username)).toBe(false);
    expect(await target.userExists(liveB.username)).toBe(false);
  });
});
