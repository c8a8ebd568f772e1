/**
 * Forged ids through the Teams endpoint (Activities POSTed to the real /api/messages in local anonymous mode, the
 * Bot Connector double, a real PostgreSQL target with password auth, real Redis, a real state store). Card data
 * whose id `Number()` would read as request 2 ("0x2", "2.0", "02", …) must be refused by name, to the clicker alone,
 * and change nothing; the same click with 2 must work (so the refusals are about the id).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../../src/core/lifecycle.js';
import {
  actionActivity,
  cardOf,
  cardText,
  dialogFetchActivity,
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

/** Spellings of `id` that Number() reads as `id`, and parseDecimalId does not. */
const forgeries = (id: number) => [
  `0x${id.toString(16)}`,
  `${id}.0`,
  `0${id}`,
  `+${id}`,
  ` ${id}`,
  `${id}e0`,
  `0b${id.toString(2)}`,
];

type InvokeAnswer = { statusCode: number; type: string; value: unknown };

describe('Teams: forged request and grant ids are refused by name and change nothing', () => {
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
  const cards = () => teams.messagesIn(CHANNEL).filter((m) => !m.replyToId);
  const chatOf = (u: TeamsUser) => teams.messagesIn(`a:chat-${u.aadObjectId}`);
  const textOf = (m: PostedActivity | undefined) => cardText(cardOf(m?.activity));
  const toastOf = (a: InvokeAnswer) =>
    a.type === 'application/vnd.microsoft.activity.message' ? String(a.value) : undefined;
  /** What changed on Teams' side (the connector double's writes), from call index `from`. */
  const writesSince = (from: number) => teams.calls.slice(from).filter((c) => c.method !== 'GET');

  async function say(u: TeamsUser, text: string) {
    expect((await postActivity(broker.baseUrl, messageActivity(u, where('personal'), text))).status).toBe(200);
  }

  async function click(
    u: TeamsUser,
    verb: string,
    data: Record<string, unknown>,
    cardId?: string,
    conversation = CHANNEL,
  ): Promise<InvokeAnswer> {
    const res = await postActivity(broker.baseUrl, actionActivity(u, where(conversation, cardId), verb, data));
    expect(res.status).toBe(200);
    return res.body as InvokeAnswer;
  }

  async function requestAs(u: TeamsUser, text: string) {
    const before = cards().length;
    await say(u, text);
    const card = await teams.waitUntil(() => cards().length > before && cards().at(-1), {
      timeoutMs: 10_000,
      what: 'an approval card',
    });
    const approve = (
      cardOf(card.activity) as { actions?: Array<{ verb?: string; data?: { requestId?: number } }> }
    ).actions?.find((a) => a.verb === 'approve');
    return { card, requestId: Number(approve?.data?.requestId) };
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    for (const u of [ALICE, BOB]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' },
      }),
    });
    // Local anonymous mode, as the Teams harness runs it: loopback only, the connector double as the service and
    // its organisation as this installation's.
    broker = await startBroker({ ...journeyEnv(catalog, 'teams-ids'), ...teamsAnonymousEnv(teams) });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await cluster?.stop();
  }, 60_000);

  it('Approve, Deny, Refresh and Reviewed carrying "0x2", "2.0", "02"…: refused, request 2 stays pending; 2 approves it', async () => {
    await requestAs(ALICE, 'db-access appdb read 30m INC-1 first request');
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb read 30m INC-2 second request');
    expect(requestId).toBe(2);
    const from = teams.calls.length;

    for (const forged of forgeries(requestId)) {
      expect(toastOf(await click(BOB, 'approve', { requestId: forged }, card.id))).toBe(
        `"${forged}" is not a request number.`,
      );
      expect(toastOf(await click(BOB, 'deny', { requestId: forged, note: 'no' }, card.id))).toBe(
        `"${forged}" is not a request number.`,
      );
      expect(toastOf(await click(BOB, 'refresh', { requestId: forged }, card.id))).toBe(
        `"${forged}" is not a request number.`,
      );
      expect(toastOf(await click(BOB, 'reviewed', { requestId: forged }, card.id))).toBe(
        `"${forged}" is not a request number.`,
      );
    }
    expect(toastOf(await click(BOB, 'approve', {}, card.id))).toBe('The request number is missing.');
    expect(toastOf(await click(BOB, 'approve', { requestId: 2.5 }, card.id))).toBe('"2.5" is not a request number.');

    // Nothing changed: no card written, no decision recorded, both requests pending.
    expect(writesSince(from)).toEqual([]);
    expect(await store().listApprovals(rid(requestId))).toEqual([]);
    expect((await store().getRequest(rid(1)))!.status).toBe('pending');
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    // The same approver with the real id: approved (so every refusal above was about the id alone).
    const approved = await click(BOB, 'approve', { requestId }, card.id);
    expect(approved.type).toBe('application/vnd.microsoft.card.adaptive');
    const grant = await waitFor('the grant to be active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    expect((await store().getRequest(rid(1)))!.status).toBe('pending');

    // Grant ids: I'm done, Extend, Show credentials and a typed revoke carrying a forged grant id leave the grant as it was.
    for (const forged of forgeries(grant.id)) {
      expect(toastOf(await click(ALICE, 'done', { grantId: forged }, undefined, 'personal'))).toBe(
        `"${forged}" is not a grant number.`,
      );
      expect(toastOf(await click(ALICE, 'extend', { grantId: forged, duration: '30m' }, undefined, 'personal'))).toBe(
        `"${forged}" is not a grant number.`,
      );
      const dialog = await postActivity(
        broker.baseUrl,
        dialogFetchActivity(ALICE, where('personal'), { kind: 'reveal', grantId: forged }),
      );
      expect((dialog.body as { task: unknown }).task).toEqual({
        type: 'message',
        value: `"${forged}" is not a grant number.`,
      });
      if (forged.startsWith(' ')) continue; // typed, a leading space only separates words
      const before = chatOf(ALICE).length;
      await say(ALICE, `db-access revoke ${forged}`);
      const answer = await teams.waitUntil(() => chatOf(ALICE).length > before && chatOf(ALICE).at(-1), {
        timeoutMs: 10_000,
        what: 'the answer',
      });
      expect(textOf(answer)).toContain(`"${forged}" is not a grant number. Usage: db-access revoke <grant id>`);
    }
    expect((await store().getGrant(grant.id))!.status).toBe('active');
    expect((await store().listRequests({})).filter((r) => r.extendsGrantId === grant.id)).toEqual([]);
    expect(await target.userExists(grant.username)).toBe(true);

    await revoke(broker.app.deps, grant.id);
  });
});
