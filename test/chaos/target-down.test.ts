/**
 * Chaos: the target PostgreSQL server (a cluster of its own, stopped like a crash and started again on the same
 * port) is down while a grant is provisioned, and while a grant expires. Failures are audited and retried; nothing
 * is left behind once it is back. The invariant checker runs after each case.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { revealCredentials } from '../../src/core/lifecycle.js';
import { pgProbe, startChaosStage, startPgServer, stopPgServer, type ChaosStage } from '../support/chaos-harness.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';

describe('chaos: target server down', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let stage: ChaosStage;
  const db = () => target.entry.name;
  const auditCount = async (grantId: number, type: string) => (await stage.deps.store.listAudit({ grantId, type })).length;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    stage = await startChaosStage('target-down', [target.entry]);
    await stage.worker();
  });

  afterEach(async () => {
    await startPgServer(cluster).catch(() => undefined); // a failed case must not leave the server down
  });

  afterAll(async () => {
    await stage?.close();
    await cluster?.stop();
  });

  it('down during provisioning: the failure is audited and retried; once it is back, one user, revoked at expiry [I1 I3 I4 I5 I6]', async () => {
    await stopPgServer(cluster);
    const grant = await stage.approvedGrant(db(), '15s');
    await waitFor('a provisioning failure to be audited', async () => (await auditCount(grant.id, 'grant.provision_failed')) >= 1, { timeoutMs: 30_000 });
    expect((await stage.deps.store.getGrant(grant.id))!.status).toBe('provisioning');
    await startPgServer(cluster);
    const active = await stage.grantIn(grant.id, ['active'], 60_000);
    expect(await target.userExists(grant.username)).toBe(true);
    const failures = await stage.deps.store.listAudit({ grantId: grant.id, type: 'grant.provision_failed' });
    expect(failures.every((f) => f.detail.willRetry === true)).toBe(true);
    const ended = await stage.grantIn(grant.id, ['revoked'], 30_000);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(active.expiresAt);
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });

  it('down across expiry: revocation fails, is audited and retried without a cap; revoked (not before expiry) once the server is back [I1 I2 I4 I5 I6]', async () => {
    const grant = await stage.approvedGrant(db(), '5s');
    await stage.grantIn(grant.id, ['active']);
    const { password } = await revealCredentials(stage.deps, grant.id, grant.requester);
    const session = await target.connectAs(grant.username, password);
    await session.query('BEGIN');
    await stopPgServer(cluster);
    await waitFor('failed revocations to be audited', async () => (await auditCount(grant.id, 'grant.revoke_failed')) >= 2, { timeoutMs: 40_000, intervalMs: 200 });
    const stuck = (await stage.deps.store.getGrant(grant.id))!;
    expect(['active', 'revoking']).toContain(stuck.status);
    await startPgServer(cluster);
    const ended = await stage.grantIn(grant.id, ['revoked'], 30_000);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
    expect(ended.revokeAttempts).toBeGreaterThan(0);
    await expect(target.connectAs(grant.username, password)).rejects.toThrow();
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });
});
