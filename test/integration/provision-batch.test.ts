/**
 * Provisioning in batches (src/core/provision.ts) on real targets, a real SQLite state store and an injected clock:
 * grants approved at once are provisioned by a few engine batches instead of one DDL section each, every one
 * exactly once (one user, one audit row, one "active" message, one revoke job); a grant whose name is someone
 * else's, one that ended meanwhile and one already expired are handled alone while the others go active; a user
 * made for a grant revoked during the batch is removed; a target that is down leaves every grant to its retry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { TargetError } from '../../src/core/errors.js';
import { provision, type ProvisionResult } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { revealCredentials } from '../../src/core/grant-changes.js';
import { createAdminGrant } from '../../src/core/asking.js';
import type { OpenStateStore } from '../../src/store/index.js';
import type { TestSession } from '../contract/database-engine.contract.js';
import { openCoreStage } from '../support/core-deps.js';
import { setupMariadbTarget } from '../support/mariadb-target.js';
import { recordingNotifier } from '../support/notifiers.js';
import { setupPgTarget, startScramCluster } from '../support/pg-cluster.js';
import { gid } from '../support/ids.js';

interface Target {
  entry: DatabaseEntry;
  connectAs(username: string, password: string): Promise<TestSession>;
  userExists(username: string): Promise<boolean>;
  hasPassword(username: string): Promise<boolean>;
  createForeignUser(username: string): Promise<void>;
  teardown(): Promise<void>;
}

const targets: Array<[string, () => Promise<Target>]> = [
  ['MariaDB', async () => setupMariadbTarget({ guardRails: { connectionLimit: 3 } })],
  [
    'PostgreSQL (scram-sha-256 cluster)',
    async () => {
      const cluster = await startScramCluster();
      const t = await setupPgTarget(cluster);
      return { ...t, teardown: () => cluster.stop() };
    },
  ],
];

describe.each(targets)('provisioning in batches on %s', (_label, makeTarget) => {
  let target: Target;
  let store: OpenStateStore;
  let deps: CoreDeps;
  let engine: DatabaseEngine;
  let notifier: ReturnType<typeof recordingNotifier>;
  const now = Date.now();
  /** Engine batches (newUsers calls) and the users they carried; revoke jobs scheduled. */
  const calls = { batches: 0, users: 0 };
  const scheduled: number[] = [];
  /** Runs inside the next newUsers call, before the engine does anything (then cleared). */
  let duringNewUsers: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    target = await makeTarget();
    ({ store, deps, notifier } = await openCoreStage([target.entry], { now: () => now }));
    deps.scheduler.scheduleRevokes = async (grants) => void scheduled.push(...grants.map((g) => g.grantId));
    engine = deps.engines.get(target.entry.name);
    const newUsers = engine.newUsers.bind(engine);
    engine.newUsers = async (reqs) => {
      calls.batches++;
      calls.users += reqs.length;
      const hook = duringNewUsers;
      duringNewUsers = undefined;
      await hook?.();
      return newUsers(reqs);
    };
  }, 120_000);

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await target?.teardown();
  }, 120_000);

  /** n approved grants waiting for provisioning (the admin path: approved at once). */
  async function approvedGrants(n: number, duration = '1h'): Promise<Grant[]> {
    const out: Grant[] = [];
    for (let i = 0; i < n; i++) {
      const { grant } = await createAdminGrant(
        deps,
        { platform: 'cli', id: 'cli:test' },
        { platform: 'cli', id: `email:p${i}@example.com`, email: `p${i}@example.com` },
        {
          database: target.entry.name,
          level: 'read',
          duration,
          reason: 'batch provisioning test',
        },
      );
      out.push(grant);
    }
    return out;
  }

  const activated = (ids: number[]) =>
    notifier.events.filter((e) => e.event === 'grantActivated' && ids.includes(e.view.grant!.id));
  const active = (r: ProvisionResult) => {
    if (r.outcome !== 'active') throw new Error(`grant ${r.grant.id} is ${r.grant.status}, not active`);
    return r;
  };
  const password = (r: ReturnType<typeof active>) => {
    if (!r.credentials) throw new Error(`grant ${r.grant.id} was provisioned without a password`);
    return r.credentials.password;
  };

  it('30 grants approved at once: a few engine batches, each user made once, logs in, audited and announced once', async () => {
    const grants = await approvedGrants(30);
    const ids = grants.map((g) => g.id);
    const before = { ...calls };

    const results = (await Promise.all(ids.map((id) => provision(deps, id, { credentials: true })))).map(active);

    expect(calls.batches - before.batches).toBeLessThanOrEqual(3);
    expect(calls.users - before.users).toBe(30);
    expect(results.map((r) => r.user)).toEqual(ids.map(() => 'created'));
    const stored = await store.listGrants({ ids });
    expect(stored.map((g) => [g.status, g.provisionAttempts])).toEqual(ids.map(() => ['active', 1]));
    // Every password is its own and works (a few logins suffice to show the batch did not mix them up).
    for (const r of [results[0]!, results[14]!, results[29]!]) {
      const session = await target.connectAs(r.grant.username, password(r));
      await session.close();
    }
    const other = target.connectAs(results[0]!.grant.username, password(results[1]!));
    await expect(other).rejects.toThrow();
    const audit = (await store.listAudit({ type: 'grant.provisioned' })).filter((a) => ids.includes(a.grantId!));
    expect(audit.map((a) => a.grantId).sort((a, b) => a! - b!)).toEqual(ids);
    expect((await store.verifyAudit()).ok).toBe(true);
    expect(activated(ids)).toHaveLength(30);
    expect(scheduled.filter((id) => ids.includes(gid(id))).sort((a, b) => a - b)).toEqual(ids);
    // Handing them over again changes nothing: each is skipped, no engine call.
    const again = await Promise.all(ids.map((id) => provision(deps, id)));
    expect(again.map((r) => r.outcome)).toEqual(ids.map(() => 'skipped'));
    expect(calls.users - before.users).toBe(30);
    expect(activated(ids)).toHaveLength(30);
  }, 120_000);

  it('delivery: reveal — no password exists until the person reveals it; each reveal sets a new one', async () => {
    const grants = await approvedGrants(4);
    const ids = grants.map((g) => g.id);
    const results = (await Promise.all(ids.map((id) => provision(deps, id)))).map(active);
    for (const r of results) {
      expect(r.credentials, r.grant.username).toBeUndefined();
      expect(await target.userExists(r.grant.username)).toBe(true);
      expect(await target.hasPassword(r.grant.username), r.grant.username).toBe(false);
    }
    for (const e of activated(ids)) expect(e.extra).toEqual([undefined]);
    // The reveal rotates on every click: the first one sets the first password, the next one replaces it.
    const requester = { platform: 'cli' as const, id: 'cli:test' };
    const g = results[0]!.grant;
    const { credentials: first } = await revealCredentials(deps, g.id, requester);
    expect(await target.hasPassword(g.username)).toBe(true);
    await (await target.connectAs(g.username, first.password)).close();
    const { credentials: second } = await revealCredentials(deps, g.id, requester);
    expect(second.password).not.toBe(first.password);
    await expect(target.connectAs(g.username, first.password)).rejects.toThrow();
    await (await target.connectAs(g.username, second.password)).close();
    // The grants nobody opened still have none.
    for (const r of results.slice(1)) expect(await target.hasPassword(r.grant.username), r.grant.username).toBe(false);
  }, 60_000);

  it("each activation's view carries its own request's message references, read with the batch", async () => {
    const grants = await approvedGrants(3);
    const [a, b] = grants;
    await store.saveMessageRef({
      requestId: a!.requestId,
      platform: 'slack',
      kind: 'approval',
      channel: 'C1',
      messageId: 'a.1',
    });
    await store.saveMessageRef({
      requestId: b!.requestId,
      platform: 'slack',
      kind: 'approval',
      channel: 'C1',
      messageId: 'b.1',
    });
    await store.saveMessageRef({
      requestId: b!.requestId,
      platform: 'teams',
      kind: 'approval',
      channel: '19:x@thread',
      messageId: 'b.2',
    });

    await Promise.all(grants.map((g) => provision(deps, g.id)));

    const seen = new Map(
      activated(grants.map((g) => g.id)).map((e) => [e.view.grant!.id, e.view.messages?.map((m) => m.messageId)]),
    );
    expect(seen).toEqual(
      new Map([
        [a!.id, ['a.1']],
        [b!.id, ['b.1', 'b.2']],
        [grants[2]!.id, []],
      ]),
    );
  }, 120_000);

  it('someone else’s name, an ended grant and an expired one are handled alone; the others go active', async () => {
    const [taken, ended, expired, ...good] = await approvedGrants(6);
    await target.createForeignUser(taken!.username);
    expect(
      await store.transitionGrant(ended!.id, ['provisioning'], {
        status: 'failed',
        endReason: 'cancelled',
        revokedAt: now,
      }),
    ).toBe(true);
    expect(await store.transitionGrant(expired!.id, ['provisioning'], { expiresAt: now - 1 })).toBe(true);

    const results = await Promise.allSettled([taken, ended, expired, ...good].map((g) => provision(deps, g!.id)));

    const refused = results[0]!;
    expect(refused.status).toBe('rejected');
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(TargetError);
    expect(((refused as PromiseRejectedResult).reason as TargetError).kind).toBe('conflict');
    const failed = (await store.getGrant(taken!.id))!;
    expect(failed.status).toBe('failed');
    expect(failed.endReason).toMatch(/^provisioning failed/);
    expect(failed.endKind).toBe('provision_failed');
    expect(await target.userExists(taken!.username)).toBe(true); // someone else's: untouched
    expect(await store.listAudit({ grantId: taken!.id, type: 'grant.provision_failed' })).toHaveLength(1);
    expect(results[1]).toMatchObject({ status: 'fulfilled', value: { outcome: 'skipped' } });
    expect(await target.userExists(ended!.username)).toBe(false);
    expect(results[2]).toMatchObject({ status: 'fulfilled', value: { outcome: 'skipped' } });
    expect((await store.getGrant(expired!.id))!.status).toBe('failed');
    expect(await target.userExists(expired!.username)).toBe(false);
    for (const [i, g] of good.entries()) {
      expect(results[3 + i]).toMatchObject({ status: 'fulfilled', value: { outcome: 'active' } });
      expect((await store.getGrant(g.id))!.status).toBe('active');
      expect(await target.userExists(g.username)).toBe(true);
    }
    expect((await store.verifyAudit()).ok).toBe(true);
  }, 120_000);

  it('a grant revoked while its user is being made loses that user; the rest of the batch is active', async () => {
    const [revoked, ...rest] = await approvedGrants(4);
    duringNewUsers = async () => {
      expect(
        await store.transitionGrant(revoked!.id, ['provisioning'], {
          status: 'revoked',
          endReason: 'revoked by Bob',
          revokedAt: now,
        }),
      ).toBe(true);
    };

    const results = await Promise.all([revoked, ...rest].map((g) => provision(deps, g!.id)));

    expect(duringNewUsers).toBeUndefined();
    expect(results[0]).toMatchObject({ outcome: 'skipped', grant: { status: 'revoked' } });
    expect(await target.userExists(revoked!.username)).toBe(false);
    expect(await store.listAudit({ grantId: revoked!.id, type: 'grant.provisioned' })).toHaveLength(0);
    expect(scheduled).not.toContain(revoked!.id);
    for (const r of results.slice(1)) expect(active(r).grant.status).toBe('active');
  }, 120_000);

  it('a target that is down: every grant of the batch keeps provisioning, its attempt and error recorded, for the retry', async () => {
    const grants = await approvedGrants(3);
    const { newUsers } = engine;
    engine.newUsers = async () => {
      throw new TargetError('retryable', 'connect ECONNREFUSED 127.0.0.1:1');
    };
    try {
      const results = await Promise.allSettled(grants.map((g) => provision(deps, g.id)));
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect(((r as PromiseRejectedResult).reason as TargetError).kind).toBe('retryable');
      }
    } finally {
      engine.newUsers = newUsers;
    }
    for (const g of grants) {
      const stored = (await store.getGrant(g.id))!;
      expect([stored.status, stored.provisionAttempts, stored.lastError]).toEqual([
        'provisioning',
        1,
        expect.stringMatching(/ECONNREFUSED/),
      ]);
      expect(await target.userExists(g.username)).toBe(false);
    }
    // The retry (the job's next attempt) makes them.
    const retried = (await Promise.all(grants.map((g) => provision(deps, g.id)))).map(active);
    expect(retried.map((r) => r.grant.provisionAttempts)).toEqual([2, 2, 2]);
  }, 120_000);
});

describe('provisioning in batches on MariaDB: the role of accounts made together', () => {
  let target: Awaited<ReturnType<typeof setupMariadbTarget>>;
  let store: OpenStateStore;
  let deps: CoreDeps;

  beforeAll(async () => {
    target = await setupMariadbTarget();
    ({ store, deps } = await openCoreStage([target.entry], { now: () => Date.now() }));
    deps.scheduler.scheduleRevokes = async () => undefined;
  }, 120_000);

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await target?.teardown();
  }, 120_000);

  /** GRANT role statements run so far on the broker admin's open connections (performance_schema, per thread; the
   *  engine's pool keeps them open for the test). */
  async function adminGrants(): Promise<number> {
    const [row] = await target.query(
      `SELECT COALESCE(SUM(s.COUNT_STAR), 0) AS n
         FROM performance_schema.events_statements_summary_by_thread_by_event_name s
         JOIN performance_schema.threads t ON t.THREAD_ID = s.THREAD_ID
        WHERE t.PROCESSLIST_USER = ? AND s.EVENT_NAME = 'statement/sql/grant_role'`,
      [target.names.adminUser],
    );
    return Number(row?.n ?? 0);
  }

  it('is granted in one GRANT per batch, not one per user; each user has it as its default role and can read', async () => {
    const grants = [];
    for (let i = 0; i < 12; i++) {
      const { grant } = await createAdminGrant(
        deps,
        { platform: 'cli', id: 'cli:test' },
        { platform: 'cli', id: `email:r${i}@example.com`, email: `r${i}@example.com` },
        { database: target.entry.name, level: 'read', duration: '1h', reason: 'one GRANT per batch' },
      );
      grants.push(grant);
    }
    const before = await adminGrants();
    const results = await Promise.all(grants.map((g) => provision(deps, g.id, { credentials: true })));
    expect(results.map((r) => r.outcome)).toEqual(grants.map(() => 'active'));
    // 12 users in one or two batches: one GRANT of the role each (12 without the batched grant).
    expect((await adminGrants()) - before).toBeLessThanOrEqual(2);
    for (const g of grants) {
      const shown = (await target.query(`SHOW GRANTS FOR ?@'%'`, [g.username])).map((r) => String(Object.values(r)[0]));
      expect(shown).toContain(`GRANT \`${target.names.readRole}\` TO \`${g.username}\`@\`%\``);
      expect(shown).toContain(`SET DEFAULT ROLE \`${target.names.readRole}\` FOR \`${g.username}\`@\`%\``);
    }
    const first = results[0]!;
    if (first.outcome !== 'active' || !first.credentials) throw new Error('no credentials');
    const session = await target.connectAs(first.grant.username, first.credentials.password);
    try {
      expect(await session.query(target.sql.select)).toBeDefined();
    } finally {
      await session.close();
    }
  }, 120_000);
});
