/**
 * The broker in Socket Mode end to end: SLACK_APP_TOKEN set and no signing secret, so Bolt connects OUT to the Slack
 * double (apps.connections.open with the app-level token, then a WebSocket to the URL it returns) and every slash
 * command, click and modal submission arrives as an envelope on that socket and is acked on it. The Web API side
 * (messages, ephemerals, DMs, modals) is the same double as in slack-journey.test.ts; the target is a real PostgreSQL
 * cluster with password auth, with real Redis and a real state store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, DENY, REVEAL } from '../../src/chat/slack/ids.js';
import {
  buttonsIn,
  RESPONSE_URL_METHOD,
  startSlackDouble,
  type SlackDouble,
  type SlackMessage,
} from '../../dev/slack/double.js';
import { blockActionsPayload, slashCommand, viewSubmissionPayload } from '../../dev/slack/sign.js';
import { APPS_CONNECTIONS_OPEN, attachSocketMode, type SocketModeServer } from '../../dev/slack/socket-mode.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { rid } from '../support/ids.js';

const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const MALLORY = 'U0MALLORY';
/** Slack's ack deadline. */
const ACK_MS = 3_000;

describe('Slack in Socket Mode', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let sm: SocketModeServer;
  let broker: TestBroker | undefined;

  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);
  const approvalMessages = () => slack.messagesIn(CHANNEL);
  const store = () => broker!.app.deps.store;

  function click(userId: string, actionId: string, value: string, message: SlackMessage) {
    return sm.sendInteraction(
      blockActionsPayload({
        userId,
        actionId,
        value,
        channelId: CHANNEL,
        message,
        ...slack.interaction(userId, { channelId: CHANNEL, messageTs: message.ts }),
      }),
    );
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    sm = await attachSocketMode(slack);
    for (const [id, name] of [
      [ALICE, 'alice'],
      [BOB, 'bob'],
      [MALLORY, 'mallory'],
    ] as const)
      slack.addUser({ id, email: `${name}@example.com`, name });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB, MALLORY] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB, MALLORY] });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' },
      }),
    });
    broker = await startBroker({
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: tempSqliteUrl(),
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('socket'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: sm.appToken,
      // Deliberately empty: Socket Mode needs no signing secret (loadSettings treats '' as unset).
      SLACK_SIGNING_SECRET: '',
      SLACK_API_URL: slack.url,
      SWEEP_INTERVAL: '1s',
      REQUEST_RATE: '1000/1s',
      LOG_LEVEL: 'debug',
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await sm?.stop();
    await slack?.stop();
    await cluster?.stop();
  }, 60_000);

  it('the broker opened the connection itself, with the app-level token, and serves no HTTP Slack endpoint', async () => {
    const opens = slack.callsTo(APPS_CONNECTIONS_OPEN);
    expect(opens).toHaveLength(1);
    expect(opens[0]).toMatchObject({ ok: true, token: sm.appToken });
    const [conn, ...others] = sm.openConnections();
    expect(others).toEqual([]);
    expect(conn).toMatchObject({ open: true, appToken: sm.appToken });
    expect(sm.issuedUrls[0]).toContain(`ticket=${conn!.ticket}`);
    // Bolt verified the BOT token over the Web API; the app token was only used for apps.connections.open.
    expect(slack.calls.filter((c) => c.token === sm.appToken).map((c) => c.method)).toEqual([APPS_CONNECTIONS_OPEN]);
    const res = await fetch(`${broker!.baseUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
  });

  let approval: SlackMessage;
  let requestId: number;

  it('a slash command envelope is acked within 3 s and files a request whose approval message reaches the channel', async () => {
    const responseUrl = slack.respondUrl(undefined, { userId: ALICE, channel: INCIDENT });
    const ack = await sm.sendSlashCommand(
      slashCommand({
        userId: ALICE,
        userName: 'alice',
        text: 'appdb read 10m INC-1 checking stuck orders',
        channelId: INCIDENT,
        responseUrl,
      }),
      { timeoutMs: ACK_MS },
    );
    expect(ack.elapsedMs).toBeLessThan(ACK_MS);
    expect(ack.payload).toEqual({}); // a bare ack(); the answer goes to the response_url
    const answer = await slack.waitForCall(RESPONSE_URL_METHOD, (c) => responseUrl.endsWith(c.responseUrlId ?? '\0'), {
      timeoutMs: 10_000,
    });
    expect(String(answer.args.text)).toMatch(/Request #\d+ for .* sent to/);

    approval = await slack.waitUntil(() => approvalMessages()[0], {
      timeoutMs: 10_000,
      description: 'the approval message',
    });
    const shown = text(approval);
    for (const s of ['alice', 'appdb', 'read', '10m', 'INC-1', 'checking stuck orders', '@bob'])
      expect(shown).toContain(s);
    expect(buttonsIn(approval).map((b) => b.actionId)).toEqual([APPROVE, DENY]);
    requestId = Number(buttonsIn(approval).find((b) => b.actionId === APPROVE)!.value);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
  });

  it('a non-approver is refused ephemerally; an eligible approver makes the grant active and the requester gets a DM', async () => {
    const updatesBefore = slack.callsTo('chat.update').length;
    const refused = await click(MALLORY, APPROVE, String(requestId), approval);
    expect(refused.elapsedMs).toBeLessThan(ACK_MS);
    const no = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === MALLORY, { timeoutMs: 10_000 });
    expect(String(no.args.text)).toMatch(/can't approve/i);
    expect(slack.callsTo('chat.update').length).toBe(updatesBefore);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    const approved = await click(BOB, APPROVE, String(requestId), approval);
    expect(approved.elapsedMs).toBeLessThan(ACK_MS);
    await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, approval.ts)!)), {
      timeoutMs: 20_000,
      description: '"Active until" on the approval message',
    });
    expect(text(slack.messageAt(CHANNEL, approval.ts)!)).toMatch(/approved by @bob/i);
    const dm = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === REVEAL)),
      { timeoutMs: 10_000, description: "alice's DM" },
    );
    expect(text(dm)).toMatch(/active until/i);
    const grant = (await store().getGrantByRequest(rid(requestId)))!;
    expect(grant.status).toBe('active');
    expect(await target.userExists(grant.username)).toBe(true);
  });

  it('a view submission with an invalid level is answered in the ack with response_action: errors', async () => {
    const triggerId = slack.issueTriggerId({ userId: ALICE });
    const opening = await sm.sendSlashCommand(
      slashCommand({ userId: ALICE, text: '', channelId: INCIDENT, triggerId }),
    );
    expect(opening.elapsedMs).toBeLessThan(ACK_MS);
    const opened = await slack.waitForCall('views.open', (c) => c.args.trigger_id === triggerId && c.ok, {
      timeoutMs: 5_000,
    });
    const view = {
      ...(opened.args.view as object),
      id: String((opened.response as { view?: { id?: string } }).view?.id),
    } as never;
    const sel = (v: string) =>
      ({ type: 'static_select', selected_option: { text: { type: 'plain_text', text: v }, value: v } }) as never;
    const before = (await store().listRequests({})).length;
    const ack = await sm.sendInteraction(
      viewSubmissionPayload({
        userId: ALICE,
        view,
        values: {
          database: { database_select: sel('appdb') },
          level: { level_select: sel('superuser') },
          duration: { duration_input: '1h' },
          reason: { reason_input: 'x' },
        },
      }),
      { timeoutMs: ACK_MS },
    );
    expect(ack.payload).toMatchObject({
      response_action: 'errors',
      errors: { level: expect.stringMatching(/read, write, template/) },
    });
    expect((await store().listRequests({})).length).toBe(before);
  });

  it('when Slack asks for a refresh, the broker reconnects with a fresh URL and keeps answering', async () => {
    const [first] = sm.openConnections();
    const count = sm.connections.length + 1;
    const opens = slack.callsTo(APPS_CONNECTIONS_OPEN).length;
    sm.disconnect('refresh_requested');
    const old = (await sm.waitForClose({ connectionId: first!.id, timeoutMs: 5_000 })).find((c) => c.id === first!.id)!;
    expect(old).toMatchObject({ closeCode: 1000, closedBy: 'client' });
    // @slack/socket-mode 3.1 waits clientPingTimeout (5 s) before asking for a new URL.
    const next = await sm.waitForConnection({ count, timeoutMs: 15_000 });
    expect(slack.callsTo(APPS_CONNECTIONS_OPEN).slice(opens)).toEqual([
      expect.objectContaining({ ok: true, token: sm.appToken }),
    ]);
    expect(next.ticket).not.toBe(first!.ticket);
    const responseUrl = slack.respondUrl(undefined, { userId: ALICE, channel: INCIDENT });
    const ack = await sm.sendSlashCommand(
      slashCommand({ userId: ALICE, text: 'help', channelId: INCIDENT, responseUrl }),
      { timeoutMs: ACK_MS },
    );
    expect(ack.connectionId).toBe(next.id);
    await slack.waitForCall(RESPONSE_URL_METHOD, (c) => responseUrl.endsWith(c.responseUrlId ?? '\0'), {
      timeoutMs: 10_000,
    });
  }, 30_000);

  it('stops cleanly: the broker closes its socket (1000) and does not reconnect', async () => {
    const conn = sm.openConnections()[0]!;
    const opens = slack.callsTo(APPS_CONNECTIONS_OPEN).length;
    const b = broker!;
    broker = undefined;
    await b.stop();
    const closed = (await sm.waitForClose({ timeoutMs: 5_000 })).find((c) => c.id === conn.id)!;
    expect(closed).toMatchObject({ open: false, closeCode: 1000, closedBy: 'client' });
    expect(slack.callsTo(APPS_CONNECTIONS_OPEN).length).toBe(opens);
    expect(sm.openConnections()).toEqual([]);
  });
});
