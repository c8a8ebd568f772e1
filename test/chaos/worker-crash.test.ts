/**
 * Chaos: a worker process dies by SIGKILL (a power cut) at each step boundary of a grant's life — before the
 * CREATE, after it, and in the middle of the revocation — and another worker finishes the job. After each case
 * the invariant checker (test/support/chaos-invariants.ts) must find nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { revealCredentials } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import { DDL_ADVISORY_LOCK_KEY } from '../../src/targets/postgres/sql.js';
import { pgProbe, startChaosStage, type ChaosStage } from '../support/chaos-harness.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';

describe('chaos: worker SIGKILL', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let stage: ChaosStage;
  const db = () => target.entry.name;
  const audit = (g: Grant, type: string) => stage.deps.store.listAudit({ grantId: g.id, type });

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    stage = await startChaosStage('crash', [target.entry]);
  });

  afterEach(async () => {
    await stage?.stopWorkers();
  });

  afterAll(async () => {
    await stage?.close();
    await cluster?.stop();
  });

  it('killed before CREATE ROLE (blocked on the DDL lock): after recovery exactly one user, created once, revoked not before expiry [I1 I3 I4 I5 I6]', async () => {
    // Hold the broker's DDL advisory lock: the worker's CREATE transaction waits on it, before any DDL.
    const holder = await cluster.connect(target.entry.database);
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [DDL_ADVISORY_LOCK_KEY]);
    const crashing = await stage.worker();
    const grant = await stage.approvedGrant(db(), '12s');
    await waitFor('the worker to wait on the DDL lock', async () =>
      (await cluster.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'db-access' AND wait_event_type = 'Lock' AND datname = $1", [target.entry.database])).length > 0,
    );
    crashing.child.kill('SIGKILL');
    expect((await crashing.exited).signal).toBe('SIGKILL');
    await holder.end();
    expect((await stage.deps.store.getGrant(grant.id))!.status).toBe('provisioning');
    expect(await target.userExists(grant.username)).toBe(false);

    const healthy = await stage.worker();
    const active = await stage.grantIn(grant.id, ['active']);
    expect((await audit(grant, 'grant.provisioned'))[0]!.detail).toMatchObject({ user: 'created' });
    expect((await stage.violations([pgProbe(target)], { terminal: false }))).toEqual([]);
    const ended = await stage.grantIn(grant.id, ['revoked']);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(active.expiresAt);
    await healthy.stop();
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });

  it('killed after CREATE ROLE, before the grant is marked active: the retry adopts the same user (no second one), revoked at expiry [I1 I3 I4 I5 I6]', async () => {
    const crashing = await stage.worker({ DB_ACCESS_FAILPOINT: 'provision.after-create-user' });
    const grant = await stage.approvedGrant(db(), '12s');
    expect((await crashing.exited).signal).toBe('SIGKILL');
    expect((await stage.deps.store.getGrant(grant.id))!.status).toBe('provisioning');
    expect(await target.userExists(grant.username)).toBe(true);

    const healthy = await stage.worker();
    await stage.grantIn(grant.id, ['active']);
    expect((await audit(grant, 'grant.provisioned')).map((e) => e.detail.user)).toEqual(['adopted']);
    expect(await stage.violations([pgProbe(target)], { terminal: false })).toEqual([]);
    await stage.grantIn(grant.id, ['revoked']);
    await healthy.stop();
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });

  for (const failpoint of ['revoke.after-disable', 'revoke.after-delete'] as const) {
    it(`killed during revoke (${failpoint}): the open session is gone, another worker finishes, revoked once, not before expiry [I1 I2 I4 I5 I6]`, async () => {
      const crashing = await stage.worker({ DB_ACCESS_FAILPOINT: failpoint });
      const grant = await stage.approvedGrant(db(), '5s');
      await stage.grantIn(grant.id, ['active']);
      const { password } = await revealCredentials(stage.deps, grant.id, grant.requester);
      const session = await target.connectAs(grant.username, password);
      await session.query('BEGIN');
      await session.query('SELECT count(*) FROM items');

      expect((await crashing.exited).signal).toBe('SIGKILL'); // at expiry, mid-revocation
      await session.ended; // NOLOGIN and the session kill happened before the crash
      const half = (await stage.deps.store.getGrant(grant.id))!;
      expect(half.status).toBe('revoking');
      expect(await target.userExists(grant.username)).toBe(failpoint === 'revoke.after-disable');
      await expect(target.connectAs(grant.username, password)).rejects.toThrow();

      const healthy = await stage.worker();
      const ended = await stage.grantIn(grant.id, ['revoked']);
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
      const rows = await audit(grant, 'grant.revoked');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.detail.user).toBe(failpoint === 'revoke.after-disable' ? 'dropped' : 'already_absent');
      await healthy.stop();
      expect(await stage.violations([pgProbe(target)])).toEqual([]);
    });
  }
});
