/**
 * The Slack double, exercised by the real clients: @slack/web-api's WebClient and a Bolt App in HTTP mode
 * (ExpressReceiver) receiving requests signed by dev/slack/sign.ts.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { App, ExpressReceiver, LogLevel, RespondError, webApi, type Logger } from '@slack/bolt';
import {
  buttonsIn,
  dmChannelIdFor,
  MAX_BUTTON_TEXT_CHARS,
  MAX_BUTTON_VALUE_CHARS,
  MAX_MESSAGE_BLOCKS,
  MAX_MESSAGE_TEXT_CHARS,
  MAX_PRIVATE_METADATA_CHARS,
  MAX_VIEW_BLOCKS,
  MAX_VIEW_TITLE_CHARS,
  RESPONSE_URL_MAX_USES,
  RESPONSE_URL_METHOD,
  renderText,
  startSlackDouble,
  TRIGGER_ID_TTL_MS,
  type SlackDouble,
} from '../../dev/slack/double.js';
import {
  appHomeOpenedEvent,
  blockActionsPayload,
  postEvent,
  postInteraction,
  postSlashCommand,
  signSlackRequest,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';

const { WebClient, WebClientEvent, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIHTTPError, WebAPIRequestError } =
  webApi;
type WebClientT = InstanceType<typeof WebClient>;

const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const APPROVALS = 'C0APPROVALS';

/** A @slack/logger Logger that records instead of printing. */
function captureLogger(lines: string[] = []): Logger & { lines: string[] } {
  let level = LogLevel.DEBUG;
  const push =
    (lvl: string) =>
    (...msg: unknown[]) =>
      void lines.push(`${lvl} ${msg.map(String).join(' ')}`);
  return {
    lines,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    setLevel: (l) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** Await `p`, failing after `ms` (and clearing the timer either way). */
async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function seed(slack: SlackDouble): void {
  slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice', real_name: 'Alice Liddell' });
  slack.addUser({ id: BOB, email: 'Bob@Example.com', name: 'bob' });
  slack.addUsergroup('S0DBAS', [BOB], { handle: 'dbas' });
  slack.addChannel(APPROVALS, { name: 'db-approvals' });
}

/** Run `fn`, expect it to reject with a WebAPIPlatformError, and return its Slack error code. */
async function platformError(fn: () => Promise<unknown>): Promise<string> {
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebAPIPlatformError);
  return (err as InstanceType<typeof WebAPIPlatformError>).data.error;
}

const approvalBlocks = (requestId: string) => [
  { type: 'header', text: { type: 'plain_text', text: 'Access request' } },
  {
    type: 'section',
    block_id: 'summary',
    text: {
      type: 'mrkdwn',
      text: `*<@${ALICE}>* wants \`orders\` (read) for 1h — <https://tickets.example/42|INC-42>`,
    },
    fields: [
      { type: 'mrkdwn', text: '*Target*\norders' },
      { type: 'mrkdwn', text: '*Expires*\nin 1 hour' },
    ],
  },
  {
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: 'Requested via /db-access' },
      { type: 'plain_text', text: 'id 42' },
    ],
  },
  {
    type: 'actions',
    block_id: 'decision',
    elements: [
      {
        type: 'button',
        action_id: 'approve',
        text: { type: 'plain_text', text: 'Approve' },
        style: 'primary',
        value: requestId,
      },
      {
        type: 'button',
        action_id: 'deny',
        text: { type: 'plain_text', text: 'Deny' },
        style: 'danger',
        value: requestId,
      },
    ],
  },
];

const modal = (over: Record<string, unknown> = {}) => ({
  type: 'modal' as const,
  callback_id: 'request_modal',
  title: { type: 'plain_text' as const, text: 'Request access' },
  submit: { type: 'plain_text' as const, text: 'Submit' },
  close: { type: 'plain_text' as const, text: 'Cancel' },
  blocks: [
    {
      type: 'input',
      block_id: 'reason',
      label: { type: 'plain_text', text: 'Reason' },
      element: { type: 'plain_text_input', action_id: 'reason_input' },
    },
  ],
  ...over,
});

describe('Slack double × real WebClient', () => {
  let slack: SlackDouble;
  let client: WebClientT;

  beforeAll(async () => {
    slack = await startSlackDouble();
    seed(slack);
    client = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      logger: captureLogger(),
    });
  });
  afterAll(async () => {
    await slack.stop();
  });
  beforeEach(() => slack.reset());

  it('serves auth.test and rejects missing or unknown tokens like Slack', async () => {
    const me = await client.auth.test();
    expect(me).toMatchObject({ ok: true, user_id: slack.botUserId, bot_id: slack.botId, team_id: slack.teamId });
    expect(slack.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    expect(slack.callsTo('auth.test')[0]?.token).toBe(slack.botToken);

    const anonymous = new WebClient(undefined, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      logger: captureLogger(),
    });
    expect(await platformError(() => anonymous.chat.postMessage({ channel: APPROVALS, text: 'x' }))).toBe('not_authed');
    const wrong = new WebClient('xoxb-wrong', {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      logger: captureLogger(),
    });
    expect(await platformError(() => wrong.auth.test())).toBe('invalid_auth');
    expect(await platformError(() => client.apiCall('chat.fly', {}))).toBe('unknown_method');
  });

  it('posts, threads, updates and deletes messages; records parsed args', async () => {
    const posted = await client.chat.postMessage({
      channel: APPROVALS,
      text: 'Access request 42',
      blocks: approvalBlocks('req-42'),
    });
    expect(posted.channel).toBe(APPROVALS);
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    const ts = posted.ts!;

    // WebClient sent `blocks` as a JSON string inside the form; the record has objects again.
    const call = slack.callsTo('chat.postMessage')[0]!;
    expect(call.args.blocks).toEqual(approvalBlocks('req-42'));
    expect(call.ok).toBe(true);

    const byName = await client.chat.postMessage({ channel: '#db-approvals', text: 'by name' });
    expect(byName.channel).toBe(APPROVALS);
    const reply = await client.chat.postMessage({ channel: APPROVALS, thread_ts: ts, text: 'Approved by <@U0BOB>' });

    await client.chat.update({ channel: APPROVALS, ts, text: 'Access request 42 — approved' });
    let [first] = slack.messagesIn(APPROVALS);
    expect(first?.text).toBe('Access request 42 — approved');
    expect(first?.blocks).toHaveLength(4); // omitted blocks are kept (Slack's documented chat.update rule)
    expect(first?.edited?.user).toBe(slack.botUserId);
    expect(first?.replies.map((r) => r.text)).toEqual(['Approved by <@U0BOB>']);
    expect(first?.history.map((h) => h.by)).toEqual(['chat.postMessage', 'chat.update']);

    await client.chat.update({ channel: APPROVALS, ts, text: 'closed', blocks: [] }); // [] clears
    [first] = slack.messagesIn(APPROVALS);
    expect(first?.blocks).toEqual([]);
    expect(slack.messagesIn(APPROVALS)).toHaveLength(2);

    await client.chat.delete({ channel: APPROVALS, ts: reply.ts! });
    expect(slack.messagesIn(APPROVALS)[0]?.replies).toEqual([]);
    await client.chat.delete({ channel: APPROVALS, ts: byName.ts! });
    expect(slack.messagesIn(APPROVALS).map((m) => m.ts)).toEqual([ts]);

    expect(await platformError(() => client.chat.update({ channel: APPROVALS, ts: '1.000001', text: 'x' }))).toBe(
      'message_not_found',
    );
    expect(await platformError(() => client.chat.delete({ channel: APPROVALS, ts: byName.ts! }))).toBe(
      'message_not_found',
    );
    expect(await platformError(() => client.chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).toBe(
      'channel_not_found',
    );
    expect(await platformError(() => client.chat.update({ channel: 'C0NOPE', ts, text: 'x' }))).toBe(
      'channel_not_found',
    );
    expect(await platformError(() => client.apiCall('chat.postMessage', { channel: APPROVALS }))).toBe('no_text');
  });

  it('delivers DMs: conversations.open gives a stable D… id; posting to a user id lands in that DM', async () => {
    const a = await client.conversations.open({ users: ALICE });
    const b = await client.conversations.open({ users: ALICE });
    expect(a.channel?.id).toBe(dmChannelIdFor(ALICE));
    expect(b.channel?.id).toBe(a.channel?.id);
    expect(a.channel?.id).toMatch(/^D/);

    const viaUser = await client.chat.postMessage({ channel: ALICE, text: 'Your credentials are ready' });
    expect(viaUser.channel).toBe(a.channel?.id);
    await client.chat.postMessage({ channel: a.channel!.id!, text: 'second' });
    expect(slack.dmOf(ALICE).map((m) => m.text)).toEqual(['Your credentials are ready', 'second']);
    expect(slack.dmOf(BOB)).toEqual([]);

    expect(await platformError(() => client.conversations.open({ users: 'U0GHOST' }))).toBe('user_not_found');
    expect(await platformError(() => client.chat.postMessage({ channel: 'U0GHOST', text: 'x' }))).toBe(
      'channel_not_found',
    );

    const eph = await client.chat.postEphemeral({ channel: APPROVALS, user: BOB, text: 'You are not on call' });
    expect(eph.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(slack.ephemeralsFor(BOB)).toMatchObject([
      { channel: APPROVALS, text: 'You are not on call', ts: eph.message_ts },
    ]);
    expect(slack.messagesIn(APPROVALS)).toEqual([]); // ephemerals are not channel messages

    slack.addChannel('C0PRIVATE', { members: [ALICE] });
    expect(await platformError(() => client.chat.postEphemeral({ channel: 'C0PRIVATE', user: BOB, text: 'x' }))).toBe(
      'user_not_in_channel',
    );
    slack.addChannel('C0OUTSIDE', { botIsMember: false });
    expect(await platformError(() => client.chat.postMessage({ channel: 'C0OUTSIDE', text: 'x' }))).toBe(
      'not_in_channel',
    );
  });

  it('opens a modal only with a fresh, unused trigger id; updates, pushes and publishes views', async () => {
    const trigger = slack.issueTriggerId({ userId: ALICE });
    const opened = await client.views.open({ trigger_id: trigger, view: modal() });
    const viewId = opened.view?.id;
    expect(viewId).toMatch(/^V/);
    expect(slack.viewsOpenedBy(ALICE).map((v) => v.callback_id)).toEqual(['request_modal']);
    expect(slack.callsTo('views.open')[0]?.args.view).toMatchObject({ callback_id: 'request_modal' });

    expect(await platformError(() => client.views.open({ trigger_id: trigger, view: modal() }))).toBe(
      'exchanged_trigger_id',
    );
    const stale = slack.issueTriggerId({ userId: ALICE, ageMs: TRIGGER_ID_TTL_MS + 1 });
    expect(await platformError(() => client.views.open({ trigger_id: stale, view: modal() }))).toBe(
      'expired_trigger_id',
    );
    expect(await platformError(() => client.views.open({ trigger_id: '123.456.nope', view: modal() }))).toBe(
      'invalid_trigger_id',
    );
    slack.registerTriggerId('999.888.from-a-payload', { userId: BOB });
    await client.views.open({ trigger_id: '999.888.from-a-payload', view: modal({ callback_id: 'bobs' }) });
    expect(slack.viewsOpenedBy(BOB).map((v) => v.callback_id)).toEqual(['bobs']);

    const updated = await client.views.update({
      view_id: viewId!,
      hash: opened.view!.hash!,
      view: modal({ private_metadata: '{"step":2}' }),
    });
    expect(updated.view?.id).toBe(viewId);
    expect(slack.viewById(viewId!)?.private_metadata).toBe('{"step":2}');
    expect(
      await platformError(() => client.views.update({ view_id: viewId!, hash: opened.view!.hash!, view: modal() })),
    ).toBe('hash_conflict');
    expect(await platformError(() => client.views.update({ view_id: 'V0NOPE', view: modal() }))).toBe('not_found');

    await client.views.push({
      trigger_id: slack.issueTriggerId({ userId: ALICE }),
      view: modal({ callback_id: 'step2' }),
    });
    const third = await client.views.push({
      trigger_id: slack.issueTriggerId({ userId: ALICE }),
      view: modal({ callback_id: 'step3' }),
    });
    expect(third.view).toMatchObject({ root_view_id: viewId });
    expect(slack.currentModalOf(ALICE)?.callback_id).toBe('step3');
    expect(
      await platformError(() =>
        client.views.push({ trigger_id: slack.issueTriggerId({ userId: ALICE }), view: modal() }),
      ),
    ).toBe('push_limit_reached');

    await client.views.publish({
      user_id: ALICE,
      view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*No active grants*' } }] },
    });
    expect(slack.renderText(slack.homeOf(ALICE)!)).toBe('No active grants');
    expect(
      await platformError(() => client.views.publish({ user_id: 'U0GHOST', view: { type: 'home', blocks: [] } })),
    ).toBe('invalid_arguments');
  });

  const button = (over: Record<string, unknown>) => ({
    type: 'actions',
    elements: [
      { type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, value: 'req-1', ...over },
    ],
  });
  const section = { type: 'section', text: { type: 'plain_text', text: 'x' } };
  const messageLimits: Array<{ name: string; args: Record<string, unknown>; code: string }> = [
    { name: 'text > 4000', args: { text: 'x'.repeat(MAX_MESSAGE_TEXT_CHARS + 1) }, code: 'msg_too_long' },
    {
      name: '> 50 blocks',
      args: { text: 't', blocks: Array.from({ length: MAX_MESSAGE_BLOCKS + 1 }, () => section) },
      code: 'invalid_blocks',
    },
    {
      name: 'button value > 2000',
      args: { text: 't', blocks: [button({ value: 'v'.repeat(MAX_BUTTON_VALUE_CHARS + 1) })] },
      code: 'invalid_blocks',
    },
    {
      name: 'action_id > 255',
      args: { text: 't', blocks: [button({ action_id: 'a'.repeat(256) })] },
      code: 'invalid_blocks',
    },
    {
      name: 'block_id > 255',
      args: { text: 't', blocks: [{ ...section, block_id: 'b'.repeat(256) }] },
      code: 'invalid_blocks',
    },
    {
      name: 'button text > 75',
      args: {
        text: 't',
        blocks: [button({ text: { type: 'plain_text', text: 'B'.repeat(MAX_BUTTON_TEXT_CHARS + 1) } })],
      },
      code: 'invalid_blocks',
    },
    {
      name: 'section text > 3000',
      args: { text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 's'.repeat(3001) } }] },
      code: 'invalid_blocks',
    },
  ];
  it.each(messageLimits)('message limit: $name → $code', async ({ args, code }) => {
    expect(await platformError(() => client.apiCall('chat.postMessage', { channel: APPROVALS, ...args }))).toBe(code);
    expect(slack.messagesIn(APPROVALS)).toEqual([]);
  });

  it('at the limits exactly, messages are accepted', async () => {
    await client.chat.postMessage({
      channel: APPROVALS,
      text: 'x'.repeat(MAX_MESSAGE_TEXT_CHARS),
      blocks: [
        ...Array.from({ length: MAX_MESSAGE_BLOCKS - 1 }, () => section),
        button({
          value: 'v'.repeat(MAX_BUTTON_VALUE_CHARS),
          action_id: 'a'.repeat(255),
          text: { type: 'plain_text', text: 'B'.repeat(75) },
        }),
      ],
    });
    expect(slack.messagesIn(APPROVALS)).toHaveLength(1);
  });

  it('explains block errors the way Slack does (response_metadata.messages)', async () => {
    const err = await client.chat
      .postMessage({ channel: APPROVALS, text: 't', blocks: [button({ value: 'v'.repeat(2001) })] })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof WebAPIPlatformError>).data.response_metadata?.messages).toEqual([
      '[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]',
    ]);
  });

  const viewLimits: Array<{ name: string; over: Record<string, unknown>; code: string }> = [
    {
      name: 'title > 24',
      over: { title: { type: 'plain_text', text: 'T'.repeat(MAX_VIEW_TITLE_CHARS + 1) } },
      code: 'invalid_arguments',
    },
    { name: 'submit > 24', over: { submit: { type: 'plain_text', text: 'S'.repeat(25) } }, code: 'invalid_arguments' },
    { name: 'close > 24', over: { close: { type: 'plain_text', text: 'C'.repeat(25) } }, code: 'invalid_arguments' },
    {
      name: 'private_metadata > 3000',
      over: { private_metadata: 'm'.repeat(MAX_PRIVATE_METADATA_CHARS + 1) },
      code: 'invalid_arguments',
    },
    {
      name: '> 100 blocks',
      over: { blocks: Array.from({ length: MAX_VIEW_BLOCKS + 1 }, () => section) },
      code: 'invalid_arguments',
    },
    {
      name: 'button value > 2000 inside a view',
      over: { blocks: [button({ value: 'v'.repeat(2001) })] },
      code: 'invalid_arguments',
    },
  ];
  it.each(viewLimits)('view limit: $name → $code', async ({ over, code }) => {
    const trigger = slack.issueTriggerId({ userId: ALICE });
    expect(await platformError(() => client.apiCall('views.open', { trigger_id: trigger, view: modal(over) }))).toBe(
      code,
    );
    expect(slack.viewsOpenedBy(ALICE)).toEqual([]);
    // A rejected view does not burn the trigger.
    await client.views.open({ trigger_id: trigger, view: modal() });
  });

  it('429 + Retry-After surfaces as WebAPIRateLimitedError when rejectRateLimitedCalls is set', async () => {
    const strict = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logger: captureLogger(),
    });
    const seen: number[] = [];
    strict.on(WebClientEvent.RATE_LIMITED, (retrySec: number) => seen.push(retrySec));
    slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 7 });
    const err = await strict.chat.postMessage({ channel: APPROVALS, text: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect((err as InstanceType<typeof WebAPIRateLimitedError>).retryAfter).toBe(7);
    expect(seen).toEqual([7]);
    expect(slack.callsTo('chat.postMessage')).toMatchObject([
      { status: 429, ok: false, error: 'ratelimited', injected: true },
    ]);
    // The fault was consumed: the next call goes through.
    await strict.chat.postMessage({ channel: APPROVALS, text: 'x' });
    expect(slack.messagesIn(APPROVALS)).toHaveLength(1);
  });

  it('without rejectRateLimitedCalls the client waits Retry-After and retries (or throws a plain Error with retries: 0)', async () => {
    slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 0 });
    const noRetry = await client.chat.postMessage({ channel: APPROVALS, text: 'x' }).catch((e: unknown) => e);
    expect(noRetry).toBeInstanceOf(Error);
    expect(noRetry).not.toBeInstanceOf(WebAPIRateLimitedError);
    expect((noRetry as Error).message).toMatch(/A rate limit was exceeded/);

    const patient = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 0 },
      logger: captureLogger(),
    });
    slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 0 });
    await patient.chat.postMessage({ channel: APPROVALS, text: 'after the pause' });
    expect(slack.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 429, 200]);
    expect(slack.messagesIn(APPROVALS).map((m) => m.text)).toEqual(['after the pause']);
  });

  it('injects 5xx, ok:false errors and latency', async () => {
    slack.failNext('users.info', { status: 500 });
    const http = await client.users.info({ user: ALICE }).catch((e: unknown) => e);
    expect(http).toBeInstanceOf(WebAPIHTTPError);
    expect((http as InstanceType<typeof WebAPIHTTPError>).statusCode).toBe(500);

    const patient = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 0 },
      logger: captureLogger(),
    });
    slack.failNext('users.info', { status: 503 }, { times: 2 });
    expect((await patient.users.info({ user: ALICE })).user?.name).toBe('alice');
    expect(
      slack
        .callsTo('users.info')
        .slice(-3)
        .map((c) => c.status),
    ).toEqual([503, 503, 200]);

    slack.failNext('chat.postMessage', { error: 'ratelimited' });
    expect(await platformError(() => client.chat.postMessage({ channel: APPROVALS, text: 'x' }))).toBe('ratelimited');

    slack.setLatency('auth.test', 300);
    const hasty = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      timeout: 50,
      logger: captureLogger(),
    });
    const timedOut = await hasty.auth.test().catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(WebAPIRequestError);
    const started = Date.now();
    await client.auth.test();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('looks users up from the seeded directory', async () => {
    const info = await client.users.info({ user: ALICE });
    expect(info.user).toMatchObject({
      id: ALICE,
      name: 'alice',
      real_name: 'Alice Liddell',
      profile: { email: 'alice@example.com' },
    });
    expect(await platformError(() => client.users.info({ user: 'U0GHOST' }))).toBe('user_not_found');

    expect((await client.users.lookupByEmail({ email: 'bob@example.com' })).user?.id).toBe(BOB);
    expect(await platformError(() => client.users.lookupByEmail({ email: 'nobody@example.com' }))).toBe(
      'users_not_found',
    );

    expect((await client.usergroups.users.list({ usergroup: 'S0DBAS' })).users).toEqual([BOB]);
    expect(await platformError(() => client.usergroups.users.list({ usergroup: 'S0NOPE' }))).toBe('no_such_subteam');
  });

  it('waits on calls event-driven, from a mark, and fails with a useful message', async () => {
    const mark = slack.calls.length;
    const waiting = slack.waitForCall('chat.postMessage', (c) => c.args.text === 'second', {
      fromIndex: mark,
      timeoutMs: 2000,
    });
    await client.chat.postMessage({ channel: APPROVALS, text: 'first' });
    await client.chat.postMessage({ channel: APPROVALS, text: 'second' });
    expect((await waiting).args.text).toBe('second');

    const dm = slack.waitUntil(() => slack.dmOf(ALICE)[0], { timeoutMs: 2000 });
    void client.chat.postMessage({ channel: ALICE, text: 'hello' });
    expect((await dm).text).toBe('hello');

    await expect(slack.waitForCall('views.open', undefined, { timeoutMs: 50 })).rejects.toThrow(
      /timed out after 50 ms waiting for a matching views.open call[\s\S]*chat.postMessage → 200 ok/,
    );
  });

  it('renders what a person would see', async () => {
    const { ts } = await client.chat.postMessage({
      channel: APPROVALS,
      text: 'fallback',
      blocks: approvalBlocks('req-42'),
    });
    const msg = slack.messageAt(APPROVALS, ts!)!;
    expect(slack.renderText(msg)).toBe(
      [
        'Access request',
        '@alice wants orders (read) for 1h — INC-42',
        'Target\norders',
        'Expires\nin 1 hour',
        'Requested via /db-access · id 42',
        '[Approve] [Deny]',
      ].join('\n'),
    );
    expect(renderText(msg)).toContain(`@${ALICE} wants`); // without a directory, mentions stay ids
    expect(renderText(msg, { includeFallbackText: true }).split('\n')[0]).toBe('fallback');
    expect(renderText({ text: 'a &lt;b&gt; &amp; <!here> <#C0APPROVALS|db-approvals>' })).toBe(
      'a <b> & @here #db-approvals',
    );
    expect(renderText({ ...modal(), blocks: modal().blocks })).toBe('Request access\nReason: []\n[Submit] [Cancel]');
    expect(buttonsIn(msg)).toEqual([
      { actionId: 'approve', blockId: 'decision', value: 'req-42', text: 'Approve', style: 'primary' },
      { actionId: 'deny', blockId: 'decision', value: 'req-42', text: 'Deny', style: 'danger' },
    ]);
  });

  it('honours response_url semantics and its 5-use limit', async () => {
    const { ts } = await client.chat.postMessage({ channel: APPROVALS, text: 'pending', blocks: approvalBlocks('r') });
    const url = slack.respondUrl('r1', { channel: APPROVALS, userId: BOB, messageTs: ts! });
    const post = (body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    expect((await post({ text: 'only you can see this' })).status).toBe(200);
    expect(slack.ephemeralsFor(BOB).map((e) => e.text)).toEqual(['only you can see this']);
    await post({ response_type: 'in_channel', text: 'everyone sees this' });
    await post({ replace_original: true, text: 'approved' });
    expect(slack.messageAt(APPROVALS, ts!)).toMatchObject({ text: 'approved' });
    expect(slack.messageAt(APPROVALS, ts!)?.blocks).toBeUndefined();
    const bad = await post({ text: 'x'.repeat(MAX_MESSAGE_TEXT_CHARS + 1) });
    expect([bad.status, await bad.json()]).toEqual([400, { ok: false, error: 'msg_too_long' }]);
    await post({ delete_original: true });
    expect(slack.messagesIn(APPROVALS).map((m) => m.text)).toEqual(['everyone sees this']);

    const used = await post({ text: 'sixth' });
    expect([used.status, await used.json()]).toEqual([404, { ok: false, error: 'used_url' }]);
    expect(slack.callsTo(RESPONSE_URL_METHOD)).toHaveLength(RESPONSE_URL_MAX_USES + 1);
    expect(slack.callsTo(RESPONSE_URL_METHOD).every((c) => c.responseUrlId === 'r1')).toBe(true);

    const unknown = await fetch(`${slack.baseUrl}/respond/never-issued`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"text":"x"}',
    });
    expect(unknown.status).toBe(404);
  });
});

describe('Slack double × Bolt App (HTTP mode, ExpressReceiver)', () => {
  const SECRET = 'test-signing-secret';
  let slack: SlackDouble;
  let app: App;
  let base: string;
  const boltLog = captureLogger();
  const handled: string[] = [];
  const respondOutcomes: Array<{ uses: number; error?: unknown }> = [];
  let respondSettled: (() => void) | undefined;

  beforeAll(async () => {
    slack = await startSlackDouble();
    seed(slack);
    const receiver = new ExpressReceiver({ signingSecret: SECRET, logger: boltLog });
    app = new App({
      token: slack.botToken,
      receiver,
      logger: boltLog,
      // no botId/botUserId: Bolt calls auth.test at construction, which the double serves
      clientOptions: { slackApiUrl: slack.url, retryConfig: { retries: 0 } },
    });

    app.command('/db-access', async ({ command, ack, respond, client }) => {
      handled.push(`command:${command.text}`);
      if (command.text === 'modal') {
        await ack();
        await client.views.open({ trigger_id: command.trigger_id, view: modal() });
        return;
      }
      await ack(`Got it: ${command.text}`);
      await respond({ response_type: 'ephemeral', text: `Request for *${command.text}* filed` });
    });

    app.action('approve', async ({ ack, body, action, respond }) => {
      await ack();
      handled.push(`approve:${body.user.id}`);
      const value = action.type === 'button' ? action.value : undefined;
      await respond({ replace_original: true, text: `Approved ${value} by <@${body.user.id}>` });
    });

    app.action('spam', async ({ ack, respond }) => {
      await ack();
      let uses = 0;
      try {
        for (;;) {
          await respond({ text: `update ${uses + 1}` });
          uses += 1;
        }
      } catch (error) {
        respondOutcomes.push({ uses, error });
      }
      respondSettled?.();
    });

    app.view('request_modal', async ({ ack, view }) => {
      const reason = view.state.values.reason?.reason_input?.value ?? '';
      if (reason.trim() === '') {
        await ack({ response_action: 'errors', errors: { reason: 'Tell us why' } });
        return;
      }
      await ack();
    });

    app.event('app_home_opened', async ({ event, client }) => {
      await client.views.publish({
        user_id: event.user,
        view: {
          type: 'home',
          blocks: [
            { type: 'section', text: { type: 'mrkdwn', text: `Hello <@${event.user}>, you have *no* active grants` } },
          ],
        },
      });
    });

    const server = (await app.start(0)) as Server;
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.stop();
    await slack?.stop();
  });

  it('Bolt verified its token with auth.test against the double', async () => {
    const call = await slack.waitForCall('auth.test', undefined, { timeoutMs: 2000 });
    expect(call).toMatchObject({ ok: true, token: slack.botToken });
  });

  it('a signed slash command is acked in the HTTP response and respond() reaches the response_url', async () => {
    const mark = slack.calls.length;
    const cmd = slashCommand({
      userId: ALICE,
      text: 'orders read 1h',
      channelId: APPROVALS,
      ...slack.interaction(ALICE, { channelId: APPROVALS }),
    });
    const res = await postSlashCommand(base, SECRET, cmd);
    expect(res.status).toBe(200);
    expect(res.body).toBe('Got it: orders read 1h');
    expect(res.elapsedMs).toBeLessThan(3000);

    const call = await slack.waitForCall(RESPONSE_URL_METHOD, undefined, { fromIndex: mark, timeoutMs: 3000 });
    expect(call.args).toMatchObject({ response_type: 'ephemeral', text: 'Request for *orders read 1h* filed' });
    expect(slack.ephemeralsFor(ALICE).map((e) => slack.renderText(e))).toContain('Request for orders read 1h filed');
  });

  it('a slash command can open a modal with its trigger id; the view submission ack carries validation errors', async () => {
    const mark = slack.calls.length;
    const res = await postSlashCommand(
      base,
      SECRET,
      slashCommand({ userId: BOB, text: 'modal', ...slack.interaction(BOB) }),
    );
    expect([res.status, res.body]).toEqual([200, '']);
    const opened = await slack.waitForCall('views.open', undefined, { fromIndex: mark, timeoutMs: 3000 });
    expect(opened.ok).toBe(true);
    const view = slack.viewsOpenedBy(BOB).at(-1)!;
    expect(view.callback_id).toBe('request_modal');

    const empty = await postInteraction(
      base,
      SECRET,
      viewSubmissionPayload({ userId: BOB, view, values: { reason: { reason_input: '  ' } } }),
    );
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ response_action: 'errors', errors: { reason: 'Tell us why' } });
    const ok = await postInteraction(
      base,
      SECRET,
      viewSubmissionPayload({
        userId: BOB,
        callbackId: 'request_modal',
        values: { reason: { reason_input: 'INC-42' } },
      }),
    );
    expect([ok.status, ok.body]).toEqual([200, '']);
  });

  it('a signed block action is acked and respond({ replace_original }) rewrites the approval message', async () => {
    const client = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      logger: captureLogger(),
    });
    const { ts } = await client.chat.postMessage({
      channel: APPROVALS,
      text: 'Access request 42',
      blocks: approvalBlocks('req-42'),
    });
    const message = slack.messageAt(APPROVALS, ts!)!;
    const approve = buttonsIn(message).find((b) => b.actionId === 'approve')!;

    const mark = slack.calls.length;
    const payload = blockActionsPayload({
      userId: BOB,
      actionId: approve.actionId,
      ...(approve.blockId !== undefined && { blockId: approve.blockId }),
      ...(approve.value !== undefined && { value: approve.value }),
      channelId: APPROVALS,
      message,
      ...slack.interaction(BOB, { channelId: APPROVALS, messageTs: ts! }),
    });
    const res = await postInteraction(base, SECRET, payload);
    expect([res.status, res.body]).toEqual([200, '']);

    await slack.waitForCall(RESPONSE_URL_METHOD, (c) => c.ok, { fromIndex: mark, timeoutMs: 3000 });
    expect(slack.renderText(slack.messageAt(APPROVALS, ts!)!)).toBe('Approved req-42 by @bob');
    expect(handled).toContain(`approve:${BOB}`);
  });

  it('respond() throws RespondError(404) once the response_url is used up', async () => {
    const settled = new Promise<void>((resolve) => (respondSettled = resolve));
    const res = await postInteraction(
      base,
      SECRET,
      blockActionsPayload({ userId: ALICE, actionId: 'spam', ...slack.interaction(ALICE) }),
    );
    expect(res.status).toBe(200);
    await withDeadline(settled, 3000, 'the spam handler to give up');
    const [outcome] = respondOutcomes;
    expect(outcome?.uses).toBe(RESPONSE_URL_MAX_USES);
    expect(outcome?.error).toBeInstanceOf(RespondError);
    expect((outcome?.error as RespondError).statusCode).toBe(404);
  });

  it('app_home_opened → views.publish lands in the Home tab', async () => {
    const mark = slack.calls.length;
    const res = await postEvent(base, SECRET, appHomeOpenedEvent(ALICE));
    expect(res.status).toBe(200);
    await slack.waitForCall('views.publish', (c) => c.ok, { fromIndex: mark, timeoutMs: 3000 });
    expect(slack.renderText(slack.homeOf(ALICE)!)).toBe('Hello @alice, you have no active grants');
  });

  it('answers 401 with an empty body to forged, stale or unsigned requests, and runs no listener', async () => {
    const before = handled.length;
    const mark = slack.calls.length;
    const cmd = slashCommand({ userId: ALICE, text: 'sneaky' });
    for (const opts of [{ forgeSignature: true }, { staleTimestamp: true }, { omitSignature: true }]) {
      const res = await postSlashCommand(base, SECRET, cmd, opts);
      expect([res.status, res.body]).toEqual([401, '']);
    }
    const forgedAction = await postInteraction(
      base,
      SECRET,
      blockActionsPayload({ userId: ALICE, actionId: 'approve', value: 'x' }),
      { forgeSignature: true },
    );
    expect(forgedAction.status).toBe(401);
    expect(handled.length).toBe(before);
    expect(slack.calls.length).toBe(mark);
    expect(boltLog.lines.filter((l) => l.includes('Request verification failed')).length).toBeGreaterThanOrEqual(4);

    // The signature covers the exact raw body: same body, same timestamp, tampered text → rejected.
    const body = new URLSearchParams({ ...cmd, text: 'tampered' } as Record<string, string>).toString();
    const headers = signSlackRequest(SECRET, new URLSearchParams(cmd as unknown as Record<string, string>).toString());
    const tampered = await fetch(`${base}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    expect(tampered.status).toBe(401);
  });
});
