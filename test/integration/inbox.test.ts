/**
 * The chat inbox's core (src/core/inbox.ts) on the real SQLite store: decisions are made as of when an action was
 * received, every effect commits with its row's "done" (a second processing changes nothing), refusals and failures
 * finish the row, and recovery takes only actions whose lease has lapsed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import {
  INBOX_LEASE_MS,
  INBOX_MAX_ATTEMPTS,
  INBOX_RETENTION_MS,
  processAction,
  pruneInbox,
  recordAction,
  recoverInbox,
  type InboxEdge,
  type InboxResult,
} from '../../src/core/inbox.js';
import { escalateDue } from '../../src/core/escalation.js';
import { Sweeper } from '../../src/core/sweeper.js';
import type { Actor } from '../../src/core/model.js';
import type { InboxAction } from '../../src/core/ports.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve, expireUndecided } from '../../src/core/deciding.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';
import { rid, gid } from '../support/ids.js';

const catalog = parseCatalog(
  `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] } }
    maxDuration: 2h
    limits: { pendingRequestsPerPerson: 20, activeGrantsPerPerson: 20 }
    approval:
      timeout: 10m
      approvers: [{ email: bob@example.com }]
  - name: ledger
    engine: postgres
    host: 127.0.0.1
    database: ledger
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [ledger_read] } }
    maxDuration: 2h
    limits: { pendingRequestsPerPerson: 20, activeGrantsPerPerson: 20 }
    approval:
      timeout: 1h
      approvers: [{ email: bob@example.com }]
      escalation:
        - { after: 5m, approvers: [{ email: carol@example.com }] }
`,
  {},
);

const MIN = 60_000;
const people: Record<string, Actor> = {
  UBOB: { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' },
  UCAROL: { platform: 'slack', id: 'UCAROL', email: 'carol@example.com', name: 'carol' },
};
const requester = (n: number): Actor => ({
  platform: 'slack',
  id: `UREQ${n}`,
  email: `req${n}@example.com`,
  name: `req${n}`,
});

describe('chat inbox', () => {
  let store: OpenStateStore;
  let deps: CoreDeps;
  let now = Date.UTC(2026, 11, 7, 12, 0, 0);
  let n = 0;
  const answers: Array<{ action: InboxAction; result: InboxResult }> = [];
  const edge: InboxEdge = {
    actor: async (a) => people[a.actorId] ?? { platform: 'slack', id: a.actorId },
    answer: async (action, result) => void answers.push({ action, result }),
  };
  const newRequest = () =>
    requestAccess(deps, requester(++n), { database: 'orders', level: 'read', duration: '1h', reason: 'INC-1' });
  const recordApprove = (requestId: number, actorId = 'UBOB') =>
    recordAction(deps, {
      platform: 'slack',
      kind: 'approve',
      actorId,
      requestId: rid(requestId),
      payload: { requestId },
    });

  beforeAll(async () => {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    deps = coreDeps(catalog, store, { clock: { now: () => now }, inboxEdges: { slack: edge } });
  });
  afterAll(async () => {
    await deps.engines.close();
    await store.close();
  });

  it('an Approve received before the deadline counts when processed after it; processed again, it changes nothing', async () => {
    const req = await newRequest();
    now += 9 * MIN;
    const action = (await recordApprove(req.id))!;
    now += 2 * MIN; // past decideBy (10 min)
    // Decided now, without the action's time, it would be refused:
    const other = await newRequest();
    expect(await processAction(deps, action, edge)).toMatchObject({
      ok: true,
      effect: { kind: 'approve', result: { status: 'approved' } },
    });
    const decided = (await store.getRequest(req.id))!;
    expect(decided.status).toBe('approved');
    expect(decided.decidedAt).toBe(action.receivedAt);
    const audit = (await store.listAudit({ requestId: req.id })).filter((e) => e.type === 'request.approved');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail.receivedAt).toBe(action.receivedAt);
    expect(audit[0]!.at).toBe(now);
    expect((await store.listInboxActions()).find((a) => a.id === action.id)).toMatchObject({
      status: 'done',
      outcome: expect.stringMatching(/approved: grant #/),
    });

    // A second processing of the same action (another replica, a recovery) is told it is done, and nothing moves.
    expect(await processAction(deps, { ...action, attempts: 2 }, edge)).toEqual({ ok: 'done' });
    expect(await store.listApprovals(req.id)).toHaveLength(1);
    expect(await store.listGrants({ heldBy: req.requester })).toHaveLength(1);
    expect((await store.listAudit({ requestId: req.id })).filter((e) => e.type === 'request.approved')).toHaveLength(1);

    // The same click handled directly now, without the inbox's time, is past the deadline.
    now = other.decideBy! + 1;
    await expect(approve(deps, other.id, people.UBOB!)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a refusal finishes the action with the refusal as its outcome; it is not taken again', async () => {
    const req = await newRequest();
    const action = (await recordAction(deps, {
      platform: 'slack',
      kind: 'approve',
      actorId: req.requester.id,
      requestId: req.id,
      payload: { requestId: req.id },
    }))!;
    const result = await processAction(deps, action, { ...edge, actor: async () => req.requester });
    expect(result.ok).toBe(false);
    expect((result as { error: unknown }).error).toBeInstanceOf(BrokerError);
    expect((await store.listInboxActions()).find((a) => a.id === action.id)).toMatchObject({
      status: 'done',
      outcome: expect.stringMatching(/^refused: SELF_APPROVAL/),
    });
    now += INBOX_LEASE_MS + 1;
    expect((await store.claimInboxActions('other', now, now + 1000, now, 100)).map((a) => a.id)).not.toContain(
      action.id,
    );
  });

  it('recovery takes an unfinished action only once its lease has lapsed, processes it once and answers the person', async () => {
    const req = await newRequest();
    const action = (await recordApprove(req.id))!; // recorded, then the process "died"
    answers.length = 0;
    expect(await recoverInbox(deps, { slack: edge })).toBe(0); // its recorder's lease is live
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    now += INBOX_LEASE_MS + 1;
    expect(await recoverInbox(deps, { slack: edge })).toBe(1);
    expect((await store.getRequest(req.id))!.status).toBe('approved');
    expect(answers.map((a) => [a.action.id, a.action.attempts, a.result.ok])).toEqual([[action.id, 2, true]]);
    now += INBOX_LEASE_MS + 1;
    expect(await recoverInbox(deps, { slack: edge })).toBe(0);
  });

  it('an undecided request waits for a decision received before its deadline; the sweep recovers it first', async () => {
    const req = await newRequest();
    now += 9 * MIN;
    await recordApprove(req.id);
    now = req.decideBy! + 1;
    await expireUndecided(deps); // an unfinished decision received in time holds it
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    now += INBOX_LEASE_MS;
    expect(await recoverInbox(deps, { slack: edge })).toBe(1);
    expect((await store.getRequest(req.id))!.status).toBe('approved');
  });

  it('an action whose processing keeps crashing the process is given up after INBOX_MAX_ATTEMPTS; an unexpected failure fails it at once', async () => {
    const req = await newRequest();
    const action = (await recordApprove(req.id))!;
    const crashed = await processAction(deps, { ...action, attempts: INBOX_MAX_ATTEMPTS + 1 }, edge);
    expect(crashed.ok).toBe(false);
    expect((await store.listInboxActions()).find((a) => a.id === action.id)).toMatchObject({
      status: 'failed',
      outcome: expect.stringMatching(/given up/),
    });
    expect((await store.getRequest(req.id))!.status).toBe('pending');

    const req2 = await newRequest();
    const action2 = (await recordApprove(req2.id))!;
    const broken = await processAction(deps, action2, {
      ...edge,
      actor: async () => Promise.reject(new Error('users.info timed out')),
    });
    expect(broken.ok).toBe(false);
    expect((await store.listInboxActions()).find((a) => a.id === action2.id)).toMatchObject({
      status: 'failed',
      outcome: 'failed: users.info timed out',
    });
  });

  it('eligibility is judged at the escalation tier the request had when the click was received', async () => {
    const req = await requestAccess(deps, requester(++n), {
      database: 'ledger',
      level: 'read',
      duration: '1h',
      reason: 'INC-2',
    });
    now += 3 * MIN;
    // carol is asked only from the first escalation (5 min): her click now is not an approver's. The process dies.
    const early = (await recordApprove(req.id, 'UCAROL'))!;
    now += 3 * MIN;
    expect(await escalateDue(deps)).toBe(1);
    expect((await store.getRequest(req.id))!.tier).toBe(1);
    now += INBOX_LEASE_MS + 1;
    answers.length = 0;
    expect(await recoverInbox(deps, { slack: edge })).toBe(1);
    // Recovered after the escalation, the click is still one from before it: refused, audited with both times.
    expect(answers).toHaveLength(1);
    expect(answers[0]!.result).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    expect((await store.listInboxActions()).find((a) => a.id === early.id)).toMatchObject({
      status: 'done',
      outcome: expect.stringMatching(/^refused: FORBIDDEN/),
    });
    const refused = await store.listAudit({ requestId: req.id, type: 'access.refused' });
    expect(refused).toHaveLength(1);
    expect(refused[0]!.detail).toMatchObject({ action: 'approve', code: 'FORBIDDEN', receivedAt: early.receivedAt });
    expect(refused[0]!.at).toBe(now);

    // The same person clicking once the request has escalated is an approver.
    const late = (await recordApprove(req.id, 'UCAROL'))!;
    expect(await processAction(deps, late, edge)).toMatchObject({
      ok: true,
      effect: { kind: 'approve', result: { status: 'approved' } },
    });
  });

  it('a processing that outlives its lease, overtaken by a recovery, recognises its own action: no refusal audited or told', async () => {
    /** A point the first processing stops at until released; `reached` resolves when it gets there. */
    const gate = () => {
      let release!: () => void;
      let reached!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const arrived = new Promise<void>((r) => (reached = r));
      return { release, arrived, wait: () => (reached(), released) };
    };
    const audited = async (requestId: number) =>
      (await store.listAudit({ requestId: rid(requestId) })).map((e) => e.type);
    const check = async (requestId: number, first: Promise<InboxResult>) => {
      expect(await first).toEqual({ ok: 'done' });
      expect((await store.getRequest(rid(requestId)))!.status).toBe('approved');
      expect(await store.listApprovals(rid(requestId))).toHaveLength(1);
      expect(await store.listGrants({ heldBy: (await store.getRequest(rid(requestId)))!.requester })).toHaveLength(1);
      const types = await audited(requestId);
      expect(types.filter((t) => t === 'request.approved')).toHaveLength(1);
      expect(types).not.toContain('access.refused');
      expect(answers.map((a) => a.result.ok)).toEqual([true]); // the recovery's answer only
    };

    // 1. Stopped before it starts deciding (inbox.before-process): it resumes on a decided request.
    const held = gate();
    const req1 = await newRequest();
    const action1 = (await recordApprove(req1.id))!;
    const first1 = processAction(
      { ...deps, hold: async (name) => (name === 'inbox.before-process' ? held.wait() : undefined) },
      action1,
      edge,
    );
    await held.arrived;
    now += INBOX_LEASE_MS + 1;
    answers.length = 0;
    expect(await recoverInbox(deps, { slack: edge })).toBe(1);
    held.release();
    await check(req1.id, first1);

    // 2. Stopped after its checks, before its transaction (resolving the approvers): its approval then collides
    //    with the one the recovery recorded for the same click.
    const slow = gate();
    const req2 = await newRequest();
    const action2 = (await recordApprove(req2.id))!;
    const resolver = deps.approvers;
    let calls = 0;
    const approvers: CoreDeps['approvers'] = {
      resolve: async (db, tier) => {
        if (calls++ === 0) await slow.wait();
        return resolver.resolve(db, tier);
      },
      resolveTier: (db, tier) => resolver.resolveTier(db, tier),
      isOnCall: (db, actor, ref) => resolver.isOnCall(db, actor, ref),
      isInGroup: (actor, group) => resolver.isInGroup(actor, group),
    };
    const first2 = processAction({ ...deps, approvers }, action2, edge);
    await slow.arrived;
    now += INBOX_LEASE_MS + 1;
    answers.length = 0;
    expect(await recoverInbox(deps, { slack: edge })).toBe(1);
    slow.release();
    await check(req2.id, first2);
  });
});

describe('chat inbox pruning', () => {
  let store: OpenStateStore;
  let deps: CoreDeps;
  let now = Date.UTC(2026, 11, 7, 12, 0, 0);
  const DAY = 24 * 60 * MIN;

  beforeAll(async () => {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    deps = coreDeps(catalog, store, { clock: { now: () => now } });
  });
  afterAll(async () => {
    await deps.engines.close();
    await store.close();
  });

  const record = async (grantId: number) =>
    (await recordAction(deps, {
      platform: 'slack',
      kind: 'revoke',
      actorId: 'UBOB',
      grantId: gid(grantId),
      payload: { grantId },
    }))!;

  it('finished actions older than the retention go, in bounded batches; unfinished ones and recent ones stay', async () => {
    const t0 = now;
    const old: number[] = [];
    for (let i = 0; i < 12; i++) {
      const a = await record(i);
      await store.finishInboxAction(a.id, 'done', now + 1_000, i % 3 === 0 ? 'failed' : 'done');
      old.push(a.id);
    }
    const unfinished = await record(100); // never processed (its processing keeps crashing, say)
    now += 2 * DAY;
    const recent = await record(101);
    await store.finishInboxAction(recent.id, 'done', now);
    const ids = async () => (await store.listInboxActions()).map((a) => a.id);

    now = t0 + INBOX_RETENTION_MS - MIN;
    expect(await pruneInbox(deps)).toBe(0); // nothing has been finished that long yet
    now = t0 + INBOX_RETENTION_MS + INBOX_LEASE_MS + 2_000;
    // Batches of 1, at most 10 per pass: 12 old ones take two passes.
    expect(await pruneInbox(deps, INBOX_RETENTION_MS, 1)).toBe(10);
    expect(await pruneInbox(deps, INBOX_RETENTION_MS, 1)).toBe(2);
    expect(await ids()).toEqual([unfinished.id, recent.id]);

    // Long after, the sweeper prunes the recent one too; the unfinished one is never pruned.
    now += 30 * DAY;
    const sweeper = new Sweeper(
      { ...deps, engines: { all: () => [] } as unknown as CoreDeps['engines'] },
      { graceMs: 0, staleProvisioningMs: MIN, retryEveryMs: MIN, incidentPollMs: MIN },
    );
    expect((await sweeper.sweep()).inboxPruned).toBe(1);
    expect(await ids()).toEqual([unfinished.id]);
    expect((await store.listInboxActions())[0]!.status).toBe('pending');
  });
});
