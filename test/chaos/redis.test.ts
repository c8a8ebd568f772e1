/**
 * Chaos: Redis loses everything — FLUSHALL under a running worker, and a kill -9 followed by an empty Redis on the
 * same port. Redis only schedules: the state DB is the truth, so every grant still ends at (never before) its
 * expiry and a lost provisioning job is re-enqueued. The invariant checker runs after each case.
 */
import { describe, expect, it } from 'vitest';
import { revokeAsUser } from '../../src/core/lifecycle.js';
import { usePgChaosStage } from '../support/chaos-harness.js';

describe('chaos: Redis loses its data', () => {
  const chaos = usePgChaosStage('redis');
  const db = () => chaos.target.entry.name;

  it('FLUSHALL with active grants and a queued provisioning: all revoked within 15 s of expiry, never before; the lost provisioning is re-enqueued [I1 I3 I4 I5 I6]', async () => {
    // Approved while no worker runs: its provisioning job exists only in Redis.
    const queued = await chaos.stage.approvedGrant(db(), '1h');
    await chaos.stage.worker();
    const actives = await Promise.all(['6s', '8s', '10s'].map((d) => chaos.stage.approvedGrant(db(), d)));
    for (const g of actives) await chaos.stage.grantIn(g.id, ['active']);
    await chaos.stage.stopWorkers();
    const orphanedProvision = await chaos.stage.approvedGrant(db(), '1h'); // enqueued, never picked up
    expect(await chaos.stage.redis.client.flushall()).toBe('OK');
    expect(await chaos.stage.redis.client.dbsize()).toBe(0);
    await chaos.stage.worker();

    for (const g of actives) {
      const ended = await chaos.stage.grantIn(g.id, ['revoked']);
      expect(ended.revokedAt! - ended.expiresAt).toBeGreaterThanOrEqual(0);
      expect(ended.revokedAt! - ended.expiresAt).toBeLessThanOrEqual(15_000);
    }
    // Provisioning lost with Redis: the sweeper re-enqueues it from the state DB (after PROVISION_STALE_AFTER, 5 s here).
    for (const g of [queued, orphanedProvision]) await chaos.stage.grantIn(g.id, ['active'], 60_000);
    expect(await chaos.stage.violations([chaos.probe], { terminal: false })).toEqual([]);
    for (const g of [queued, orphanedProvision])
      await revokeAsUser(chaos.stage.deps, g.id, g.requester, 'chaos case over');
    expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
  });

  it('Redis killed (-9) and restarted empty: the worker reconnects, expiry still holds, new approvals provision [I1 I3 I4 I5 I6]', async () => {
    await chaos.stage.worker();
    const before = await Promise.all(['5s', '7s'].map((d) => chaos.stage.approvedGrant(db(), d)));
    for (const g of before) await chaos.stage.grantIn(g.id, ['active']);
    await chaos.stage.restartRedis();
    expect(await chaos.stage.redis.client.dbsize()).toBe(0);
    for (const g of before) {
      const ended = await chaos.stage.grantIn(g.id, ['revoked']);
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
      expect(ended.revokedAt! - ended.expiresAt).toBeLessThanOrEqual(15_000);
    }
    // The producer's and the worker's connections came back: a new approval is provisioned by a job.
    const after = await chaos.stage.approvedGrant(db(), '4s');
    await chaos.stage.grantIn(after.id, ['active'], 20_000);
    await chaos.stage.grantIn(after.id, ['revoked']);
    expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
  });
});
