/**
 * Chaos on the target's side, on PostgreSQL and MariaDB: a DBA drops the user by hand before expiry; the user
 * created objects of its own; the user holds an open transaction when access expires. The invariant checker runs
 * after each case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revealCredentials } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import type { TestSession } from '../contract/database-engine.contract.js';
import { mariadbProbe, pgProbe, startChaosStage, type ChaosStage } from '../support/chaos-harness.js';
import type { TargetProbe } from '../support/chaos-invariants.js';
import { setupMariadbTarget, type MariadbTarget } from '../support/mariadb-target.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';

interface Side {
  name: string;
  entry: PgTarget['entry'];
  probe: TargetProbe;
  sql: { select: string; createTable: (name: string) => string };
  connectAs(u: string, p: string): Promise<TestSession>;
  dropUserByHand(u: string): Promise<void>;
}

describe('chaos: the target changes under the broker', () => {
  let cluster: PgCluster;
  let pgT: PgTarget;
  let maria: MariadbTarget;
  let stage: ChaosStage;
  let sides: Side[];
  const probes = () => sides.map((s) => s.probe);
  const active = async (side: Side, duration: string, level = 'read') => {
    const g = await stage.approvedGrant(side.entry.name, duration, level);
    return stage.grantIn(g.id, ['active']);
  };
  const login = async (side: Side, g: Grant) =>
    side.connectAs(g.username, (await revealCredentials(stage.deps, g.id, g.requester)).credentials.password);

  beforeAll(async () => {
    cluster = await startScramCluster();
    pgT = await setupPgTarget(cluster);
    maria = await setupMariadbTarget();
    stage = await startChaosStage('target-state', [pgT.entry, maria.entry]);
    await stage.worker();
    sides = [
      {
        name: 'PostgreSQL',
        entry: pgT.entry,
        probe: pgProbe(pgT),
        sql: { select: 'SELECT id, name FROM items', createTable: (n) => `CREATE TABLE public.${n} (id int)` },
        connectAs: (u, p) => pgT.connectAs(u, p),
        dropUserByHand: (u) => pgT.dropUserByHand(u),
      },
      {
        name: 'MariaDB',
        entry: maria.entry,
        probe: mariadbProbe(maria),
        sql: maria.sql,
        connectAs: maria.connectAs,
        dropUserByHand: maria.dropUserByHand,
      },
    ];
  });

  afterAll(async () => {
    await stage?.close();
    await maria?.teardown();
    await cluster?.stop();
  });

  it('a user dropped by hand before expiry: revocation at expiry succeeds once, audited "already absent", no retry storm [I1 I4 I5 I6]', async () => {
    const grants = await Promise.all(sides.map((s) => active(s, '5s')));
    await Promise.all(sides.map((s, i) => s.dropUserByHand(grants[i]!.username)));
    for (const g of grants) {
      const ended = await stage.grantIn(g.id, ['revoked']);
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
      expect(ended.revokeAttempts).toBe(1);
      const rows = await stage.deps.store.listAudit({ grantId: g.id });
      expect(rows.filter((r) => r.type === 'grant.revoke_failed')).toEqual([]);
      expect(rows.filter((r) => r.type === 'grant.revoked').map((r) => r.detail.user)).toEqual(['already_absent']);
    }
    expect(await stage.violations(probes())).toEqual([]);
  });

  it('objects owned by the JIT user (a table it created): the user is still dropped at expiry, its objects with it on PostgreSQL [I1 I2 I4 I5 I6]', async () => {
    const grants = await Promise.all(sides.map((s) => active(s, '6s', 'template')));
    const tables = grants.map((g) => `t_${g.username}`);
    for (const [i, side] of sides.entries()) {
      const s = await login(side, grants[i]!);
      await s.query(side.sql.createTable(tables[i]!));
      await s.close();
    }
    for (const g of grants) {
      const ended = await stage.grantIn(g.id, ['revoked']);
      expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
    }
    // PostgreSQL: DROP OWNED removed what it created (never handed to a privileged role).
    expect(await pgT.query('SELECT 1 FROM pg_class WHERE relname = $1', [tables[0]])).toEqual([]);
    expect(await stage.violations(probes())).toEqual([]);
  });

  it('an open transaction at expiry: the session is terminated, no session of the user is left, the user is gone [I1 I2 I4 I5 I6]', async () => {
    const grants = await Promise.all(sides.map((s) => active(s, '5s')));
    const sessions: TestSession[] = [];
    for (const [i, side] of sides.entries()) {
      const s = await login(side, grants[i]!);
      await s.query('BEGIN');
      await s.query(side.sql.select);
      sessions.push(s);
    }
    for (const g of grants) await stage.grantIn(g.id, ['revoked']);
    await Promise.all(sessions.map((s) => s.ended));
    for (const [i, side] of sides.entries()) {
      expect(await side.probe.sessionsOf(grants[i]!.username)).toBe(0);
      const rows = await stage.deps.store.listAudit({ grantId: grants[i]!.id, type: 'grant.revoked' });
      expect(rows[0]!.detail).toMatchObject({ sessionsTerminated: 1, user: 'dropped' });
    }
    expect(await stage.violations(probes())).toEqual([]);
  });
});
