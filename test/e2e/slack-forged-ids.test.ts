/**
 * Forged ids through Slack's real HTTP endpoint (signed requests, the Slack Web API double, a real PostgreSQL
 * target with password auth, real Redis, a real state store). A button value, a modal's private_metadata or a typed
 * id that `Number()` would read as request 2 ("0x2", "2.0", "02", "+2", " 2", "2e0") must be refused by name, to
 * the clicker alone, and change nothing; the same click with "2" must work (so the refusals are about the id).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, DENY, DENY_MODAL, DONE, HOME_APPROVE } from '../../src/chat/slack/ids.js';
import { revoke } from '../../src/core/lifecycle.js';
import { buttonsIn, RESPONSE_URL_METHOD, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
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

const SECRET = 'test-signing-secret-forged-ids-0123';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

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

describe('Slack: forged request and grant ids are refused by name and change nothing', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const approvalMessages = () => slack.messagesIn(CHANNEL);

  async function click(
    userId: string,
    actionId: string,
    value: string,
    message: { ts: string; text?: string; blocks?: unknown[] },
    channelId = CHANNEL,
  ) {
    const triggerId = slack.issueTriggerId({ userId });
    const res = await postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({ userId, actionId, value, channelId, message, triggerId }),
    );
    expect(res.status).toBe(200);
  }

  /** Waits for the next ephemeral to `userId` after call index `from`, and returns its text. */
  async function ephemeralTo(userId: string, from: number): Promise<string> {
    const call = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === userId, {
      timeoutMs: 5_000,
      fromIndex: from,
    });
    return String(call.args.text);
  }

  async function command(userId: string, text: string): Promise<string> {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId, text, channelId: INCIDENT, responseUrl }),
    );
    expect(res.status).toBe(200);
    const answer = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
    return String(answer.args.text);
  }

  async function requestAs(userId: string, text: string) {
    const before = approvalMessages().length;
    await command(userId, text);
    await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
    const msg = approvalMessages().at(-1)!;
    return { msg, requestId: Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value) };
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB] });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' },
      }),
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'slack-ids'),
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

  it('Approve, Deny, Approve from App Home and the deny dialog carrying "0x2", "2.0", "02"…: refused, request 2 stays pending; "2" approves it', async () => {
    await requestAs(ALICE, 'appdb read 30m INC-1 first request');
    const { msg, requestId } = await requestAs(ALICE, 'appdb read 30m INC-2 second request');
    expect(requestId).toBe(2);
    const updatesBefore = slack.callsTo('chat.update').length;
    const opensBefore = slack.callsTo('views.open').length;

    for (const forged of forgeries(requestId)) {
      let from = slack.calls.length;
      await click(BOB, APPROVE, forged, msg);
      expect(await ephemeralTo(BOB, from)).toBe(`"${forged}" is not a request number.`);

      from = slack.calls.length;
      await click(BOB, DENY, forged, msg);
      expect(await ephemeralTo(BOB, from)).toMatch(/is not a request number/);
    }

    // From the App Home tab there is no message: the refusal comes by DM.
    let from = slack.calls.length;
    const home = { id: 'VHOME1', type: 'home', callback_id: '', blocks: [] } as never;
    const homeClick = blockActionsPayload({
      userId: BOB,
      actionId: HOME_APPROVE,
      value: '0x2',
      view: home,
      triggerId: slack.issueTriggerId({ userId: BOB }),
    });
    expect((await postInteraction(broker.baseUrl, SECRET, homeClick)).status).toBe(200);
    const dm = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === BOB, {
      timeoutMs: 5_000,
      fromIndex: from,
    });
    expect(String(dm.args.text)).toBe('"0x2" is not a request number.');

    // A deny dialog whose private_metadata was tampered with: refused by DM, nothing denied.
    from = slack.calls.length;
    const submitted = viewSubmissionPayload({
      userId: BOB,
      callbackId: DENY_MODAL,
      privateMetadata: '0x2',
      values: { reason: { reason_input: 'no' } },
    });
    expect((await postInteraction(broker.baseUrl, SECRET, submitted)).status).toBe(200);
    const dialogDm = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === BOB, {
      timeoutMs: 5_000,
      fromIndex: from,
    });
    expect(String(dialogDm.args.text)).toBe('"0x2" is not a request number.');

    // Nothing changed: no message edited, no dialog opened, no decision recorded, both requests pending.
    expect(slack.callsTo('chat.update').length).toBe(updatesBefore);
    expect(slack.callsTo('views.open').length).toBe(opensBefore);
    expect(await store().listApprovals(rid(requestId))).toEqual([]);
    expect((await store().getRequest(rid(1)))!.status).toBe('pending');
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    // The same approver with the real id: approved (so every refusal above was about the id alone).
    await click(BOB, APPROVE, String(requestId), msg);
    const grant = await waitFor('the grant to be active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    expect((await store().getRequest(rid(1)))!.status).toBe('pending');

    // Grant ids: "I'm done" and a typed revoke carrying a forged grant id leave the grant active.
    const dmChannel = slack.dmChannelId(ALICE);
    const active = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === DONE)),
      { timeoutMs: 10_000 },
    );
    for (const forged of forgeries(grant.id)) {
      from = slack.calls.length;
      await click(ALICE, DONE, forged, active, dmChannel);
      expect(await ephemeralTo(ALICE, from)).toBe(`"${forged}" is not a grant number.`);
      // Typed, a leading space only separates words: " 1" is the id 1, so it is not a forgery there.
      if (!forged.startsWith(' '))
        expect(await command(ALICE, `revoke ${forged}`)).toContain(`"${forged}" is not a grant number. Usage:`);
    }
    expect((await store().getGrant(grant.id))!.status).toBe('active');
    expect(await target.userExists(grant.username)).toBe(true);

    await revoke(broker.app.deps, grant.id);
  });
});
