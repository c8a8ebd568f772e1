/**
 * Small writes made at once from one PostgreSQL store go to the server together: a burst of clicks records an inbox
 * row each before it is acknowledged, and a provisioning batch saves a DM reference and claims an approval-message
 * version per grant — each would otherwise be a statement and a commit of its own. A chat action's transaction ends
 * with one statement for its audit rows and its inbox row. Answers are checked in the state-store contract; this
 * counts the statements the server is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageRef, StateStore } from '../../src/core/ports.js';
import { freshPgStateDb, statementsDuring, type PgStateDb } from '../support/pg-state-db.js';
import { gid, rid } from '../support/ids.js';

let db: PgStateDb;
let store: StateStore;

beforeAll(async () => {
  db = await freshPgStateDb('dba_refbatch');
  store = db.store;
});

afterAll(() => db?.drop());

/** The chat_messages statements sent while `fn` runs. */
const chatMessageStatements = async (fn: () => Promise<unknown>) =>
  (await statementsDuring(store, fn)).filter((sql) => sql.includes('chat_messages'));

describe('PostgreSQL state store: writes in batches', () => {
  it('inbox rows recorded at once cost a statement or two, not one each; each caller gets its own row', async () => {
    const action = (i: number) => ({
      platform: 'slack' as const,
      kind: 'approve' as const,
      actorId: `U${i}`,
      payload: { i },
      receivedAt: Date.now(),
      dedupeKey: `sig:burst-${i}`,
      claimedBy: 'web-a',
      claimedUntil: Date.now() + 10_000,
    });
    let recorded: Array<{ id: number; payload: unknown } | undefined> = [];
    const inserts = (
      await statementsDuring(store, async () => {
        recorded = await Promise.all(Array.from({ length: 40 }, (_, i) => store.recordInboxAction(action(i))));
      })
    ).filter((sql) => sql.includes('chat_inbox'));
    expect(inserts.length).toBeLessThanOrEqual(2);
    expect(recorded.map((r) => r?.payload)).toEqual(Array.from({ length: 40 }, (_, i) => ({ i })));
    const stored = new Map((await store.listInboxActions()).map((r) => [r.id, r.payload]));
    for (const r of recorded) expect(stored.get(r!.id)).toEqual(r!.payload);
    // A redelivery is still recorded once.
    expect(await store.recordInboxAction(action(7))).toBeUndefined();
  });

  it('saves and claims made at once cost a statement or two, not one each', async () => {
    const requests = await Promise.all(
      Array.from({ length: 30 }, () =>
        store.createRequest({
          requester: { platform: 'slack', id: 'U0ADA', email: 'ada@example.com', name: 'Ada' },
          database: 'orders-prod',
          level: 'read',
          durationMs: 60_000,
          reason: 'batch',
          status: 'pending',
          requiredApprovals: 1,
          createdAt: Date.now(),
          approvers: [],
          tier: 0,
          breakGlass: false,
        }),
      ),
    );
    const ref = (i: number): MessageRef => ({
      requestId: requests[i]!.id,
      platform: 'slack',
      kind: 'approval',
      channel: 'C1',
      messageId: `${i}.0`,
      version: 1,
    });

    const saves = await chatMessageStatements(() => Promise.all(requests.map((_, i) => store.saveMessageRef(ref(i)))));
    expect(saves.length).toBeLessThanOrEqual(2);
    expect(await store.listMessageRefsFor(requests.map((r) => r.id))).toEqual(requests.map((_, i) => ref(i)));

    let won: boolean[] = [];
    const claims = await chatMessageStatements(async () => {
      won = await Promise.all(requests.map((_, i) => store.claimMessageVersion(ref(i), i % 3 === 0 ? 1 : 2)));
    });
    expect(claims.length).toBeLessThanOrEqual(2);
    expect(won).toEqual(requests.map((_, i) => i % 3 !== 0));
    expect((await store.listMessageRefsFor(requests.map((r) => r.id))).map((r) => r.version)).toEqual(
      requests.map((_, i) => (i % 3 === 0 ? 1 : 2)),
    );

    // One alone is one statement, as before.
    expect(await chatMessageStatements(() => store.claimMessageVersion(ref(0), 5))).toHaveLength(1);
  });

  it("a chat action's transaction ends in one statement: the audit chain's head, the rows, the head, the inbox row", async () => {
    const who = { platform: 'slack' as const, id: 'U0ADA', email: 'ada@example.com', name: 'Ada' };
    const action = await store.recordInboxAction({
      platform: 'slack',
      kind: 'approve',
      actorId: who.id,
      payload: {},
      receivedAt: Date.now(),
      dedupeKey: 'sig:one-statement',
      claimedBy: 'web-a',
      claimedUntil: Date.now() + 10_000,
    });
    const before = await store.verifyAudit();
    const sent = await statementsDuring(store, () =>
      store.transaction(async (tx) => {
        await tx.appendAudit([
          { at: Date.now(), type: 'approval.recorded', actor: who, requestId: rid(1), detail: { n: 1 } },
          {
            at: Date.now(),
            type: 'request.approved',
            actor: who,
            requestId: rid(1),
            grantId: gid(2),
            detail: { n: 2 },
          },
        ]);
        await tx.finishInboxActionAtCommit(action!.id, 'approved', Date.now(), () => new Error('lost'));
      }),
    );
    // BEGIN, the one statement, COMMIT.
    expect(sent).toHaveLength(3);
    expect(sent[1]).toMatch(/audit_head[\s\S]*chat_inbox|chat_inbox[\s\S]*audit_head/);
    expect(await store.verifyAudit()).toMatchObject({ ok: true, problems: [], rows: before.rows + 2 });
    expect((await store.listInboxActions({ statuses: ['done'] })).map((r) => r.id)).toContain(action!.id);
  });

  it('an approval that decides its request is recorded and decides it in one statement', async () => {
    const req = await store.createRequest({
      requester: { platform: 'slack', id: 'U0ADA', email: 'ada@example.com', name: 'Ada' },
      database: 'orders-prod',
      level: 'read',
      durationMs: 60_000,
      reason: 'one statement',
      status: 'pending',
      requiredApprovals: 1,
      createdAt: Date.now(),
      approvers: [],
      tier: 0,
      breakGlass: false,
    });
    const approver = { platform: 'slack' as const, id: 'U0BOB', name: 'Bob' };
    let out: unknown;
    const sent = await statementsDuring(store, async () => {
      out = await store.recordDecidingApproval(
        { requestId: req.id, approver, decision: 'approve', at: Date.now() },
        'approved by Bob',
      );
    });
    expect(out).toEqual({ recorded: true, decided: true });
    expect(sent).toHaveLength(1);
    expect((await store.getRequest(req.id))?.status).toBe('approved');
  });
});
