/**
 * Chaos: Redis loses everything — FLUSHALL under a running worker, and a kill -9 followed by an empty Redis on the
 * same port. Redis only schedules: the state DB is the truth, so every grant still ends at (never before) its
 * expiry and a lost provisioning job is re-enqueued. The invariant checker runs after each case.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { revokeAsUser } from '../../src/core/lifecycle.js';
import { pgProbe, startChaosStage, type ChaosStage } from '../support/chaos-harness.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';

describe('chaos: Redis loses its data', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let stage: ChaosStage;
  const db = () => target.entry.name;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    stage = await startChaosStage('redis', [target.entry]);
  });

  afterEach(async () => {
    await stage?.stopWorkers();
  });

  afterAll(async () => {
    await stage?.close();
    await cluster?.stop();
  });

  it('FLUSHALL with active grants and a queued provisioning: all revoked within 15 s of expiry, never before; the lost provisioning is re-enqueued [I1 I3 I4 I5 I6]', async () => {
    // Approved while no worker runs: its provisioning job exists only in Redis.
    const queued = await stage.approvedGrant(db(), '1h');
    await stage.worker();
    const actives = await Promise.all(['6s', '8s', '10s'].map((d) => stage.approvedGrant(db(), d)));
    for (const g of actives) await stage.grantIn(g.id, ['active']);
    await stage.stopWorkers();
    const orphanedProvision = await stage.approvedGrant(db(), '1h'); // enqueued, never picked up
    expect(await stage.redis.client.flushall()).toBe('OK');
    expect(await stage.redis.client.dbsize()).toBe(0);
    await stage.worker();

    for (const g of actives) {
      const ended = await stage.grantIn(g.id, ['revoked']);
      expect(ended.revokedAt! - ended.expiresAt).toBeGreaterThanOrEqual(0);
      expect(ended.revokedAt! - ended.expiresAt).toBeLessThanOrEqual(15_000);
    }
    // Provisioning lost with Redis: the sweeper re-enqueues it (after 30 s of waiting, from the state DB).
    for (const g of [queued, orphanedProvision]) await stage.grantIn(g.id, ['active'], 60_000);
    expect(await stage.violations([pgProbe(target)], { terminal: false })).toEqual([]);
    for (const g of [queued, orphanedProvision]) await revokeAsUser(stage.deps, g.id, g.requester, 'chaos case over');
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });

  it('Redis killed (-9) and restarted empty: the worker reconnects, expiry still holds, new approvals provision [I1 I3 I4 I5 I6]', async () => {
    await stage.worker();
    const before = await Promise.all(['5s', '7s'].map((d) => stage.approvedGrant(db(), d)));
    for (const g of before) await stage.grantIn(g.id, ['active']);
    await stage.restartRedis();
    expect(await stage.redis.client.dbsize()).toBe(0);
    for (const g of before) {
      const ended = await stage.grantIn(g.id, ['revoked']);
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
      expect(ended.revokedAt! - ended.expiresAt).toBeLessThanOrEqual(15_000);
    }
    // The producer's and the worker's connections came back: a new approval is provisioned by a job.
    const after = await stage.approvedGrant(db(), '4s');
    await stage.grantIn(after.id, ['active'], 20_000);
    await stage.grantIn(after.id, ['revoked']);
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });
});
