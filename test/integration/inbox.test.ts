/**
 * The chat inbox's core (src/core/inbox.ts) on the real SQLite store: decisions are made as of when an action was
 * received, every effect commits with its row's "done" (a second processing changes nothing), refusals and failures
 * finish the row, and recovery takes only actions whose lease has lapsed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import { INBOX_LEASE_MS, INBOX_MAX_ATTEMPTS, processAction, recordAction, recoverInbox, type InboxEdge, type InboxResult } from '../../src/core/inbox.js';
import type { Actor } from '../../src/core/model.js';
import type { InboxAction } from '../../src/core/ports.js';
import { approve, expireUndecided, requestAccess } from '../../src/core/requests.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';

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
`,
  {},
);

const MIN = 60_000;
const people: Record<string, Actor> = {
  UBOB: { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' },
};
const requester = (n: number): Actor => ({ platform: 'slack', id: `UREQ${n}`, email: `req${n}@example.com`, name: `req${n}` });

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
  const newRequest = () => requestAccess(deps, requester(++n), { database: 'orders', level: 'read', duration: '1h', reason: 'INC-1' });
  const recordApprove = (requestId: number, actorId = 'UBOB') => recordAction(deps, { platform: 'slack', kind: 'approve', actorId, requestId, payload: { requestId } });

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
    expect(await processAction(deps, action, edge)).toMatchObject({ ok: true, effect: { kind: 'approve', result: { status: 'approved' } } });
    const decided = (await store.getRequest(req.id))!;
    expect(decided.status).toBe('approved');
    expect(decided.decidedAt).toBe(action.receivedAt);
    const audit = (await store.listAudit({ requestId: req.id })).filter((e) => e.type === 'request.approved');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail.receivedAt).toBe(action.receivedAt);
    expect(audit[0]!.at).toBe(now);
    expect((await store.listInboxActions()).find((a) => a.id === action.id)).toMatchObject({ status: 'done', outcome: expect.stringMatching(/approved: grant #/) });

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
    const action = (await recordAction(deps, { platform: 'slack', kind: 'approve', actorId: req.requester.id, requestId: req.id, payload: { requestId: req.id } }))!;
    const result = await processAction(deps, action, { ...edge, actor: async () => req.requester });
    expect(result.ok).toBe(false);
    expect((result as { error: unknown }).error).toBeInstanceOf(BrokerError);
    expect((await store.listInboxActions()).find((a) => a.id === action.id)).toMatchObject({ status: 'done', outcome: expect.stringMatching(/^refused: SELF_APPROVAL/) });
    now += INBOX_LEASE_MS + 1;
    expect((await store.claimInboxActions('other', now, now + 1000, now, 100)).map((a) => a.id)).not.toContain(action.id);
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
    expect((await store.listInboxActions()).find((a) => a.id === action.id)).toMatchObject({ status: 'failed', outcome: expect.stringMatching(/given up/) });
    expect((await store.getRequest(req.id))!.status).toBe('pending');

    const req2 = await newRequest();
    const action2 = (await recordApprove(req2.id))!;
    const broken = await processAction(deps, action2, { ...edge, actor: async () => Promise.reject(new Error('users.info timed out')) });
    expect(broken.ok).toBe(false);
    expect((await store.listInboxActions()).find((a) => a.id === action2.id)).toMatchObject({ status: 'failed', outcome: 'failed: users.info timed out' });
  });
});
