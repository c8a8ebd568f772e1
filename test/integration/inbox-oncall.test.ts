/**
 * A chat action recovered from the inbox after a shift change is judged by who was on call when it was received: the
 * real SQLite store, the real PagerDuty and Opsgenie clients and resolver (their default caches on), and the local
 * doubles of both APIs with shifts that hand over while the action waits. The doubles and the core share one
 * injected clock, so "now" at the vendors is the processing time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import { INBOX_LEASE_MS, recordAction, recoverInbox, type InboxEdge, type InboxResult } from '../../src/core/inbox.js';
import type { Actor } from '../../src/core/model.js';
import type { InboxAction } from '../../src/core/ports.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { startOpsgenieDouble, type OpsgenieDouble } from '../../dev/oncall/opsgenie-double.js';
import { startPagerDutyDouble, type PagerDutyDouble } from '../../dev/oncall/pagerduty-double.js';
import { OpsgenieClient } from '../../src/oncall/opsgenie.js';
import { PagerDutyClient } from '../../src/oncall/pagerduty.js';
import { ApproverResolver } from '../../src/oncall/resolver.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';
import { rid } from '../support/ids.js';

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
      timeout: 1h
      approvers: [{ pagerduty: { schedule: PPRIMARY } }]
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
      approvers: [{ opsgenie: { schedule: dba-oncall } }]
`,
  {},
);

const MIN = 60_000;
const HOUR = 60 * MIN;
const person = (name: string): Actor => ({
  platform: 'slack',
  id: `U${name.toUpperCase()}`,
  email: `${name}@example.com`,
  name,
});
const people = Object.fromEntries(['alice', 'bob', 'olga', 'oscar'].map((n) => [`U${n.toUpperCase()}`, person(n)]));
const requester = (n: number): Actor => ({
  platform: 'slack',
  id: `UREQ${n}`,
  email: `req${n}@example.com`,
  name: `req${n}`,
});

describe('a recovered chat action and the on-call rota of when it was received', () => {
  const t0 = Date.UTC(2026, 11, 7, 12, 0, 0);
  const handOver = t0 + 2 * MIN;
  let now = t0;
  const clock = { now: () => now };
  let store: OpenStateStore;
  let deps: CoreDeps;
  let pd: PagerDutyDouble;
  let og: OpsgenieDouble;
  const answers: Array<{ action: InboxAction; result: InboxResult }> = [];
  const edge: InboxEdge = {
    actor: async (a) => people[a.actorId] ?? { platform: 'slack', id: a.actorId },
    answer: async (action, result) => void answers.push({ action, result }),
  };

  beforeAll(async () => {
    pd = await startPagerDutyDouble({ clock });
    og = await startOpsgenieDouble({ clock });
    // PagerDuty: Alice until the hand-over, Bob from it. Opsgenie: Olga, then Oscar.
    pd.addShift('PPRIMARY', [{ email: 'alice@example.com' }], { start: t0 - 8 * HOUR, end: handOver });
    pd.addShift('PPRIMARY', [{ email: 'bob@example.com' }], { start: handOver, end: t0 + 8 * HOUR });
    og.addShift('dba-oncall', ['olga@example.com'], { start: t0 - 8 * HOUR, end: handOver });
    og.addShift('dba-oncall', ['oscar@example.com'], { start: handOver, end: t0 + 8 * HOUR });
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    const pagerduty = new PagerDutyClient({ token: pd.token, apiUrl: pd.url, clock });
    const opsgenie = new OpsgenieClient({ apiKey: og.apiKey, apiUrl: og.url, clock });
    deps = coreDeps(catalog, store, {
      clock,
      approvers: new ApproverResolver(undefined, clock, { pagerduty, opsgenie }),
      inboxEdges: { slack: edge },
    });
  });
  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await pd?.stop();
    await og?.stop();
  });

  it('counts a click from whoever was on call when it was received, and refuses one from whoever came on call after it', async () => {
    const open = (n: number, database: string) =>
      requestAccess(deps, requester(n), { database, level: 'read', duration: '1h', reason: 'INC-7' });
    const [byOutgoingPd, byIncomingPd, byOutgoingOg, byIncomingOg] = [
      await open(1, 'orders'),
      await open(2, 'orders'),
      await open(3, 'ledger'),
      await open(4, 'ledger'),
    ];

    now = t0 + MIN; // four Approve clicks are acknowledged, then the process dies before processing them
    const click = async (actorId: string, requestId: number) =>
      (await recordAction(deps, {
        platform: 'slack',
        kind: 'approve',
        actorId,
        requestId: rid(requestId),
        payload: { requestId },
      }))!;
    const actions = {
      alice: await click('UALICE', byOutgoingPd.id),
      bob: await click('UBOB', byIncomingPd.id),
      olga: await click('UOLGA', byOutgoingOg.id),
      oscar: await click('UOSCAR', byIncomingOg.id),
    };

    // Recovery comes after the hand-over. Who is on call now is Bob and Oscar (and the resolver has cached it).
    now = handOver + 3 * MIN;
    expect(now).toBeGreaterThan(actions.alice.receivedAt + INBOX_LEASE_MS);
    expect((await deps.approvers.resolve(catalog.databases.get('orders')!)).approvers.map((a) => a.email)).toEqual([
      'bob@example.com',
    ]);
    expect((await deps.approvers.resolve(catalog.databases.get('ledger')!)).approvers.map((a) => a.email)).toEqual([
      'oscar@example.com',
    ]);

    expect(await recoverInbox(deps, { slack: edge })).toBe(4);

    for (const req of [byOutgoingPd, byOutgoingOg]) {
      const decided = (await store.getRequest(req.id))!;
      expect(decided.status).toBe('approved');
      expect(decided.decidedAt).toBe(actions.alice.receivedAt);
    }
    for (const req of [byIncomingPd, byIncomingOg]) expect((await store.getRequest(req.id))!.status).toBe('pending');
    const resultOf = (a: InboxAction) => answers.find((x) => x.action.id === a.id)!.result;
    for (const a of [actions.alice, actions.olga])
      expect(resultOf(a)).toMatchObject({ ok: true, effect: { kind: 'approve', result: { status: 'approved' } } });
    for (const a of [actions.bob, actions.oscar]) {
      const result = resultOf(a) as { ok: false; error: unknown };
      expect(result.ok).toBe(false);
      expect(result.error).toBeInstanceOf(BrokerError);
      expect((result.error as BrokerError).code).toBe('FORBIDDEN');
      expect((await store.listInboxActions()).find((x) => x.id === a.id)).toMatchObject({
        status: 'done',
        outcome: expect.stringMatching(/^refused: FORBIDDEN/),
      });
    }

    // The vendors were asked about the second each click was received, not about now.
    const receivedIso = new Date(actions.alice.receivedAt).toISOString().replace('.000Z', 'Z');
    expect(pd.requests.filter((r) => r.path === '/oncalls').map((r) => r.query.since?.[0])).toContain(receivedIso);
    expect(og.requests.map((r) => r.query.date?.[0])).toContain(receivedIso.replace('Z', '+00:00'));

    // The same people clicking now are judged by the rota of now.
    expect((await approve(deps, byIncomingPd.id, people.UBOB!)).status).toBe('approved');
    expect((await approve(deps, byIncomingOg.id, people.UOSCAR!)).status).toBe('approved');
  });
});
