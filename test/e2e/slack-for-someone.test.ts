/**
 * Access asked for someone else on Slack, end to end: the real broker and Bolt app, slash commands and clicks
 * signed as Slack signs them — the command text escaped as Slack sends it with the manifest's `should_escape: true`
 * — the Slack Web API double, a real PostgreSQL target with password auth, real Redis and a real state store.
 * bob asks for alice; both are approvers of the database, so only the "someone else" rule stops them deciding it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, DONE, INPUT, REQUEST_MODAL, REVEAL } from '../../src/chat/slack/ids.js';
import {
  buttonsIn,
  RESPONSE_URL_METHOD,
  SLACK_DOUBLE_DEFAULTS,
  startSlackDouble,
  type SlackDouble,
} from '../../dev/slack/double.js';
import {
  blockActionsPayload,
  postInteraction,
  postSlashCommand,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'for-someone-signing-secret-0123456789';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';
const DAVE = 'U0DAVE';
/** A Slack Connect user of another company, in our channels. */
const EVE = 'U0EVE';

describe('Slack: access for someone else', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const db = () => target.entry.name;
  const approvalMessages = () => slack.messagesIn(CHANNEL);
  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);

  /** A slash command typed in #incident, `escapedText` exactly as Slack sends it; its response_url's answer. */
  async function command(userId: string, escapedText: string) {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId, escapedText, channelId: INCIDENT, responseUrl }),
    );
    expect(res.status).toBe(200);
    const answer = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
    return slack.renderText({ text: String(answer.args.text) });
  }

  function click(userId: string, actionId: string, value: string, message: { ts: string }, channelId = CHANNEL) {
    return postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({
        userId,
        actionId,
        value,
        channelId,
        message,
        triggerId: slack.issueTriggerId({ userId }),
      }),
    );
  }

  async function ephemeralTo(userId: string, after: number): Promise<string> {
    const call = await slack.waitForCall(
      'chat.postEphemeral',
      (c) => c.args.user === userId && slack.calls.indexOf(c) >= after,
      { timeoutMs: 10_000 },
    );
    return String(call.args.text);
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addUser({ id: CAROL, email: 'carol@example.com', name: 'carol' });
    slack.addUser({ id: DAVE, email: 'dave@example.com', name: 'dave' });
    slack.addUser({ id: EVE, email: 'eve@partner.example', name: 'eve', team_id: 'T0STRANGER' });
    slack.addUsergroup('S0DBAS', [ALICE, BOB, CAROL]);
    const everyone = [ALICE, BOB, CAROL, DAVE, EVE];
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: everyone });
    slack.addChannel(INCIDENT, { name: 'incident', members: everyone });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({ approval: { slackChannel: CHANNEL, approvers: [{ slackUsergroup: 'S0DBAS' }] } }),
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'slack-for'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    await cluster?.stop();
  }, 60_000);

  it('bob asks for alice: approvers see both; neither may approve; alice gets the DM, the credentials and can end it', async () => {
    // 1. As Slack sends it with should_escape: alice picked from the autocomplete, a ticket link, a channel, an "&".
    const answer = await command(
      BOB,
      `${db()} read 30m for <@${ALICE}|alice> <https://jira.example.com/browse/INC-42|INC-42> stuck orders, see <#${INCIDENT}|incident> &amp; <@${CAROL}|carol>`,
    );
    expect(answer).toMatch(/Request #\d+ for .* sent to/);
    await slack.waitUntil(() => approvalMessages().length > 0, { timeoutMs: 10_000 });
    const msg = approvalMessages().at(-1)!;
    const requestId = Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value);
    const req = (await store().getRequest(rid(requestId)))!;
    expect(req.requester).toMatchObject({ platform: 'slack', id: ALICE, email: 'alice@example.com' });
    expect(req.askedBy).toMatchObject({ platform: 'slack', id: BOB, email: 'bob@example.com' });
    expect(req.ticket).toBe('https://jira.example.com/browse/INC-42');
    expect(req.reason).toBe('stuck orders, see #incident & @carol');

    // 2. The approvers see who asked and for whom.
    const shown = text(msg);
    expect(shown).toMatch(/Requested by\s+@bob/);
    expect(shown).toMatch(/For\s+@alice \(gets the access\)/);
    expect(String(msg.text)).toMatch(/bob on behalf of alice asks for/);

    // 3. Neither bob (who asked) nor alice (who it is for) may approve; nothing moves.
    let mark = slack.calls.length;
    await click(BOB, APPROVE, String(requestId), msg);
    expect(await ephemeralTo(BOB, mark)).toMatch(/can't approve a request you made for someone else/i);
    mark = slack.calls.length;
    await click(ALICE, APPROVE, String(requestId), msg);
    expect(await ephemeralTo(ALICE, mark)).toMatch(/can't approve your own request/i);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
    const refused = (await store().listAudit({ requestId: rid(requestId), type: 'access.refused' })).map((e) => [
      e.actor.id,
      e.detail.code,
    ]);
    expect(refused).toEqual([
      [BOB, 'SELF_APPROVAL'],
      [ALICE, 'SELF_APPROVAL'],
    ]);
    const [created] = await store().listAudit({ requestId: rid(requestId), type: 'request.created' });
    expect(created!.actor.id).toBe(BOB);
    expect(created!.detail).toMatchObject({ requester: 'bob@example.com', beneficiary: 'alice@example.com' });

    // 4. carol approves: the user is alice's, the DM with Show credentials goes to alice, none to bob.
    await click(CAROL, APPROVE, String(requestId), msg);
    await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 15_000 });
    const grant = (await store().getGrantByRequest(rid(requestId)))!;
    expect(grant.requester.id).toBe(ALICE);
    expect(grant.username).toMatch(/^jit_alice_/);
    const dm = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === REVEAL)),
      { timeoutMs: 10_000 },
    );
    expect(text(dm)).toMatch(/@bob asked for it on your behalf/);
    expect(slack.dmOf(BOB).filter((m) => buttonsIn(m).some((b) => b.actionId === REVEAL))).toEqual([]);

    // 5. bob cannot reveal alice's credentials (a forged click with her grant id); alice can, and they work.
    mark = slack.calls.length;
    await click(BOB, REVEAL, String(grant.id), dm, INCIDENT);
    expect(await ephemeralTo(BOB, mark)).toMatch(/only the person this access is for can see these credentials/);
    expect(slack.callsTo('views.open').filter((c) => JSON.stringify(c.args).includes(grant.username))).toEqual([]);
    await click(ALICE, REVEAL, String(grant.id), dm, slack.dmChannelId(ALICE));
    const opened = await slack.waitForCall('views.open', (c) => JSON.stringify(c.args).includes(grant.username), {
      timeoutMs: 10_000,
    });
    const modalText = JSON.stringify(opened.args.view);
    const password = /[A-Za-z0-9]{32}/.exec(modalText.slice(modalText.indexOf('assword')))![0];
    const session = await target.connectAs(grant.username, password);
    expect((await session.query('SELECT count(*) FROM items')).length).toBe(1);

    // 6. alice, whose access it is, ends it: the user is dropped and her session with it.
    await click(ALICE, DONE, String(grant.id), dm, slack.dmChannelId(ALICE));
    await session.ended;
    await waitFor('alice’s grant revoked', async () => (await store().getGrant(grant.id))!.status === 'revoked', {
      timeoutMs: 15_000,
    });
    expect(await target.userExists(grant.username)).toBe(false);
  }, 60_000);

  it('the request form: "For someone else" picks the person; the request is theirs, asked by the form’s user', async () => {
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId: DAVE, text: '', channelId: INCIDENT, triggerId: slack.issueTriggerId({ userId: DAVE }) }),
    );
    expect(res.status).toBe(200);
    const opened = await slack.waitForCall('views.open', (c) => JSON.stringify(c.args).includes(REQUEST_MODAL), {
      timeoutMs: 10_000,
    });
    const view = opened.args.view as {
      blocks: Array<{ block_id?: string; optional?: boolean; element?: { type?: string } }>;
    };
    const forBlock = view.blocks.find((b) => b.block_id === INPUT.for.block);
    expect(forBlock).toMatchObject({ optional: true, element: { type: 'users_select' } });

    const before = approvalMessages().length;
    const select = (value: string) => ({
      type: 'static_select',
      selected_option: { text: { type: 'plain_text' as const, text: value }, value },
    });
    const submit = await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({
        userId: DAVE,
        callbackId: REQUEST_MODAL,
        privateMetadata: JSON.stringify({ channelId: INCIDENT }),
        values: {
          [INPUT.database.block]: { [INPUT.database.action]: select(db()) },
          [INPUT.level.block]: { [INPUT.level.action]: select('read') },
          [INPUT.duration.block]: { [INPUT.duration.action]: '10m' },
          [INPUT.reason.block]: { [INPUT.reason.action]: 'form for alice' },
          [INPUT.for.block]: { [INPUT.for.action]: { type: 'users_select', selected_user: ALICE } },
        },
      }),
    );
    expect(submit.status).toBe(200);
    await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
    const req = (await store().listRequests({})).find((r) => r.reason === 'form for alice')!;
    expect(req.requester.id).toBe(ALICE);
    expect(req.askedBy!.id).toBe(DAVE);
    expect(text(approvalMessages().at(-1)!)).toMatch(/Requested by\s+@dave/);
  });

  it('refused, saying why, with nothing asked: a typed @name, @here, a channel, a Slack Connect user, a bot', async () => {
    const requestsBefore = (await store().listRequests({})).length;
    expect(await command(BOB, `${db()} read 10m for @alice INC-1 typed`)).toMatch(
      /@alice could be more than one person\. Pick them from the @-mention list/,
    );
    expect(await command(BOB, `${db()} read 10m for <!here> INC-1 everyone`)).toMatch(
      /@here notifies everyone in a channel/,
    );
    expect(await command(BOB, `${db()} read 10m for <#${CHANNEL}|db-approvals> INC-1 chan`)).toMatch(
      /#db-approvals is a channel, not a person/,
    );
    // eve is in our channels through Slack Connect: her own team is another company's.
    expect(await command(BOB, `${db()} read 10m for <@${EVE}|eve> INC-1 outsider`)).toMatch(
      /eve is not in this organisation/,
    );
    expect(await command(BOB, `${db()} read 10m for <@${SLACK_DOUBLE_DEFAULTS.botUserId}> INC-1 bot`)).toMatch(
      /is a bot, not a person/,
    );
    expect((await store().listRequests({})).length).toBe(requestsBefore);
    const refusals = (await store().listAudit({ type: 'access.refused' })).filter(
      (e) => e.actor.id === BOB && e.detail.action === 'request',
    );
    expect(refusals.map((e) => e.detail.reason)).toEqual([
      expect.stringMatching(/eve is not in this organisation/),
      expect.stringMatching(/is a bot, not a person/),
    ]);
  });
});
