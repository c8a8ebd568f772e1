/**
 * Access asked for someone else on Teams, end to end: a channel message @-mentioning the person (a `mention` entity,
 * as Teams sends it) POSTed to the real /api/messages in local anonymous mode, the Bot Connector double behind it
 * (getMember answers who the mentioned person is), a real PostgreSQL target with password auth, real Redis and a
 * real state store. bob asks for alice; both are approvers, so only the "someone else" rule stops them deciding it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const CAROL = teamsUser(3, 'carol');
/** A guest of another organisation: their home tenant is not ours. */
const EVE = teamsUser(4, 'eve', { email: 'eve@partner.example', tenantId: 'tenant-partner' });

type InvokeAnswer = { statusCode: number; type: string; value: unknown };

describe('Teams: access for someone else', () => {
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
  const textOf = (m: PostedActivity | undefined) => cardText(cardOf(m?.activity));
  const inChannel = () => teams.messagesIn(CHANNEL);
  const cards = () => inChannel().filter((m) => !m.replyToId && /\[Approve\]/.test(textOf(m)));
  const chatOf = (u: TeamsUser) => teams.messagesIn(`a:chat-${u.aadObjectId}`);

  /** `text` said in the channel with these @-mentions; the bot's answer posted there after it. */
  async function say(u: TeamsUser, text: string, mentions: TeamsUser[] = []): Promise<PostedActivity> {
    const before = inChannel().length;
    const res = await postActivity(broker.baseUrl, messageActivity(u, where(CHANNEL), text, mentions));
    expect(res.status).toBe(200);
    return teams.waitUntil(() => inChannel().length > before && inChannel().at(-1), { what: 'the bot’s answer' });
  }

  async function click(u: TeamsUser, verb: string, data: Record<string, unknown>, cardId?: string, conv = CHANNEL) {
    const res = await postActivity(broker.baseUrl, actionActivity(u, where(conv, cardId), verb, data));
    expect(res.status).toBe(200);
    return res.body as InvokeAnswer;
  }
  const toastOf = (a: InvokeAnswer) =>
    a.type === 'application/vnd.microsoft.activity.message' ? String(a.value) : undefined;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    for (const u of [ALICE, BOB, CAROL, EVE]) teams.addUser(u);
    for (const u of [ALICE, BOB, CAROL]) teams.install(u.aadObjectId);
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: {
          teamsChannel: CHANNEL,
          approvers: [{ email: 'alice@example.com' }, { email: 'bob@example.com' }, { email: 'carol@example.com' }],
        },
      }),
    });
    broker = await startBroker({ ...journeyEnv(catalog, 'teams-for'), ...teamsAnonymousEnv(teams) });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await cluster?.stop();
  }, 60_000);

  it('bob @-mentions alice: the card shows both; neither may approve; alice gets the message and credentials, and ends it', async () => {
    const before = cards().length;
    await say(
      BOB,
      `db-access ${target.entry.name} read 30m for <at>alice</at> INC-42 stuck orders with <at>carol</at>`,
      [ALICE, CAROL],
    );
    const card = await teams.waitUntil(() => cards().length > before && cards().at(-1), { what: 'the approval card' });
    const requestId = Number(
      (cardOf(card.activity) as { actions?: Array<{ verb?: string; data?: { requestId?: number } }> }).actions?.find(
        (a) => a.verb === 'approve',
      )?.data?.requestId,
    );
    const req = (await store().getRequest(rid(requestId)))!;
    expect(req.requester).toMatchObject({ platform: 'teams', id: ALICE.aadObjectId, email: 'alice@example.com' });
    expect(req.askedBy).toMatchObject({ platform: 'teams', id: BOB.aadObjectId, email: 'bob@example.com' });
    expect(req.reason).toBe('stuck orders with @carol');

    // The approvers see who asked and for whom (both real mentions on the card).
    const shown = textOf(card);
    expect(shown).toMatch(/Requested by:? <at>bob<\/at>/);
    expect(shown).toMatch(/For:? <at>alice<\/at> \(gets the access\)/);
    const mentioned = (
      (cardOf(card.activity) as { msteams: { entities?: Array<{ mentioned: { id: string } }> } }).msteams.entities ?? []
    ).map((e) => e.mentioned.id);
    expect(mentioned).toEqual(expect.arrayContaining([ALICE.aadObjectId, BOB.aadObjectId]));

    // Neither bob nor alice may approve it.
    expect(toastOf(await click(BOB, 'approve', { requestId }, card.id))).toMatch(/made for someone else/);
    expect(toastOf(await click(ALICE, 'approve', { requestId }, card.id))).toMatch(/your own request/);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    // carol approves: the grant is alice's; her 1:1 chat gets the access message, bob's nothing of it.
    await click(CAROL, 'approve', { requestId }, card.id);
    const grant = await waitFor('the grant to be active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    expect(grant.requester.id).toBe(ALICE.aadObjectId);
    expect(grant.username).toMatch(/^jit_alice_/);
    const dm = await teams.waitUntil(() => chatOf(ALICE).find((m) => /is active until/.test(textOf(m))), {
      what: "alice's access message",
    });
    expect(textOf(dm)).toMatch(/<at>bob<\/at> asked for it on your behalf/);
    expect(chatOf(BOB).filter((m) => /is active until/.test(textOf(m)))).toEqual([]);

    // bob gets no credentials; alice does, and they work.
    const stolen = await postActivity(
      broker.baseUrl,
      dialogFetchActivity(BOB, where('personal'), { kind: 'reveal', grantId: grant.id }),
    );
    expect((stolen.body as { task: { type: string; value: string } }).task).toMatchObject({
      type: 'message',
      value: expect.stringMatching(/only the person this access is for/),
    });
    const reveal = await postActivity(
      broker.baseUrl,
      dialogFetchActivity(ALICE, where('personal'), { kind: 'reveal', grantId: grant.id }),
    );
    const dialogText = cardText(
      (reveal.body as { task: { value: { card: { content: unknown } } } }).task.value.card.content,
    );
    const password = /Password: ([A-Za-z0-9]{32})/.exec(dialogText)![1]!;
    const session = await target.connectAs(grant.username, password);
    expect((await session.query('SELECT count(*) FROM items')).length).toBe(1);

    // alice ends it from her chat.
    const done = await click(ALICE, 'done', { grantId: grant.id }, undefined, 'personal');
    expect(cardText(done.value)).toMatch(/ended early by alice/i);
    await session.ended;
    expect(await target.userExists(grant.username)).toBe(false);
  }, 60_000);

  it('refused, saying why, with nothing asked: a typed @name, a <@id> typed as text, a person of another tenant', async () => {
    const requestsBefore = (await store().listRequests({})).length;
    expect(textOf(await say(BOB, `db-access ${target.entry.name} read 10m for @alice INC-1 typed`))).toMatch(
      /@alice could be more than one person/,
    );
    // Typed, not picked: Teams sends the text HTML-escaped and no mention entity for it.
    expect(
      textOf(await say(BOB, `db-access ${target.entry.name} read 10m for &lt;@${ALICE.id}&gt; INC-1 forged`)),
    ).toMatch(/Name the person with an @mention picked from the list/);
    expect(
      textOf(await say(BOB, `db-access ${target.entry.name} read 10m for <at>eve</at> INC-1 outsider`, [EVE])),
    ).toMatch(/eve is not in this organisation/);
    expect((await store().listRequests({})).length).toBe(requestsBefore);
    const refused = (await store().listAudit({ type: 'access.refused' })).filter(
      (e) => e.actor.id === BOB.aadObjectId && e.detail.action === 'request',
    );
    expect(refused.map((e) => e.detail.reason)).toEqual([expect.stringMatching(/eve is not in this organisation/)]);
  });
});
