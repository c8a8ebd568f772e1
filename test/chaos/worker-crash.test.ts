/**
 * Chaos: a worker process dies by SIGKILL (a power cut) at each step boundary of a grant's life — before the
 * CREATE, after it, and in the middle of the revocation — and another worker finishes the job. After each case
 * the invariant checker (test/support/chaos-invariants.ts) must find nothing.
 */
import { describe, expect, it } from 'vitest';
import { revealCredentials } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import { DDL_ADVISORY_LOCK_KEY } from '../../src/targets/postgres/sql.js';
import { usePgChaosStage } from '../support/chaos-harness.js';
import { waitFor } from '../support/wait.js';

describe('chaos: worker SIGKILL', () => {
  const chaos = usePgChaosStage('crash');
  const db = () => chaos.target.entry.name;
  const audit = (g: Grant, type: string) => chaos.stage.deps.store.listAudit({ grantId: g.id, type });

  it('killed before CREATE ROLE (blocked on the DDL lock): after recovery exactly one user, created once, revoked not before expiry [I1 I3 I4 I5 I6]', async () => {
    // Hold the broker's DDL advisory lock: the worker's CREATE transaction waits on it, before any DDL.
    const holder = await chaos.cluster.connect(chaos.target.entry.database);
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [DDL_ADVISORY_LOCK_KEY]);
    const crashing = await chaos.stage.worker();
    const grant = await chaos.stage.approvedGrant(db(), '12s');
    await waitFor(
      'the worker to wait on the DDL lock',
      async () =>
        (
          await chaos.cluster.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'db-access' AND wait_event_type = 'Lock' AND datname = $1",
            [chaos.target.entry.database],
          )
        ).length > 0,
    );
    crashing.child.kill('SIGKILL');
    expect((await crashing.exited).signal).toBe('SIGKILL');
    await holder.end();
    expect((await chaos.stage.deps.store.getGrant(grant.id))!.status).toBe('provisioning');
    expect(await chaos.target.userExists(grant.username)).toBe(false);

    const healthy = await chaos.stage.worker();
    const active = await chaos.stage.grantIn(grant.id, ['active']);
    expect((await audit(grant, 'grant.provisioned'))[0]!.detail).toMatchObject({ user: 'created' });
    expect(await chaos.stage.violations([chaos.probe], { terminal: false })).toEqual([]);
    const ended = await chaos.stage.grantIn(grant.id, ['revoked']);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(active.expiresAt);
    await healthy.stop();
    expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
  });

  it('killed after CREATE ROLE, before the grant is marked active: the retry adopts the same user (no second one), revoked at expiry [I1 I3 I4 I5 I6]', async () => {
    const crashing = await chaos.stage.worker({ DB_ACCESS_FAILPOINT: 'provision.after-create-user' });
    const grant = await chaos.stage.approvedGrant(db(), '12s');
    expect((await crashing.exited).signal).toBe('SIGKILL');
    expect((await chaos.stage.deps.store.getGrant(grant.id))!.status).toBe('provisioning');
    expect(await chaos.target.userExists(grant.username)).toBe(true);

    const healthy = await chaos.stage.worker();
    await chaos.stage.grantIn(grant.id, ['active']);
    expect((await audit(grant, 'grant.provisioned')).map((e) => e.detail.user)).toEqual(['adopted']);
    expect(await chaos.stage.violations([chaos.probe], { terminal: false })).toEqual([]);
    await chaos.stage.grantIn(grant.id, ['revoked']);
    await healthy.stop();
    expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
  });

  for (const failpoint of ['revoke.after-disable', 'revoke.after-delete'] as const) {
    it(`killed during revoke (${failpoint}): the open session is gone, another worker finishes, revoked once, not before expiry [I1 I2 I4 I5 I6]`, async () => {
      const crashing = await chaos.stage.worker({ DB_ACCESS_FAILPOINT: failpoint });
      const grant = await chaos.stage.approvedGrant(db(), '5s');
      await chaos.stage.grantIn(grant.id, ['active']);
      const { password } = (await revealCredentials(chaos.stage.deps, grant.id, grant.requester)).credentials;
      const session = await chaos.target.connectAs(grant.username, password);
      await session.query('BEGIN');
      await session.query('SELECT count(*) FROM items');

      expect((await crashing.exited).signal).toBe('SIGKILL'); // at expiry, mid-revocation
      await session.ended; // NOLOGIN and the session kill happened before the crash
      const half = (await chaos.stage.deps.store.getGrant(grant.id))!;
      expect(half.status).toBe('revoking');
      expect(await chaos.target.userExists(grant.username)).toBe(failpoint === 'revoke.after-disable');
      await expect(chaos.target.connectAs(grant.username, password)).rejects.toThrow();

      const healthy = await chaos.stage.worker();
      const ended = await chaos.stage.grantIn(grant.id, ['revoked']);
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
      const rows = await audit(grant, 'grant.revoked');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.detail.user).toBe(failpoint === 'revoke.after-disable' ? 'dropped' : 'already_absent');
      await healthy.stop();
      expect(await chaos.stage.violations([chaos.probe])).toEqual([]);
    });
  }
});
