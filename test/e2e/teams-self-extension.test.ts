/**
 * Self-extension by policy through Teams, end to end: Activities POSTed to the real /api/messages in local
 * anonymous mode, a Bot Connector double, a real PostgreSQL target, real Redis and state store.
 * `appdb` allows one self-extension (lifetime 3 × maxDuration); `appdb-short` allows three but a lifetime of 15 s
 * from activation, so its limit is reached within the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../../src/core/lifecycle.js';
import {
  actionActivity,
  cardOf,
  cardText,
  messageActivity,
  postActivity,
  type Where,
} from '../../dev/teams/activities.js';
import {
  startTeamsConnectorDouble,
  type PostedActivity,
  type TeamsConnectorDouble,
  type TeamsUser,
  teamsUser,
} from '../../dev/teams/connector-double.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const CHANNEL = '19:db-approvals@thread.tacv2';
const ALICE = teamsUser(1, 'alice');
const BOB = teamsUser(2, 'bob');
const MALLORY = teamsUser(5, 'mallory');

type InvokeAnswer = { statusCode: number; type: string; value: unknown };

describe('Teams: self-extension by policy', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let teams: TeamsConnectorDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const where = (conversation: string, replyToId?: string): Where => ({
    serviceUrl: teams.url,
    tenantId: teams.tenantId,
    conversation,
    ...(replyToId && { replyToId }),
  });
  const chatOf = (u: TeamsUser) => teams.messagesIn(`a:chat-${u.aadObjectId}`);
  const cards = () => teams.messagesIn(CHANNEL).filter((m) => !m.replyToId);
  const textOf = (m: PostedActivity | undefined) => cardText(cardOf(m?.activity));
  const threadOf = (cardId: string) =>
    teams
      .messagesIn(CHANNEL)
      .filter((m) => m.replyToId === cardId)
      .map(textOf);

  async function say(u: TeamsUser, text: string) {
    const res = await postActivity(broker.baseUrl, messageActivity(u, where('personal'), text));
    expect(res.status).toBe(200);
  }

  async function click(u: TeamsUser, verb: string, data: Record<string, unknown>, cardId?: string, conv = CHANNEL) {
    const res = await postActivity(broker.baseUrl, actionActivity(u, where(conv, cardId), verb, data));
    expect(res.status).toBe(200);
    return res.body as InvokeAnswer;
  }

  /** alice asks in her chat, bob approves on the channel card: the card and the active grant. */
  async function activeGrant(text: string) {
    const before = cards().length;
    await say(ALICE, text);
    const card = await teams.waitUntil(() => cards().length > before && cards().at(-1), {
      timeoutMs: 10_000,
      what: 'an approval card',
    });
    const requestId = (cardOf(card.activity) as { actions: Array<{ verb: string; data: { requestId: number } }> })
      .actions[0]!.data.requestId;
    await click(BOB, 'approve', { requestId }, card.id);
    const grant = await waitFor('the grant to be active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    return { card, grant };
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    for (const u of [ALICE, BOB, MALLORY]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const approval = { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1 };
    const catalog = writeCatalog([target.entry, { ...target.entry, name: 'appdb-short' }], {
      perEntry: (d) =>
        d.name === 'appdb'
          ? { approval, limits: { selfExtensions: 1 } }
          : { approval, maxDuration: '15s', limits: { selfExtensions: 3, maxLifetime: '15s' } },
    });
    broker = await startBroker({ ...journeyEnv(catalog, 'teams-selfext'), ...teamsAnonymousEnv(teams) });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await cluster?.stop();
  }, 60_000);

  it("Extend on the reminder card applies a self-extension at once; the next goes to the approvers; nobody extends someone else's grant", async () => {
    const { card, grant } = await activeGrant('db-access appdb read 10m INC-1 stuck orders');
    expect(grant.expiresAt).toBe(grant.activatedAt! + 10 * 60_000);
    const cardsBefore = cards().length;

    // The reminder's Extend (Action.Execute in alice's chat): applied at once, the answer says until when.
    const ext = await click(ALICE, 'extend', { grantId: grant.id, duration: '30m' }, undefined, 'personal');
    expect(cardText(ext.value)).toMatch(
      /Extension request #\d+ for read on appdb, extended by 10m: .*Extended: active until/,
    );
    const extended = (await store().getGrant(grant.id))!;
    // Held to the grant's original duration (10m), not the 30m asked.
    expect(extended.expiresAt).toBe(grant.expiresAt + 10 * 60_000);
    expect(extended.selfExtensions).toBe(1);
    const [audit] = await store().listAudit({ type: 'grant.self_extended', grantId: grant.id });
    expect(audit?.actor.id).toBe(ALICE.aadObjectId);
    expect(audit?.detail).toMatchObject({ from: grant.expiresAt, to: extended.expiresAt, count: 1, of: 1 });
    expect(cards().length).toBe(cardsBefore); // no approval card for it
    await teams.waitUntil(() => threadOf(card.id).some((t) => /without approval \(self-extension 1 of 1\)/.test(t)), {
      what: 'the line in the approval conversation',
    });

    // The second: beyond the policy, an extension card for the approvers; nothing moves.
    await say(ALICE, `extend ${grant.id} 5m more`);
    await teams.waitUntil(() => cards().length > cardsBefore && /Extension request/.test(textOf(cards().at(-1))), {
      what: 'an extension card',
    });
    expect((await store().getGrant(grant.id))!.expiresAt).toBe(extended.expiresAt);

    // mallory cannot extend alice's grant: refused, explained, audited; nothing moves.
    await say(MALLORY, `extend ${grant.id} 5m mine now`);
    await teams.waitUntil(() => chatOf(MALLORY).find((m) => /not yours/i.test(textOf(m))), {
      what: "mallory's refusal",
    });
    const refusals = await store().listAudit({ type: 'access.refused', grantId: grant.id });
    expect(refusals.some((e) => e.actor.id === MALLORY.aadObjectId && e.detail.action === 'extend')).toBe(true);
    const after = (await store().getGrant(grant.id))!;
    expect(after.expiresAt).toBe(extended.expiresAt);
    expect(after.selfExtensions).toBe(1);
    await revoke(broker.app.deps, grant.id);
  }, 60_000);

  it('a self-extension past the lifetime is held to it; with no lifetime left the next goes to the approvers', async () => {
    const { card, grant } = await activeGrant('db-access appdb-short read 10s INC-2 quick look');
    await waitFor('3 s since activation', () => Date.now() >= grant.activatedAt! + 3_000);
    await say(ALICE, `extend ${grant.id} 7s a bit longer`);
    await teams.waitUntil(
      () => chatOf(ALICE).find((m) => /self-extended by alice \(1 of 3\): held to 5s/.test(textOf(m))),
      {
        what: 'the answer with the new expiry',
      },
    );
    const held = (await store().getGrant(grant.id))!;
    expect(held.expiresAt).toBe(grant.activatedAt! + 15_000);
    const [audit] = await store().listAudit({ type: 'grant.self_extended', grantId: grant.id });
    expect(audit?.detail).toMatchObject({ askedMs: 7_000, extraMs: 5_000, capped: true, count: 1, of: 3 });
    await teams.waitUntil(() => threadOf(card.id).some((t) => /held to the limit/.test(t)), { what: 'the line' });

    const before = cards().length;
    await say(ALICE, `extend ${grant.id} 1s one more second`);
    await teams.waitUntil(() => cards().length > before && /Extension request/.test(textOf(cards().at(-1))), {
      what: 'an extension card',
    });
    const after = (await store().getGrant(grant.id))!;
    expect(after.expiresAt).toBe(held.expiresAt);
    expect(after.selfExtensions).toBe(1);
    await revoke(broker.app.deps, grant.id);
  }, 60_000);
});
