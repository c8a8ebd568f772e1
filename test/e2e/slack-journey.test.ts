/**
 * The Slack journey end to end: the real HTTP server with Bolt, requests signed as Slack signs them, a local Slack
 * Web API double that records every call and enforces Slack's limits, a real PostgreSQL target with password auth,
 * real Redis and a real state store. Assertions are about what each person sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { APPROVE, DENY, DONE, REVEAL } from '../../src/chat/slack/ids.js';
import type { Grant } from '../../src/core/model.js';
import { revoke } from '../../src/core/lifecycle.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { runCli } from '../support/processes.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { buttonsIn, RESPONSE_URL_METHOD, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import {
  appHomeOpenedEvent,
  blockActionsPayload,
  postEvent,
  postInteraction,
  postSlashCommand,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';
const DAVE = 'U0DAVE';
const ERIN = 'U0ERIN';
const MALLORY = 'U0MALLORY';
/** PROVISIONING_NOTICE_AFTER for the journey broker. */
const NOTICE_AFTER_MS = 1_000;
const PROVISIONING_NOTICE = /Approved by .* · provisioning…/;

describe('Slack journey', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let broker: TestBroker;
  let env: Record<string, string>;
  /** In front of the target for `appdb-slow`: every round trip to it can be made slow. */
  let targetProxy: SlowProxy;
  const passwords: string[] = [];

  const store = () => broker.app.deps.store;
  const approvalMessages = () => slack.messagesIn(CHANNEL);
  const latestApproval = () => approvalMessages().at(-1)!;
  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);

  async function command(userId: string, cmdText: string, opts: { triggerId?: string } = {}) {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({
        userId,
        text: cmdText,
        channelId: INCIDENT,
        responseUrl,
        ...(opts.triggerId && { triggerId: opts.triggerId }),
      }),
    );
    return { res, responseUrl };
  }

  async function click(
    userId: string,
    actionId: string,
    value: string,
    message: { ts: string; text?: string; blocks?: unknown[] },
    channelId = CHANNEL,
  ) {
    const triggerId = slack.issueTriggerId({ userId });
    return postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({ userId, actionId, value, channelId, message, triggerId }),
    );
  }

  /** Opens a request inline as alice and returns its approval message. */
  async function requestAs(userId: string, cmdText: string) {
    const before = approvalMessages().length;
    const { res } = await command(userId, cmdText);
    expect(res.status).toBe(200);
    await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
    const msg = latestApproval();
    const approve = buttonsIn(msg).find((b) => b.actionId === APPROVE)!;
    return { msg, requestId: Number(approve.value) };
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    targetProxy = await startSlowProxy(target.entry.host, target.entry.port, 0);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addUser({ id: CAROL, email: 'carol@example.com', name: 'carol' });
    slack.addUser({ id: DAVE, email: 'dave@example.com', name: 'dave' });
    slack.addUser({ id: ERIN, email: 'erin@example.com', name: 'erin' });
    slack.addUser({ id: MALLORY, email: 'mallory@example.com', name: 'mallory' });
    slack.addUsergroup('S0DBAS', [CAROL, DAVE, ERIN]);
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB, CAROL, DAVE, ERIN, MALLORY] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB, CAROL, DAVE, ERIN, MALLORY] });
    slack.addChannel('C0SECURITY', { name: 'security', members: [BOB, CAROL] });
    const approval = {
      slackChannel: CHANNEL,
      approvers: [{ email: 'bob@example.com' }, { slackUsergroup: 'S0DBAS' }],
      required: 1,
      timeout: '30m',
    };
    const catalog = writeCatalog(
      [
        target.entry,
        {
          ...target.entry,
          name: 'appdb-broken',
          levels: new Map([['read', { ...target.levels.read, roles: ['no_such_role'] }]]),
        },
        { ...target.entry, name: 'appdb-quick' },
        { ...target.entry, name: 'appdb-msg' },
        { ...target.entry, name: 'appdb-policy' },
        { ...target.entry, name: 'appdb-slow', host: '127.0.0.1', port: targetProxy.port },
      ],
      {
        perEntry: (d) =>
          d.name === 'appdb-quick'
            ? { approval: { ...approval, timeout: '2s' } }
            : d.name === 'appdb-msg'
              ? { approval, delivery: 'message' }
              : d.name === 'appdb-policy'
                ? {
                    approval: {
                      slackChannel: CHANNEL,
                      approvers: [{ email: 'bob@example.com' }],
                      escalation: [{ after: '2s', approvers: [{ email: 'carol@example.com' }] }],
                      breakGlass: {
                        users: ['alice@example.com'],
                        alertChannel: 'C0SECURITY',
                        maxDuration: '30m',
                        reviewWithin: '1h',
                      },
                    },
                  }
                : { approval },
      },
    );
    env = {
      ...journeyEnv(catalog, 'slack'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      PROVISIONING_NOTICE_AFTER: String(NOTICE_AFTER_MS),
    };
    broker = await startBroker(env);
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    await targetProxy?.stop();
    await cluster?.stop();
  }, 60_000);

  it('the whole journey: /db-access → approval in channel → credentials by reveal → reminder → expiry, as each person sees it', async () => {
    // 1. alice asks inline; the bot answers her ephemerally, naming who was asked.
    const { res, responseUrl } = await command(ALICE, 'appdb read 14s INC-42 checking stuck orders');
    expect(res.status).toBe(200);
    const answer = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
    expect(String(answer.args.text)).toMatch(/Request #\d+ for .* sent to/);
    expect(slack.renderText({ text: String(answer.args.text) })).toMatch(/@bob/);

    // 2. The approval channel shows who wants what, why, and mentions the approvers, with Approve / Deny.
    await slack.waitUntil(() => approvalMessages().length > 0, { timeoutMs: 10_000 });
    const msg = latestApproval();
    const shown = text(msg);
    for (const s of [
      'alice',
      'appdb',
      'read',
      '14s',
      'INC-42',
      'checking stuck orders',
      '@bob',
      '@carol',
      '@dave',
      '@erin',
    ])
      expect(shown).toContain(s);
    const approveBtn = buttonsIn(msg).find((b) => b.actionId === APPROVE)!;
    expect(buttonsIn(msg).map((b) => b.actionId)).toEqual([APPROVE, DENY]);
    const requestId = Number(approveBtn.value);

    // 3. mallory (not an approver) and alice (the requester) are told no, ephemerally; nothing moves.
    const updatesBefore = slack.callsTo('chat.update').length;
    expect((await click(MALLORY, APPROVE, String(requestId), msg)).status).toBe(200);
    const noToMallory = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === MALLORY, {
      timeoutMs: 5_000,
    });
    expect(String(noToMallory.args.text)).toMatch(/can't approve/i);
    await click(ALICE, APPROVE, String(requestId), msg);
    const noToAlice = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === ALICE, { timeoutMs: 5_000 });
    expect(String(noToAlice.args.text)).toMatch(/your own request/i);
    expect(slack.callsTo('chat.update').length).toBe(updatesBefore);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    // 4. carol (via the user group) approves: the message moves to active with a Revoke button; alice gets a DM.
    await click(CAROL, APPROVE, String(requestId), msg);
    await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 15_000 });
    const active = slack.messageAt(CHANNEL, msg.ts)!;
    expect(text(active)).toMatch(/approved by @carol/i);
    expect(buttonsIn(active).map((b) => b.actionId)).toEqual(['revoke']);
    const grant = (await store().getGrantByRequest(rid(requestId)))!;
    const dm = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === REVEAL)),
      { timeoutMs: 10_000 },
    );
    expect(text(dm)).toMatch(/active until/i);

    // 5. Show credentials rotates the password and shows it in a modal — the only place it appears.
    const reveal = buttonsIn(dm).find((b) => b.actionId === REVEAL)!;
    await click(ALICE, REVEAL, reveal.value!, dm, slack.dmChannelId(ALICE));
    const opened = await slack.waitForCall('views.open', (c) => JSON.stringify(c.args).includes(grant.username), {
      timeoutMs: 10_000,
    });
    const modalText = JSON.stringify(opened.args.view);
    const password = /[A-Za-z0-9]{32}/.exec(modalText.slice(modalText.indexOf('assword')))?.[0];
    expect(password).toBeDefined();
    passwords.push(password!);
    const session = await target.connectAs(grant.username, password!);
    expect((await session.query('SELECT count(*) FROM items')).length).toBe(1);
    await session.query('BEGIN');
    await session.query('SELECT 1');

    // 6. Before expiry, a DM with Extend and I'm done.
    const reminder = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === DONE) && /Extend/.test(text(m))),
      { timeoutMs: 20_000 },
    );
    expect(text(reminder)).toMatch(/expires/i);

    // 7. At expiry: session terminated, user dropped, the channel message says so, with a receipt in the thread.
    await session.ended;
    await slack.waitUntil(() => /Expired/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 20_000 });
    const ended = slack.messageAt(CHANNEL, msg.ts)!;
    expect(buttonsIn(ended)).toEqual([]);
    const receipt = await slack.waitUntil(
      () => slack.messageAt(CHANNEL, msg.ts)!.replies?.find((r) => /session/.test(text(r))),
      { timeoutMs: 10_000 },
    );
    expect(text(receipt)).toMatch(/1 session terminated/);
    expect(text(receipt)).toContain(grant.username);
    expect(await target.userExists(grant.username)).toBe(false);
    await expect(target.connectAs(grant.username, password!)).rejects.toThrow();
    // The DM was edited: no button left to reveal anything.
    await slack.waitUntil(() => slack.dmOf(ALICE).every((m) => !buttonsIn(m).some((b) => b.actionId === REVEAL)), {
      timeoutMs: 10_000,
    });

    // The password is in no recorded Slack call except the reveal modal.
    const leaks = slack.calls.filter(
      (c) => JSON.stringify(c.args).includes(password!) || JSON.stringify(c.response ?? {}).includes(password!),
    );
    expect(leaks.map((c) => c.method)).toEqual(['views.open']);
  });

  it('a user ready at once: the approval message goes from the request straight to active (one update, no "provisioning" notice)', async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb read 30m INC-46 quick look');
    await click(BOB, APPROVE, String(requestId), msg);
    await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 15_000 });
    const request = (await store().getRequest(rid(requestId)))!;
    const grant = (await store().getGrantByRequest(rid(requestId)))!;
    // The claim holds only when the user was ready within the notice delay (it is, by far, unless the machine stalls).
    if (grant.activatedAt! - request.decidedAt! < NOTICE_AFTER_MS) {
      // Past the delay, the notice that was held back must not arrive either.
      await new Promise((r) => setTimeout(r, NOTICE_AFTER_MS + 300));
      const history = slack.messageAt(CHANNEL, msg.ts)!.history;
      expect(history.map((h) => h.by)).toEqual(['chat.postMessage', 'chat.update']);
      expect(history.some((h) => PROVISIONING_NOTICE.test(text(h)))).toBe(false);
    }
    await revoke(broker.app.deps, grant.id);
  });

  it('a slow target: after PROVISIONING_NOTICE_AFTER the approval message says it is provisioning, then moves on to active', async () => {
    targetProxy.delayMs = 400; // every round trip to the target takes ≥ 0.4 s: provisioning takes seconds
    try {
      const { msg, requestId } = await requestAs(ALICE, 'appdb-slow read 30m INC-47 slow target');
      await click(BOB, APPROVE, String(requestId), msg);
      await slack.waitUntil(
        () => slack.messageAt(CHANNEL, msg.ts)!.history.some((h) => PROVISIONING_NOTICE.test(text(h))),
        { timeoutMs: 15_000 },
      );
      const request = (await store().getRequest(rid(requestId)))!;
      const notice = slack.messageAt(CHANNEL, msg.ts)!.history.find((h) => PROVISIONING_NOTICE.test(text(h)))!;
      expect(notice.at - request.decidedAt!).toBeGreaterThanOrEqual(NOTICE_AFTER_MS - 50);
      expect((await store().getGrantByRequest(rid(requestId)))!.status).toBe('provisioning');
      expect(buttonsIn(notice as Parameters<typeof buttonsIn>[0]).map((b) => b.actionId)).not.toContain(APPROVE);
      targetProxy.delayMs = 0;
      await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 30_000 });
      expect(slack.messageAt(CHANNEL, msg.ts)!.history.map((h) => h.by)).toEqual([
        'chat.postMessage',
        'chat.update',
        'chat.update',
      ]);
      const grant = (await store().getGrantByRequest(rid(requestId)))!;
      // The 30 minutes run from when the user exists, seconds after the approval on this slow target.
      expect(grant.activatedAt! - request.decidedAt!).toBeGreaterThan(NOTICE_AFTER_MS - 50);
      expect(grant.expiresAt).toBe(grant.activatedAt! + 30 * 60_000);
      await revoke(broker.app.deps, grant.id);
    } finally {
      targetProxy.delayMs = 0;
    }
  }, 60_000);

  it('a forged or stale signature gets 401 and nothing is recorded', async () => {
    const callsBefore = slack.calls.length;
    const requestsBefore = (await store().listRequests({})).length;
    const body = slashCommand({ userId: ALICE, text: 'appdb read 1h INC-1 forged', channelId: INCIDENT });
    expect((await postSlashCommand(broker.baseUrl, SECRET, body, { forgeSignature: true })).status).toBe(401);
    expect((await postSlashCommand(broker.baseUrl, SECRET, body, { staleTimestamp: true })).status).toBe(401);
    expect((await postSlashCommand(broker.baseUrl, 'another-secret', body)).status).toBe(401);
    expect(
      (
        await postInteraction(
          broker.baseUrl,
          SECRET,
          blockActionsPayload({ userId: BOB, actionId: APPROVE, value: '1', channelId: CHANNEL, messageTs: '1.1' }),
          { forgeSignature: true },
        )
      ).status,
    ).toBe(401);
    expect(slack.calls.length).toBe(callsBefore);
    expect((await store().listRequests({})).length).toBe(requestsBefore);
  });

  it('a user-supplied reason is shown literally and pings nobody', async () => {
    const hostile = '<!channel> <https://evil.example|click> <@U0BOB> & more';
    const { msg, requestId } = await requestAs(ALICE, `appdb read 10m INC-7 ${hostile}`);
    const json = JSON.stringify({ text: msg.text, blocks: msg.blocks });
    expect(json).not.toContain('<!channel>');
    expect(json).not.toContain('<https://evil');
    expect(json).not.toContain('<@U0BOB> &');
    expect(json).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(text(msg)).toContain('<!channel> <https://evil.example|click>');
    await store().decideRequest(rid(requestId), 'cancelled', Date.now(), 'test cleanup');
  });

  it('ten concurrent Approve clicks (repeats and different approvers): one grant, one credentials DM, the final state written once', async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb read 30m INC-9 racing approvers');
    const dmsBefore = slack
      .callsTo('chat.postMessage')
      .filter((c) => [ALICE, slack.dmChannelId(ALICE)].includes(String(c.args.channel))).length;
    const clickers = [BOB, BOB, BOB, BOB, CAROL, CAROL, DAVE, DAVE, ERIN, ERIN];
    const results = await Promise.all(clickers.map((u) => click(u, APPROVE, String(requestId), msg)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 15_000 });
    const grants = (await store().listGrants({})).filter((g: Grant) => g.requestId === requestId);
    expect(grants).toHaveLength(1);
    // Every click but one is told the request was already decided.
    await slack.waitUntil(
      () => slack.callsTo('chat.postEphemeral').filter((c) => /already/i.test(String(c.args.text))).length >= 9,
      { timeoutMs: 10_000 },
    );
    const aliceDms = () =>
      slack
        .callsTo('chat.postMessage')
        .filter((c) => [ALICE, slack.dmChannelId(ALICE)].includes(String(c.args.channel)));
    await slack.waitUntil(() => aliceDms().length > dmsBefore, { timeoutMs: 10_000 });
    // Settle: the worker's last notification for this grant (the approval message update) has been written.
    await waitFor(
      'the provisioning to be fully notified',
      async () => (await store().getGrantByRequest(rid(requestId)))?.status === 'active',
    );
    const dms = aliceDms();
    expect(dms.length - dmsBefore).toBe(1);
    const activeWrites = slack
      .callsTo('chat.update')
      .filter((c) => c.args.ts === msg.ts && /Active until/.test(slack.renderText(c.args as never)));
    expect(activeWrites).toHaveLength(1);
    const approvedWrites = slack.callsTo('chat.update').filter((c) => c.args.ts === msg.ts);
    expect(approvedWrites.length).toBeLessThanOrEqual(2); // provisioning… then active, never backwards
    // Leave no live grant behind: alice's per-person limits apply to the next cases.
    await revoke(broker.app.deps, grants[0]!.id);
  });

  it('deny asks for a reason; a click on a decided request gets an explanation and changes nothing', async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb write 1h INC-11 please');
    await click(BOB, DENY, String(requestId), msg);
    const modal = await slack.waitForCall(
      'views.open',
      (c) => (c.args.view as { callback_id?: string }).callback_id === 'db_access_deny',
      { timeoutMs: 5_000 },
    );
    const view = {
      ...(modal.args.view as object),
      id: String((modal.response as { view?: { id?: string } }).view?.id ?? 'V1'),
    } as never;
    const empty = await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({ userId: BOB, view, values: { reason: { reason_input: '  ' } } }),
    );
    expect(empty.json).toMatchObject({ response_action: 'errors' });
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
    const ok = await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({ userId: BOB, view, values: { reason: { reason_input: 'use the replica <!here>' } } }),
    );
    expect(ok.status).toBe(200);
    await slack.waitUntil(() => /Denied by @bob/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 10_000 });
    expect(JSON.stringify(slack.messageAt(CHANNEL, msg.ts)!.blocks)).not.toContain('<!here>');
    const updates = slack.callsTo('chat.update').length;
    await click(CAROL, APPROVE, String(requestId), slack.messageAt(CHANNEL, msg.ts)!);
    const told = await slack.waitForCall(
      'chat.postEphemeral',
      (c) => c.args.user === CAROL && /denied/i.test(String(c.args.text)),
      { timeoutMs: 5_000 },
    );
    expect(told).toBeTruthy();
    expect(slack.callsTo('chat.update').length).toBe(updates);
    expect(await store().getGrantByRequest(rid(requestId))).toBeUndefined();
  });

  it('the modal: inline validation errors change nothing; a valid submission files the request', async () => {
    const triggerId = slack.issueTriggerId({ userId: ALICE });
    await command(ALICE, '', { triggerId });
    const opened = await slack.waitForCall('views.open', (c) => c.args.trigger_id === triggerId, { timeoutMs: 5_000 });
    const view = {
      ...(opened.args.view as object),
      id: String((opened.response as { view?: { id?: string } }).view?.id),
    } as never;
    const sel = (v: string) =>
      ({ type: 'static_select', selected_option: { text: { type: 'plain_text', text: v }, value: v } }) as never;
    const before = (await store().listRequests({})).length;
    const bad = await postInteraction(
      broker.baseUrl,
      SECRET,
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
    );
    expect(bad.json).toMatchObject({
      response_action: 'errors',
      errors: { level: expect.stringMatching(/read, write, template/) },
    });
    const tooLong = await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({
        userId: ALICE,
        view,
        values: {
          database: { database_select: sel('appdb') },
          level: { level_select: sel('read') },
          duration: { duration_input: '9h' },
          reason: { reason_input: 'x' },
        },
      }),
    );
    expect(tooLong.json).toMatchObject({
      response_action: 'errors',
      errors: { duration: expect.stringMatching(/1h/) },
    });
    expect((await store().listRequests({})).length).toBe(before);
    const good = await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({
        userId: ALICE,
        view,
        values: {
          database: { database_select: sel('appdb') },
          level: { level_select: sel('read') },
          duration: { duration_input: '15m' },
          reason: { reason_input: 'from the modal' },
          ticket: { ticket_input: 'INC-77' },
        },
      }),
    );
    expect(good.status).toBe(200);
    const sent = await slack.waitForCall(
      'chat.postEphemeral',
      (c) => c.args.user === ALICE && /sent to/.test(String(c.args.text)),
      { timeoutMs: 10_000 },
    );
    expect(sent.args.channel).toBe(INCIDENT);
    const req = (await store().listRequests({})).at(-1)!;
    expect(req).toMatchObject({ reason: 'from the modal', ticket: 'INC-77', status: 'pending' });
    await store().decideRequest(req.id, 'cancelled', Date.now(), 'test cleanup');
  });

  it('App Home shows my access and the requests waiting for me, with their buttons', async () => {
    const { requestId } = await requestAs(ALICE, 'appdb read 20m INC-12 home test');
    expect((await postEvent(broker.baseUrl, SECRET, appHomeOpenedEvent(BOB))).status).toBe(200);
    await slack.waitForCall('views.publish', (c) => c.args.user_id === BOB, { timeoutMs: 10_000 });
    const home = slack.homeOf(BOB)!;
    expect(JSON.stringify(home)).toContain(`"value":"${requestId}"`);
    expect(slack.renderText(home as never)).toMatch(/alice/);
    await postEvent(broker.baseUrl, SECRET, appHomeOpenedEvent(MALLORY));
    await slack.waitForCall('views.publish', (c) => c.args.user_id === MALLORY, { timeoutMs: 10_000 });
    expect(JSON.stringify(slack.homeOf(MALLORY))).not.toContain(`"value":"${requestId}"`);
    await store().decideRequest(rid(requestId), 'cancelled', Date.now(), 'test cleanup');
  });

  it('a request nobody decides expires and the message says so', async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb-quick read 10m INC-13 nobody home');
    await slack.waitUntil(() => /Expired: nobody approved/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), {
      timeoutMs: 15_000,
    });
    expect((await store().getRequest(rid(requestId)))!.status).toBe('expired');
    expect(buttonsIn(slack.messageAt(CHANNEL, msg.ts)!)).toEqual([]);
  });

  it('a provisioning failure updates the message and tells the requester what failed, without secrets', async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb-broken read 10m INC-14 broken role');
    await click(BOB, APPROVE, String(requestId), msg);
    await slack.waitUntil(() => /Provisioning failed/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), {
      timeoutMs: 20_000,
    });
    const told = await slack
      .waitUntil(
        () => slack.dmOf(ALICE).find((m) => /Could not create your user/.test(text(m)) && /no_such_role/.test(text(m))),
        { timeoutMs: 10_000 },
      )
      .catch((err: Error) => {
        throw new Error(
          `${err.message}\nDMs: ${slack
            .dmOf(ALICE)
            .map((m) => text(m))
            .join('\n---\n')}`,
        );
      });
    expect(text(told)).toMatch(/will not be retried/);
    expect((await store().getGrantByRequest(rid(requestId)))!.status).toBe('failed');
  });

  it('delivery: message puts the credentials in the DM and edits the password out at expiry', async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb-msg read 6s INC-15 message delivery');
    await click(BOB, APPROVE, String(requestId), msg);
    const grant = await waitFor('grant active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    const dm = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => text(m).includes(grant.username) && /[A-Za-z0-9]{32}/.test(text(m))),
      { timeoutMs: 10_000 },
    );
    const password = /[A-Za-z0-9]{32}/.exec(text(dm))![0];
    passwords.push(password);
    const s = await target.connectAs(grant.username, password);
    await s.close();
    await slack.waitUntil(() => !text(slack.messageAt(dm.channel, dm.ts) ?? dm).includes(password), {
      timeoutMs: 20_000,
    });
    expect(await target.userExists(grant.username)).toBe(false);
  });

  it("extend goes through the same approval; I'm done ends access early and says who ended it", async () => {
    const { msg, requestId } = await requestAs(ALICE, 'appdb read 10m INC-20 extend me');
    await click(BOB, APPROVE, String(requestId), msg);
    const grant = await waitFor('grant active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    // The grant's owner asks for more time; it needs an approver like any request.
    const { res } = await command(ALICE, `extend ${grant.id} 20m still digging`);
    expect(res.status).toBe(200);
    await slack.waitUntil(() => /Extension request/.test(text(latestApproval())), { timeoutMs: 10_000 });
    const ext = latestApproval();
    const extId = buttonsIn(ext).find((b) => b.actionId === APPROVE)!.value!;
    expect(text(ext)).toContain('still digging');
    // Someone else cannot ask to extend alice's grant.
    const { responseUrl } = await command(MALLORY, `extend ${grant.id} 20m mine now`);
    const refused = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 5_000 },
    );
    expect(String(refused.args.text)).toMatch(/not yours/i);
    await click(CAROL, APPROVE, extId, ext);
    const extended = await waitFor('the expiry to move', async () => {
      const g = (await store().getGrant(grant.id))!;
      return g.expiresAt === grant.expiresAt + 20 * 60_000 ? g : undefined;
    });
    await slack.waitUntil(() => /Extended: active/.test(text(slack.messageAt(CHANNEL, ext.ts)!)), {
      timeoutMs: 10_000,
    });
    expect(extended.status).toBe('active');
    // "I'm done" from the DM revokes now.
    const dm = slack
      .dmOf(ALICE)
      .find((m) => text(m).includes(grant.username) && buttonsIn(m).some((b) => b.actionId === DONE))!;
    await click(ALICE, DONE, String(grant.id), dm, slack.dmChannelId(ALICE));
    await waitFor('the grant to end', async () => (await store().getGrant(grant.id))!.status === 'revoked');
    await slack.waitUntil(() => /ended early by alice/i.test(text(slack.messageAt(CHANNEL, msg.ts)!)), {
      timeoutMs: 10_000,
    });
    expect(await target.userExists(grant.username)).toBe(false);
  });

  it('nobody decides: the next tier is asked in the thread and may then approve', async () => {
    const { msg, requestId } = await requestAs(ERIN, 'appdb-policy read 10m INC-30 escalate me');
    expect(text(msg)).toContain('@bob');
    expect(text(msg)).not.toContain('@carol');
    const reply = await slack.waitUntil(
      () => slack.messageAt(CHANNEL, msg.ts)!.replies.find((r) => /tier 1/.test(text(r))),
      { timeoutMs: 15_000 },
    );
    expect(text(reply)).toContain('@carol');
    await click(CAROL, APPROVE, String(requestId), slack.messageAt(CHANNEL, msg.ts)!);
    await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 15_000 });
  });

  it('break-glass from Slack: access at once, an alert in the security channel, and a review button for approvers', async () => {
    const { res } = await command(ALICE, 'break-glass appdb-policy read 10m primary is down');
    expect(res.status).toBe(200);
    const alert = await slack.waitUntil(() => slack.messagesIn('C0SECURITY').at(-1), { timeoutMs: 15_000 });
    expect(text(alert)).toMatch(/Break-glass/);
    expect(text(alert)).toContain('primary is down');
    const reviewed = buttonsIn(alert).find((b) => b.actionId === 'break_glass_reviewed')!;
    const requestId = Number(reviewed.value);
    await waitFor(
      'the break-glass grant to be active',
      async () => (await store().getGrantByRequest(rid(requestId)))?.status === 'active',
    );
    await click(MALLORY, 'break_glass_reviewed', reviewed.value!, alert, 'C0SECURITY');
    await slack.waitForCall(
      'chat.postEphemeral',
      (c) => c.args.user === MALLORY && /can't review/i.test(String(c.args.text)),
      { timeoutMs: 5_000 },
    );
    await click(BOB, 'break_glass_reviewed', reviewed.value!, alert, 'C0SECURITY');
    await slack.waitUntil(
      () =>
        /Reviewed/.test(text(slack.messageAt('C0SECURITY', alert.ts)!)) &&
        buttonsIn(slack.messageAt('C0SECURITY', alert.ts)!).length === 0,
      { timeoutMs: 10_000 },
    );
    expect((await store().getRequest(rid(requestId)))!.reviewedAt).toBeDefined();
  });

  it('access approved by policy, ready before its approval message is posted: the message still ends up saying it is active', async () => {
    // Slack answers postMessage slower than the target makes the user: the activation finds no message to update.
    slack.setLatency('chat.postMessage', 800);
    try {
      const before = approvalMessages().length;
      const { res } = await command(ALICE, 'break-glass appdb-policy read 10m replica lag');
      expect(res.status).toBe(200);
      const msg = await slack.waitUntil(() => (approvalMessages().length > before ? latestApproval() : undefined), {
        timeoutMs: 15_000,
      });
      const requestId = Math.max(
        ...(await store().listRequests({ requesterId: ALICE }))
          .filter((r) => r.breakGlass && r.reason === 'replica lag')
          .map((r) => r.id),
      );
      const grant = await waitFor('the break-glass grant to be active', async () => {
        const g = await store().getGrantByRequest(rid(requestId));
        return g?.status === 'active' ? g : undefined;
      });
      // The race this test is about: active before the approval message existed.
      expect(grant.activatedAt).toBeLessThan(slack.messageAt(CHANNEL, msg.ts)!.history[0]!.at);
      await slack.waitUntil(() => /Active until/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 10_000 });
      await revoke(broker.app.deps, grant.id);
    } finally {
      slack.setLatency('chat.postMessage', 0);
    }
  }, 60_000);

  it('the access report says who held what, when, for how long and approved by whom — as CSV and posted to a channel', async () => {
    const csv = await runCli(['report', '--since', '2h', '--format', 'csv'], env);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('database,level,who,username,from,to,held_seconds,approved_by,reason,ticket,end_reason');
    const journey = lines.find((l) => l.includes('checking stuck orders'))!;
    expect(journey).toMatch(/^appdb,read,alice@example\.com,jit_alice_[a-z0-9]+,20\d\d-/);
    expect(journey).toContain('carol@example.com');
    expect(journey).toContain('INC-42');
    expect(
      lines.some((l) => l.startsWith('appdb-policy,read,alice@example.com') && l.includes('break-glass (no approval)')),
    ).toBe(true);
    slack.addChannel('C0REPORTS', { name: 'access-reports', members: [BOB] });
    const posted = await runCli(['report', '--since', '2h', '--post', 'C0REPORTS'], env);
    expect(posted.code, posted.stderr).toBe(0);
    const report = slack.messagesIn('C0REPORTS').at(-1)!;
    expect(text(report)).toMatch(/Database access .* grant\(s\)/);
    expect(text(report)).toContain('alice@example.com');
  });

  it('every step of the journey left its audit row, and the chain verifies', async () => {
    const types = new Set((await store().listAudit({})).map((e) => e.type));
    for (const t of [
      'request.created',
      'approval.recorded',
      'request.approved',
      'request.denied',
      'request.expired',
      'request.escalated',
      'request.break_glass',
      'break_glass.reviewed',
      'grant.provisioned',
      'grant.provision_failed',
      'grant.credentials_issued',
      'grant.extended',
      'grant.revoked',
    ]) {
      expect(types.has(t as never), t).toBe(true);
    }
    const verify = await runCli(['audit', 'verify'], env);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toContain('Audit log intact');
  });

  it('/metrics moves as the journey runs', async () => {
    const scrape = async () => {
      const res = await fetch(`${broker.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      return res.text();
    };
    const value = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    };
    const first = await scrape();
    expect(value(first, 'db_access_requests_total{outcome="approved",database="appdb"}')).toBeGreaterThanOrEqual(2);
    expect(value(first, 'db_access_revocation_lateness_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(first, 'db_access_provision_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(value(first, 'db_access_time_to_decision_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(first).toMatch(/^db_access_queue_jobs\{queue="revoke",state="delayed"\} \d+/m);
    expect(first).toMatch(/^db_access_grants\{status="active"\} \d+/m);
    const requested = value(first, 'db_access_requests_total{outcome="requested",database="appdb-quick"}');
    const { requestId } = await requestAs(ALICE, 'appdb-quick read 10m INC-40 metrics');
    const second = await scrape();
    expect(value(second, 'db_access_requests_total{outcome="requested",database="appdb-quick"}')).toBe(requested + 1);
    expect(value(second, 'db_access_pending_requests')).toBeGreaterThanOrEqual(1);
    await store().decideRequest(rid(requestId), 'cancelled', Date.now(), 'test cleanup');
  });

  it('no password appears in the broker logs', () => {
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    const logs = broker.logs.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const p of passwords) {
      const line = broker.logs.find((l) => l.includes(p));
      expect(line?.replace(p, '<PASSWORD>').slice(0, 800)).toBeUndefined();
    }
  });
});

describe('Slack acks within 3 s when the state DB is slow', () => {
  let slack: SlackDouble;
  let broker: TestBroker;
  let proxy: SlowProxy;
  const dbName = `dbaccess_slow_${process.pid}_${Date.now() % 100000}`;

  beforeAll(async () => {
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    proxy = await startSlowProxy('127.0.0.1', 5432, 0);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB] });
    const catalog = writeCatalog(
      [
        {
          name: 'remote',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          database: 'postgres',
          admin: { user: 'postgres', password: 'unused' },
          // A role that does not exist: provisioning fails cleanly, so this test leaves no user on the shared server.
          levels: new Map([
            [
              'read',
              { name: 'read', roles: ['db_access_no_such_role'], grants: [], guardRails: { connectionLimit: 2 } },
            ],
          ]),
          maxDuration: 3_600_000,
          brokerSchema: 'db_access',
          delivery: 'reveal',
          approval: { required: 1, timeoutMs: 1_800_000, approvers: [], escalation: [], autoApprove: [] },
          limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
        },
      ],
      { perEntry: () => ({ approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] } }) },
    );
    broker = await startBroker({
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${dbName}`,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('slow'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    await proxy?.stop();
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }, 60_000);

  it('the slash command and the Approve click are acked fast; the work finishes after the ack', async () => {
    proxy.delayMs = 700; // every round trip to the state DB now takes ≥ 0.7 s
    const responseUrl = slack.respondUrl(undefined, { userId: ALICE, channel: INCIDENT });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId: ALICE, text: 'remote read 10m INC-1 slow db', channelId: INCIDENT, responseUrl }),
    );
    expect(res.status).toBe(200);
    expect(res.elapsedMs).toBeLessThan(3_000);
    const answer = await slack.waitForCall(RESPONSE_URL_METHOD, undefined, { timeoutMs: 30_000 });
    expect(String(answer.args.text)).toMatch(/Request #\d+/);
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length > 0, { timeoutMs: 30_000 });
    const msg = slack.messagesIn(CHANNEL)[0]!;
    const approve = buttonsIn(msg).find((b) => b.actionId === APPROVE)!;
    const clickRes = await postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({ userId: BOB, actionId: APPROVE, value: approve.value!, channelId: CHANNEL, message: msg }),
    );
    expect(clickRes.status).toBe(200);
    expect(clickRes.elapsedMs).toBeLessThan(3_000);
    await slack.waitForCall('chat.update', (c) => c.args.ts === msg.ts, { timeoutMs: 30_000 });
    proxy.delayMs = 0;
  }, 90_000);
});
