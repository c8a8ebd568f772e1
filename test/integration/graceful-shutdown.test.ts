/**
 * SIGTERM to a worker with 50 provisions in flight: it stops taking jobs, finishes the ones it holds, and exits;
 * nothing is left half-provisioned, and another worker completes the rest — none lost, none duplicated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { openTestApp, type TestApp } from '../support/app.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { runCli, startWorker } from '../support/processes.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

describe('graceful shutdown', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let env: Record<string, string>;
  let app: TestApp;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    const catalog = writeCatalog([target.entry]);
    env = {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: tempSqliteUrl(),
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('sigterm'),
      WORKER_CONCURRENCY: '2',
      WORKER_LOCK: '3s',
    };
    expect((await runCli(['migrate'], env)).code).toBe(0);
    app = await openTestApp(env);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  }, 60_000);

  it('SIGTERM during 50 in-flight provisions: none lost, none duplicated, nothing half-done', async () => {
    const deps = app.app.deps;
    const requests = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        requestAccess(
          deps,
          { platform: 'slack', id: `USIG${i}`, email: `sig${i}@example.com` },
          { database: target.entry.name, level: 'read', duration: '30m', reason: 'sigterm test' },
        ),
      ),
    );
    const first = await startWorker(env);
    const grantIds: number[] = [];
    for (const r of requests) {
      const res = await approve(deps, r.id, { platform: 'slack', id: 'UAPPROVER', email: 'bob@example.com' });
      if (res.status === 'approved') grantIds.push(res.grant.id);
    }
    expect(grantIds).toHaveLength(50);
    await waitFor(
      'the first provisions to complete',
      async () => (await deps.store.listGrants({ ids: grantIds, statuses: ['active'] })).length >= 3,
    );
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });

    // Nothing half-done: every grant is active with its user, or still provisioning without one.
    const after = await deps.store.listGrants({ ids: grantIds });
    const active = after.filter((g) => g.status === 'active');
    expect(active.length).toBeLessThan(50); // the shutdown came mid-way
    for (const g of after)
      expect(await target.userExists(g.username), `${g.status} ${g.username}`).toBe(g.status === 'active');

    const second = await startWorker(env);
    try {
      await waitFor(
        'every grant to be active',
        async () => (await deps.store.listGrants({ ids: grantIds, statuses: ['active'] })).length === 50,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    } finally {
      await second.stop();
    }
    const managed = (await deps.engines.get(target.entry.name).listManagedUsers()).filter((m) =>
      grantIds.includes(m.grantId),
    );
    expect(managed).toHaveLength(50);
    expect(new Set(managed.map((m) => m.grantId)).size).toBe(50);
    const provisioned = (await deps.store.listAudit({ type: 'grant.provisioned' })).filter((e) =>
      grantIds.includes(e.grantId!),
    );
    expect(provisioned).toHaveLength(50); // each exactly once
  }, 120_000);
});
