/**
 * Chaos: the target PostgreSQL server (a cluster of its own, stopped like a crash and started again on the same
 * port) is down while a grant is provisioned, and while a grant expires. Failures are audited and retried; nothing
 * is left behind once it is back. The invariant checker runs after each case.
 */
import { describe, expect, it } from 'vitest';
import { revealCredentials } from '../../src/core/lifecycle.js';
import { usePgChaosStage, startPgServer, stopPgServer } from '../support/chaos-harness.js';
import { waitFor } from '../support/wait.js';
import { gid } from '../support/ids.js';

describe('chaos: target server down', () => {
  const chaos = usePgChaosStage('target-down');
  const db = () => chaos.target.entry.name;
  const auditCount = async (grantId: number, type: string) =>
    (await chaos.stage.deps.store.listAudit({ grantId: gid(grantId), type })).length;

  it('down during provisioning: the failure is audited and retried; once it is back, one user, revoked at expiry [I1 I3 I4 I5 I6]', async () => {
    await chaos.stage.worker();
    await stopPgServer(chaos.cluster);
    const grant = await chaos.stage.approvedGrant(db(), '15s');
    await waitFor(
      'a provisioning failure to be audited',
      async () => (await auditCount(grant.id, 'grant.provision_failed')) >= 1,
      { timeoutMs: 30_000 },
    );
    expect((await chaos.stage.deps.store.getGrant(grant.id))!.status).toBe('provisioning');
    await startPgServer(chaos.cluster);
    const active = await chaos.stage.grantIn(grant.id, ['active'], 60_000);
    expect(await chaos.target.userExists(grant.username)).toBe(true);
    const failures = await chaos.stage.deps.store.listAudit({ grantId: grant.id, type: 'grant.provision_failed' });
    expect(failures.every((f) => f.detail.willRetry === true)).toBe(true);
    const ended = await chaos.stage.grantIn(grant.id, ['revoked'], 30_000);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(active.expiresAt);
    expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
  });

  it('down across expiry: revocation fails, is audited and retried without a cap; revoked (not before expiry) once the server is back [I1 I2 I4 I5 I6]', async () => {
    await chaos.stage.worker();
    const grant = await chaos.stage.approvedGrant(db(), '5s');
    await chaos.stage.grantIn(grant.id, ['active']);
    const { password } = (await revealCredentials(chaos.stage.deps, grant.id, grant.requester)).credentials;
    const session = await chaos.target.connectAs(grant.username, password);
    await session.query('BEGIN');
    await stopPgServer(chaos.cluster);
    await waitFor(
      'failed revocations to be audited',
      async () => (await auditCount(grant.id, 'grant.revoke_failed')) >= 2,
      { timeoutMs: 40_000, intervalMs: 200 },
    );
    const stuck = (await chaos.stage.deps.store.getGrant(grant.id))!;
    expect(['active', 'revoking']).toContain(stuck.status);
    await startPgServer(chaos.cluster);
    const ended = await chaos.stage.grantIn(grant.id, ['revoked'], 30_000);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
    expect(ended.revokeAttempts).toBeGreaterThan(0);
    await expect(chaos.target.connectAs(grant.username, password)).rejects.toThrow();
    expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
  });
});
