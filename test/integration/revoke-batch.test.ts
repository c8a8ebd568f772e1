/**
 * Expiry in batches (src/core/revocation.ts) on real targets, a real SQLite state store and an injected clock:
 * grants expiring at the same instant are ended by a few engine batches instead of one DDL section each, every one
 * exactly once (one audit row, one "ended" notification), sessions ended, users gone; a grant whose user turned
 * into someone else's fails alone and is recorded; nothing is revoked before its expiry; the sweeper batches too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { TargetError } from '../../src/core/errors.js';
import { provision, revokeIfDue } from '../../src/core/lifecycle.js';
import type { Grant } from '../../src/core/model.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { createAdminGrant } from '../../src/core/asking.js';
import { revokeDue } from '../../src/core/revocation.js';
import { Sweeper } from '../../src/core/sweeper.js';
import type { OpenStateStore } from '../../src/store/index.js';
import type { TestSession } from '../contract/database-engine.contract.js';
import { openCoreStage } from '../support/core-deps.js';
import { setupMariadbTarget } from '../support/mariadb-target.js';
import { recordingNotifier } from '../support/notifiers.js';
import { setupPgTarget, startScramCluster } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';

interface Target {
  entry: DatabaseEntry;
  connectAs(username: string, password: string): Promise<TestSession>;
  userExists(username: string): Promise<boolean>;
  dropUserByHand(username: string): Promise<void>;
  /** The user is dropped behind the broker's back and a user of the same name that is not ours takes its place. */
  replaceWithForeignUser(username: string): Promise<void>;
  teardown(): Promise<void>;
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'MariaDB',
    async () => {
      const t = await setupMariadbTarget({ guardRails: { connectionLimit: 3 } });
      const replaceWithForeignUser = async (u: string) => {
        await t.dropUserByHand(u);
        // MySQL users carry no comment: the broker's marker is a row in its schema, gone with a restore, say.
        await t.query(`DELETE FROM \`${t.names.brokerSchema}\`.managed_users WHERE \`user\` = ?`, [u]);
        await t.createForeignUser(u);
      };
      return { ...t, connectAs: (u, p) => t.connectAs(u, p), replaceWithForeignUser };
    },
  ],
  [
    'PostgreSQL (scram-sha-256 cluster)',
    async () => {
      const cluster = await startScramCluster();
      const t = await setupPgTarget(cluster);
      const replaceWithForeignUser = async (u: string) => {
        await t.dropUserByHand(u);
        await t.createForeignUser(u);
      };
      return { ...t, connectAs: (u, p) => t.connectAs(u, p), replaceWithForeignUser, teardown: () => cluster.stop() };
    },
  ],
];

describe.each(targets)('revocation in batches on %s', (_label, makeTarget) => {
  let target: Target;
  let store: OpenStateStore;
  let deps: CoreDeps;
  let notifier: ReturnType<typeof recordingNotifier>;
  let now = Date.now();
  /** How many batches reached the real engine (deleteUsers calls), and with how many users in all. */
  const calls = { batches: 0, users: 0 };

  beforeAll(async () => {
    target = await makeTarget();
    ({ store, deps, notifier } = await openCoreStage([target.entry], { now: () => now }));
    const engine: DatabaseEngine = deps.engines.get(target.entry.name);
    const deleteUsers = engine.deleteUsers.bind(engine);
    engine.deleteUsers = (names) => ((calls.batches++, (calls.users += names.length)), deleteUsers(names));
  }, 120_000);

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await target?.teardown();
  }, 120_000);

  /** n active grants with real users, all expiring at `expiresAt` (the clock is moved back and forth). */
  async function activeGrants(n: number, duration = '1h'): Promise<Array<{ grant: Grant; password: string }>> {
    const out: Array<{ grant: Grant; password: string }> = [];
    for (let i = 0; i < n; i++) {
      const { grant } = await createAdminGrant(
        deps,
        { platform: 'cli', id: 'cli:test' },
        { platform: 'cli', id: `email:b${i}@example.com`, email: `b${i}@example.com` },
        {
          database: target.entry.name,
          level: 'read',
          duration,
          reason: 'batch revocation test',
        },
      );
      const res = await provision(deps, grant.id, { credentials: true });
      if (res.outcome !== 'active' || !res.credentials) throw new Error(`grant ${grant.id} was not provisioned`);
      out.push({ grant: res.grant, password: res.credentials.password });
    }
    return out;
  }

  const ended = (ids: number[]) =>
    notifier.events.filter((e) => e.event === 'grantEnded' && ids.includes(e.view.grant!.id));

  it('40 grants due at once: a few batches, each grant ended once, sessions ended, users gone, audited once', async () => {
    const issued = await activeGrants(40);
    const ids = issued.map((i) => i.grant.id);
    const sessions = await Promise.all(issued.slice(0, 3).map((i) => target.connectAs(i.grant.username, i.password)));
    now = Math.max(...issued.map((i) => i.grant.expiresAt)) + 1;
    const before = { ...calls };

    const results = await Promise.all(ids.map((id) => revokeIfDue(deps, id)));

    expect(results.every((r) => r.due)).toBe(true);
    expect(calls.batches - before.batches).toBeLessThanOrEqual(3);
    expect(calls.users - before.users).toBe(40);
    const grants = await store.listGrants({ ids });
    expect(grants.map((g) => g.status)).toEqual(ids.map(() => 'revoked'));
    for (const g of grants) expect(g.revokedAt!).toBeGreaterThanOrEqual(g.expiresAt);
    const closed = sessions.map(() => false);
    sessions.forEach((s, i) => void s.ended.then(() => (closed[i] = true)));
    await waitFor('the sessions of revoked users to be ended by the server', () => closed.every(Boolean), {
      timeoutMs: 10_000,
    });
    for (const i of issued) expect(await target.userExists(i.grant.username)).toBe(false);
    const audit = (await store.listAudit({ type: 'grant.revoked' })).filter((a) => ids.includes(a.grantId!));
    expect(audit.map((a) => a.grantId).sort((a, b) => a! - b!)).toEqual(ids);
    const terminated = audit.filter((a) => a.detail.sessionsTerminated === 1).map((a) => a.grantId);
    expect(terminated.sort()).toEqual(
      issued
        .slice(0, 3)
        .map((i) => i.grant.id)
        .sort(),
    );
    expect((await store.verifyAudit()).ok).toBe(true);
    expect(ended(ids)).toHaveLength(40);
    // Handing the same grants over again changes nothing.
    const again = await Promise.all(ids.map((id) => revokeIfDue(deps, id)));
    expect(again.every((r) => r.due && r.result !== undefined && r.result.receipt === undefined)).toBe(true);
    expect(ended(ids)).toHaveLength(40);
  }, 120_000);

  it('the batch\'s "ended" views carry each request and its message references, read once for the batch', async () => {
    const issued = await activeGrants(6);
    const [a, b] = issued.map((i) => i.grant);
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
      platform: 'slack',
      kind: 'dm',
      channel: 'D1',
      messageId: 'b.2',
    });
    const ids = issued.map((i) => i.grant.id);
    now = Math.max(...issued.map((i) => i.grant.expiresAt)) + 1;
    // Per-request reads while the batch ends the grants and tells the people (spied on this store only).
    const reads = { getRequest: 0, listApprovals: 0, getMessageRefs: 0 };
    const restore = (Object.keys(reads) as Array<keyof typeof reads>).map((name) => {
      const original = store[name].bind(store) as (...args: never[]) => Promise<unknown>;
      (store as unknown as Record<string, unknown>)[name] = (...args: never[]) => (reads[name]++, original(...args));
      return () => ((store as unknown as Record<string, unknown>)[name] = original);
    });
    try {
      await Promise.all(ids.map((id) => revokeIfDue(deps, id)));
    } finally {
      restore.forEach((r) => r());
    }

    expect(reads).toEqual({ getRequest: 0, listApprovals: 0, getMessageRefs: 0 });
    const views = new Map(ended(ids).map((e) => [e.view.grant!.id, e.view]));
    expect(views.size).toBe(6);
    for (const g of issued.map((i) => i.grant)) {
      expect(views.get(g.id)!.request.id).toBe(g.requestId);
      expect(views.get(g.id)!.phase).toBe('ended');
    }
    expect(views.get(a!.id)!.messages?.map((m) => m.messageId)).toEqual(['a.1']);
    expect(views.get(b!.id)!.messages?.map((m) => m.messageId)).toEqual(['b.1', 'b.2']);
    expect(views.get(issued[2]!.grant.id)!.messages).toEqual([]);
  }, 120_000);

  it('one grant whose user became someone else’s fails alone and is recorded; one dropped by hand is already absent', async () => {
    const issued = await activeGrants(5);
    const [foreign, dropped, ...rest] = issued;
    await target.replaceWithForeignUser(foreign!.grant.username);
    await target.dropUserByHand(dropped!.grant.username);
    now = Math.max(...issued.map((i) => i.grant.expiresAt)) + 1;

    const results = await Promise.allSettled(issued.map((i) => revokeIfDue(deps, i.grant.id)));

    const refused = results[0]!;
    expect(refused.status).toBe('rejected');
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(TargetError);
    expect(((refused as PromiseRejectedResult).reason as TargetError).kind).toBe('conflict');
    expect(results.slice(1).every((r) => r.status === 'fulfilled')).toBe(true);
    const stuck = (await store.getGrant(foreign!.grant.id))!;
    expect(stuck.status).toBe('revoking');
    expect(stuck.revokeAttempts).toBe(1);
    expect(stuck.lastError).toMatch(/someone else|not carry|marker|not ours/i);
    expect(await target.userExists(foreign!.grant.username)).toBe(true); // someone else's: untouched
    expect(await store.listAudit({ grantId: foreign!.grant.id, type: 'grant.revoke_failed' })).toHaveLength(1);
    const absent = (await store.listAudit({ grantId: dropped!.grant.id, type: 'grant.revoked' }))[0]!;
    expect(absent.detail.user).toBe('already_absent');
    for (const i of rest) {
      expect((await store.getGrant(i.grant.id))!.status).toBe('revoked');
      expect(await target.userExists(i.grant.username)).toBe(false);
    }
    // Someone removes their user: the next attempt finds nothing to drop and the grant ends.
    await target.dropUserByHand(foreign!.grant.username);
    const retried = await revokeIfDue(deps, foreign!.grant.id);
    expect(retried.due && retried.result?.receipt?.userOutcome).toBe('already_absent');
  }, 120_000);

  it('never early: a due grant takes along only grants that are due, not one expiring later', async () => {
    const [due] = await activeGrants(1, '1h');
    const [later] = await activeGrants(1, '2h');
    now = due!.grant.expiresAt + 1;

    expect((await revokeIfDue(deps, due!.grant.id)).due).toBe(true);

    expect((await store.getGrant(due!.grant.id))!.status).toBe('revoked');
    expect((await store.getGrant(later!.grant.id))!.status).toBe('active');
    expect(await target.userExists(later!.grant.username)).toBe(true);
    expect(await revokeIfDue(deps, later!.grant.id)).toEqual({ due: false, dueAt: later!.grant.expiresAt });
    now = later!.grant.expiresAt + 1;
    const last = await revokeIfDue(deps, later!.grant.id);
    expect(last.due && last.result?.receipt?.userOutcome).toBe('dropped');

    // An extension that lands after the caller read the grant keeps it: the batch re-checks expiry in its update.
    const [extended] = await activeGrants(1, '1h');
    const stale = extended!.grant;
    expect(await store.transitionGrant(stale.id, ['active'], { expiresAt: stale.expiresAt + 3_600_000 })).toBe(true);
    now = stale.expiresAt + 1;
    const kept = await revokeDue(deps, stale);
    expect(kept.receipt).toBeUndefined();
    expect((await store.getGrant(stale.id))!.status).toBe('active');
    expect(await target.userExists(stale.username)).toBe(true);
    now = stale.expiresAt + 3_600_001;
    const atNewExpiry = await revokeIfDue(deps, stale.id);
    expect(atNewExpiry.due && atNewExpiry.result?.receipt?.userOutcome).toBe('dropped');
  }, 120_000);

  it('the sweeper hands every overdue grant over at once: one batch for ten', async () => {
    const issued = await activeGrants(10);
    now = Math.max(...issued.map((i) => i.grant.expiresAt)) + 5_000;
    const before = { ...calls };
    const sweeper = new Sweeper(deps, {
      graceMs: 1_000,
      staleProvisioningMs: 30_000,
      retryEveryMs: 60_000,
      incidentPollMs: 60_000,
    });

    const report = await sweeper.sweep();

    expect(report.revoked).toBe(10);
    expect(report.failed).toBe(0);
    expect(calls.batches - before.batches).toBe(1);
    for (const i of issued) expect(await target.userExists(i.grant.username)).toBe(false);
    expect(ended(issued.map((i) => i.grant.id))).toHaveLength(10);
    for (const g of await store.listGrants({ ids: issued.map((i) => i.grant.id) }))
      expect(g).toMatchObject({ status: 'revoked', endKind: 'overdue' });
  }, 120_000);

  it('the sweeper leaves a revocation started elsewhere a moment ago to its owner; one older than the grace it finishes', async () => {
    const [issued] = await activeGrants(1);
    const id = issued!.grant.id;
    // What revoke() writes before its DDL: the CLI or a job is now between this and its own final transition.
    expect(
      await store.transitionGrant(id, ['active'], {
        status: 'revoking',
        revokeStartedAt: now,
        endReason: 'done early',
      }),
    ).toBe(true);
    const sweeper = new Sweeper(deps, {
      graceMs: 1_000,
      staleProvisioningMs: 30_000,
      retryEveryMs: 60_000,
      incidentPollMs: 60_000,
    });

    expect((await sweeper.sweep()).revoked).toBe(0);
    expect(await target.userExists(issued!.grant.username)).toBe(true);
    expect((await store.getGrant(id))!.status).toBe('revoking');

    now += 1_500; // its owner died: the sweeper takes over
    expect((await sweeper.sweep()).revoked).toBe(1);
    expect(await target.userExists(issued!.grant.username)).toBe(false);
    expect((await store.getGrant(id))!.status).toBe('revoked');
  }, 120_000);
});
