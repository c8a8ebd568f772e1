/**
 * Send correctly signed Slack requests to our server (Bolt HTTP/Express receiver) and build realistic payloads.
 *
 * Signing (https://api.slack.com/docs/verifying-requests-from-slack, Bolt src/receivers/verify-request.ts):
 * `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:<ts>:<raw body>"))`, `X-Slack-Request-Timestamp: <unix s>`.
 * Bolt rejects timestamps older than 5 minutes and any signature mismatch with HTTP 401 and an empty body.
 *
 * Body formats (what Slack sends and Bolt parses):
 * - slash commands: `application/x-www-form-urlencoded` fields          → {@link postSlashCommand}
 * - interactivity (`block_actions`, `view_submission`, …): form field `payload=<JSON>` → {@link postInteraction}
 * - Events API: `application/json` envelope (`type: 'event_callback'`)  → {@link postEvent}
 *
 * Each `post*` answers `{ status, body, json, headers, elapsedMs }`; `body` is the ack (e.g. the text passed to
 * `ack('…')` for a command, or `{"response_action":"errors",…}` for a view submission). `opts` can forge the
 * signature, send a stale timestamp (6 minutes old, correctly signed), omit the headers, or target another path
 * (default `/slack/events`).
 *
 * Builders return Bolt's own payload types. IDs default to {@link SLACK_DOUBLE_DEFAULTS} (team, app, `#general`) so
 * they line up with the Slack double; pass `triggerId`/`responseUrl` from `slack.interaction(userId, …)` (or
 * `slack.issueTriggerId()` / `slack.respondUrl()`) so that `views.open` and `respond()` reach the double.
 * Without them a trigger id the double does not know is generated (views.open → `invalid_trigger_id`) and the
 * response_url points at a closed local port ({@link UNSET_RESPONSE_URL}) — never at slack.com.
 *
 * ```ts
 * // the user types `/db-access orders read 1h incident` in #db-approvals
 * const res = await postSlashCommand(botBase, SECRET, slashCommand({
 *   userId: 'U0ALICE', text: 'orders read 1h incident', channelId: 'C0APPROVALS',
 *   ...slack.interaction('U0ALICE', { channelId: 'C0APPROVALS' }),
 * }));
 * expect(res.status).toBe(200);                                   // the ack, within 3 s
 * const post = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'C0APPROVALS');
 * // an approver clicks "Approve" on that message
 * const msg = slack.messageAt('C0APPROVALS', (post.response as { ts: string }).ts)!;
 * const btn = buttonsIn(msg).find((b) => b.actionId === 'approve')!;
 * await postInteraction(botBase, SECRET, blockActionsPayload({
 *   userId: 'U0BOB', actionId: btn.actionId, value: btn.value, blockId: btn.blockId, channelId: 'C0APPROVALS', message: msg,
 *   ...slack.interaction('U0BOB', { channelId: 'C0APPROVALS', messageTs: msg.ts }),
 * }));
 * ```
 *
 * Bolt facts these helpers were checked against (Bolt 5.1, ExpressReceiver): a forged, stale (> 5 min) or missing
 * signature → 401 with an empty body, listener not run, a `warn` log "Request verification failed (…)"; a timestamp in
 * the FUTURE is accepted by Bolt (the broker refuses one more than 5 min ahead, and ignores a request delivered twice:
 * src/chat/slack/replay-guard.ts); a listener that never acks → 404 with an empty body after ~3 s; an error thrown after
 * `ack()` is only logged ("An unhandled error occurred after ack() called in a listener") — the HTTP answer was 200.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type {
  BlockAction,
  ButtonAction,
  EnvelopedEvent,
  SlashCommand,
  types,
  ViewOutput,
  ViewStateValue,
  ViewSubmitAction,
} from '@slack/bolt';
import { dmChannelIdFor, SLACK_DOUBLE_DEFAULTS } from './double.js';

/** Where builders point `response_url` when none is given: a closed local port, so `respond()` fails fast. */
export const UNSET_RESPONSE_URL = 'http://127.0.0.1:9/slack-double/unset-response-url';
/** Bolt rejects request timestamps older than this. */
export const SLACK_SIGNATURE_MAX_AGE_SECONDS = 5 * 60;

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

/** Headers Slack would send for `rawBody` (timestamp defaults to now, in unix seconds). */
export function signSlackRequest(
  secret: string,
  rawBody: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const hash = createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex');
  return { 'x-slack-signature': `v0=${hash}`, 'x-slack-request-timestamp': String(timestamp) };
}

export interface SlackPostOptions {
  /** Default `/slack/events`. */
  path?: string;
  /** Sign with the wrong secret (Bolt → 401). */
  forgeSignature?: boolean;
  /** Use a correctly signed timestamp 6 minutes in the past (Bolt → 401 "request is stale"). */
  staleTimestamp?: boolean;
  /** Explicit request timestamp (unix seconds). */
  timestamp?: number;
  /** Send no signature headers at all. */
  omitSignature?: boolean;
  /** Events API redelivery headers (`x-slack-retry-num`, `x-slack-retry-reason`). */
  retryNum?: number;
  retryReason?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Abort the request after this many ms (default 10 000). */
  timeoutMs?: number;
}

export interface SlackPostResult {
  status: number;
  /** Raw response body (the ack). */
  body: string;
  /** `body` parsed as JSON when it is JSON, else undefined. */
  json: unknown;
  headers: Record<string, string>;
  elapsedMs: number;
}

async function signedPost(
  baseUrl: string,
  secret: string,
  rawBody: string,
  contentType: string,
  opts: SlackPostOptions,
): Promise<SlackPostResult> {
  const now = Math.floor(Date.now() / 1000);
  const ts = opts.timestamp ?? (opts.staleTimestamp ? now - SLACK_SIGNATURE_MAX_AGE_SECONDS - 60 : now);
  const headers: Record<string, string> = { 'content-type': contentType };
  if (!opts.omitSignature) {
    Object.assign(
      headers,
      signSlackRequest(
        opts.forgeSignature ? `forged-${secret}-${randomBytes(4).toString('hex')}` : secret,
        rawBody,
        ts,
      ),
    );
  }
  if (opts.retryNum !== undefined) headers['x-slack-retry-num'] = String(opts.retryNum);
  if (opts.retryReason !== undefined) headers['x-slack-retry-reason'] = opts.retryReason;
  Object.assign(headers, opts.headers);
  const url = `${baseUrl.replace(/\/+$/, '')}${opts.path ?? '/slack/events'}`;
  const started = performance.now();
  // undici's request(), not the global fetch: the same HTTP/1.1 exchange at a third of the CPU, which matters when
  // the bench drives hundreds of these on the machine that runs the broker.
  const res = await request(url, {
    method: 'POST',
    headers,
    body: rawBody,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const body = await res.body.text();
  const elapsedMs = performance.now() - started;
  let json: unknown;
  try {
    json = body === '' ? undefined : JSON.parse(body);
  } catch {
    json = undefined;
  }
  const responseHeaders = Object.fromEntries(
    Object.entries(res.headers).flatMap(([k, v]) =>
      v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]],
    ),
  );
  return { status: res.statusCode, body, json, headers: responseHeaders, elapsedMs };
}

/** The raw body {@link postSlashCommand} sends for `fields` (what Slack signs). */
export function slashCommandBody(fields: SlashCommand | Record<string, string | undefined>): string {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) form.append(k, String(v));
  return form.toString();
}

/** POST a slash command (form-encoded fields, e.g. from {@link slashCommand}). */
export function postSlashCommand(
  baseUrl: string,
  secret: string,
  fields: SlashCommand | Record<string, string | undefined>,
  opts: SlackPostOptions = {},
): Promise<SlackPostResult> {
  return signedPost(baseUrl, secret, slashCommandBody(fields), 'application/x-www-form-urlencoded', opts);
}

/** POST an interactivity payload as Slack does: form field `payload=<JSON>`. */
export function postInteraction(
  baseUrl: string,
  secret: string,
  payload: object,
  opts: SlackPostOptions = {},
): Promise<SlackPostResult> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return signedPost(baseUrl, secret, body, 'application/x-www-form-urlencoded', opts);
}

/**
 * POST an Events API request (JSON). Pass an envelope (`type: 'event_callback'`, e.g. {@link appHomeOpenedEvent}),
 * a `url_verification` body, or a bare event (`{ type: 'app_mention', … }`), which is wrapped by {@link eventEnvelope}.
 */
export function postEvent(
  baseUrl: string,
  secret: string,
  event: object,
  opts: SlackPostOptions = {},
): Promise<SlackPostResult> {
  const type = (event as { type?: unknown }).type;
  const body =
    type === 'event_callback' || type === 'url_verification' ? event : eventEnvelope(event as { type: string });
  return signedPost(baseUrl, secret, JSON.stringify(body), 'application/json', opts);
}

// ---------------------------------------------------------------------------------------------------------------
// Payload builders
// ---------------------------------------------------------------------------------------------------------------

const D = SLACK_DOUBLE_DEFAULTS;

function newTriggerId(): string {
  return `${Math.floor(Date.now() / 1000)}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
}

function actionTs(): string {
  const ms = Date.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
}

export interface SlashCommandInput {
  userId: string;
  /** Default `/db-access`. */
  command?: string;
  /** As the person typed it; the builder escapes it the way Slack does. */
  text?: string;
  /** The text exactly as Slack sends it with `should_escape: true` (what was picked from the autocomplete escaped
   *  as `<@U…|name>`, `<#C…|name>`, `<https://…>`; typed `&`, `<`, `>` as entities): used instead of `text`. */
  escapedText?: string;
  userName?: string;
  channelId?: string;
  channelName?: string;
  teamId?: string;
  teamDomain?: string;
  triggerId?: string;
  responseUrl?: string;
  apiAppId?: string;
  /** An Enterprise Grid workspace: `enterprise_id` and `enterprise_name` are sent, as Slack does there. */
  enterpriseId?: string;
  enterpriseName?: string;
  /** An organisation-wide install (`is_enterprise_install=true`). */
  enterpriseInstall?: boolean;
}

/** The organisation name builders give an Enterprise Grid workspace when none is passed. */
const DEFAULT_ENTERPRISE_NAME = 'db-access test organisation';

/** A slash command as Slack sends it (all fields strings; field set checked against captured ones in test/fixtures/real/slack). */
export function slashCommand(input: SlashCommandInput): SlashCommand {
  return {
    token: 'legacy-verification-token',
    command: input.command ?? '/db-access',
    // What the person typed, as Slack sends it: `&`, `<` and `>` escaped (should_escape does not turn this off).
    text: input.escapedText ?? (input.text ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
    response_url: input.responseUrl ?? UNSET_RESPONSE_URL,
    trigger_id: input.triggerId ?? newTriggerId(),
    user_id: input.userId,
    user_name: input.userName ?? input.userId.toLowerCase(),
    team_id: input.teamId ?? D.teamId,
    team_domain: input.teamDomain ?? D.teamDomain,
    channel_id: input.channelId ?? D.channelId,
    channel_name:
      input.channelName ??
      (input.channelId === undefined || input.channelId === D.channelId
        ? D.channelName
        : input.channelId.toLowerCase()),
    api_app_id: input.apiAppId ?? D.appId,
    is_enterprise_install: input.enterpriseInstall ? 'true' : 'false',
    ...(input.enterpriseId !== undefined && {
      enterprise_id: input.enterpriseId,
      enterprise_name: input.enterpriseName ?? DEFAULT_ENTERPRISE_NAME,
    }),
  };
}

/** Minimal view fields accepted by the builders (a `SlackView` from the double fits). */
export interface ViewLike {
  id: string;
  type?: string;
  callback_id?: string;
  private_metadata?: string;
  blocks?: unknown[];
  title?: unknown;
  submit?: unknown;
  close?: unknown;
  hash?: string;
  root_view_id?: string | null;
  previous_view_id?: string | null;
  external_id?: string;
  state?: { values: Record<string, Record<string, unknown>> };
}

/** A `ViewOutput` as Slack puts it into interaction payloads. */
export function viewOutput(view: ViewLike, overrides: Partial<ViewOutput> = {}): ViewOutput {
  const out = {
    id: view.id,
    team_id: D.teamId,
    app_installed_team_id: D.teamId,
    app_id: D.appId,
    bot_id: D.botId,
    type: view.type ?? 'modal',
    callback_id: view.callback_id ?? '',
    private_metadata: view.private_metadata ?? '',
    blocks: (view.blocks ?? []) as ViewOutput['blocks'],
    title: (view.title ?? { type: 'plain_text', text: 'Modal', emoji: true }) as ViewOutput['title'],
    submit: (view.submit ?? null) as ViewOutput['submit'],
    close: (view.close ?? null) as ViewOutput['close'],
    state: (view.state ?? { values: {} }) as ViewOutput['state'],
    hash: view.hash ?? `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
    root_view_id: view.root_view_id ?? view.id,
    previous_view_id: view.previous_view_id ?? null,
    clear_on_close: false,
    notify_on_close: false,
    // Slack sends it empty when the app set none.
    external_id: view.external_id ?? '',
  };
  return { ...out, ...overrides } as ViewOutput;
}

export interface BlockActionsInput {
  /** The clicker. */
  userId: string;
  actionId: string;
  value?: string;
  blockId?: string;
  /** Button label (default: the action id). */
  text?: string;
  userName?: string;
  /** Channel of the message holding the button (default `#general` when the action comes from a message). */
  channelId?: string;
  channelName?: string;
  /** The message holding the button (its ts), … */
  messageTs?: string;
  /** … or the message itself (e.g. from `slack.messageAt()`), whose text/blocks are copied into the payload. */
  message?: { ts: string; text?: string; blocks?: unknown[]; thread_ts?: string };
  /** The modal / Home tab holding the button (then there is no message, channel nor response_url). */
  view?: ViewLike;
  triggerId?: string;
  responseUrl?: string;
  /** The workspace the click happened in (`team`), and by default the clicker's own team too. */
  teamId?: string;
  /** The clicker's own team (`user.team_id`) when it is not `teamId`: an external user in a Slack Connect channel. */
  userTeamId?: string;
  /** Values of inputs in the surface (`state.values`; Slack sends an empty one when there are none). */
  stateValues?: Record<string, Record<string, ViewStateValue>>;
  isEphemeral?: boolean;
  /** The workspace's Enterprise Grid organisation (`team.enterprise_id` / `enterprise_name`, `enterprise`). */
  enterpriseId?: string;
  enterpriseName?: string;
}

/** `team` and `enterprise` of an interaction payload: `enterprise` is null outside Enterprise Grid. */
function teamAndEnterprise(teamId: string, enterpriseId: string | undefined, enterpriseName: string | undefined) {
  const name = enterpriseName ?? DEFAULT_ENTERPRISE_NAME;
  return {
    team: {
      id: teamId,
      domain: D.teamDomain,
      ...(enterpriseId !== undefined && { enterprise_id: enterpriseId, enterprise_name: name }),
    },
    enterprise: enterpriseId !== undefined ? { id: enterpriseId, name } : null,
  };
}

/** A `block_actions` payload for a button click, from a message (default) or from a view (`view`). */
export function blockActionsPayload(input: BlockActionsInput): BlockAction<ButtonAction> {
  const action: ButtonAction = {
    type: 'button',
    action_id: input.actionId,
    block_id: input.blockId ?? 'actions',
    text: { type: 'plain_text', text: input.text ?? input.actionId, emoji: true },
    action_ts: actionTs(),
    ...(input.value !== undefined && { value: input.value }),
  };
  const teamId = input.teamId ?? D.teamId;
  const base = {
    type: 'block_actions' as const,
    ...teamAndEnterprise(teamId, input.enterpriseId, input.enterpriseName),
    user: {
      id: input.userId,
      username: input.userName ?? input.userId.toLowerCase(),
      name: input.userName ?? input.userId.toLowerCase(),
      team_id: input.userTeamId ?? teamId,
    },
    api_app_id: D.appId,
    token: 'legacy-verification-token',
    trigger_id: input.triggerId ?? newTriggerId(),
    actions: [action],
    is_enterprise_install: false,
    state: { values: input.stateValues ?? {} },
  };
  if (input.view) {
    const view = viewOutput(input.view);
    // Slack sends no response_url for actions in modals / the Home tab; Bolt's type still declares it.
    return { ...base, container: { type: 'view', view_id: view.id }, view } as unknown as BlockAction<ButtonAction>;
  }
  const ts = input.message?.ts ?? input.messageTs ?? actionTs();
  const channelId = input.channelId ?? D.channelId;
  return {
    ...base,
    container: { type: 'message', message_ts: ts, channel_id: channelId, is_ephemeral: input.isEphemeral ?? false },
    channel: {
      id: channelId,
      name: input.channelName ?? (channelId === D.channelId ? D.channelName : channelId.toLowerCase()),
    },
    message: {
      type: 'message',
      ts,
      user: D.botUserId,
      bot_id: D.botId,
      app_id: D.appId,
      team: teamId,
      text: input.message?.text ?? '',
      ...(input.message?.blocks && { blocks: input.message.blocks }),
      ...(input.message?.thread_ts !== undefined && { thread_ts: input.message.thread_ts }),
    },
    response_url: input.responseUrl ?? UNSET_RESPONSE_URL,
  } as BlockAction<ButtonAction>;
}

/** `values[blockId][actionId]`: a string is shorthand for a `plain_text_input` value. */
export type SubmittedValues = Record<string, Record<string, string | ViewStateValue>>;

export interface ViewSubmissionInput {
  userId: string;
  /** Required unless `view` carries one. */
  callbackId?: string;
  values: SubmittedValues;
  privateMetadata?: string;
  viewId?: string;
  /** The opened view (e.g. `slack.viewsOpenedBy(user)[0]`): id, blocks, title, metadata, hash are copied. */
  view?: ViewLike;
  userName?: string;
  triggerId?: string;
  /** The workspace the modal was opened in (`team`), and by default the submitter's own team too. */
  teamId?: string;
  /** The submitter's own team (`user.team_id`) when it is not `teamId` (an external user). */
  userTeamId?: string;
  /** `response_urls` (only when the modal has a `response_url_enabled` input). */
  responseUrls?: ViewSubmitAction['response_urls'];
  /** The workspace's Enterprise Grid organisation. */
  enterpriseId?: string;
  enterpriseName?: string;
}

/** A `view_submission` payload. */
export function viewSubmissionPayload(input: ViewSubmissionInput): ViewSubmitAction {
  const callbackId = input.callbackId ?? input.view?.callback_id;
  if (callbackId === undefined) throw new Error('viewSubmissionPayload: give callbackId or a view with a callback_id');
  const values: Record<string, Record<string, ViewStateValue>> = {};
  for (const [blockId, actions] of Object.entries(input.values)) {
    values[blockId] = {};
    for (const [actionId, v] of Object.entries(actions)) {
      values[blockId][actionId] = typeof v === 'string' ? { type: 'plain_text_input', value: v } : v;
    }
  }
  const id = input.viewId ?? input.view?.id ?? `V${randomBytes(5).toString('hex').toUpperCase()}`;
  // A modal that can be submitted has a submit button, and Slack always gives it a close one.
  const view = viewOutput(
    {
      ...input.view,
      id,
      callback_id: callbackId,
      private_metadata: input.privateMetadata ?? input.view?.private_metadata ?? '',
      submit: input.view?.submit ?? { type: 'plain_text', text: 'Submit', emoji: true },
      close: input.view?.close ?? { type: 'plain_text', text: 'Cancel', emoji: true },
    },
    { state: { values } },
  );
  const teamId = input.teamId ?? D.teamId;
  const userName = input.userName ?? input.userId.toLowerCase();
  return {
    type: 'view_submission',
    ...teamAndEnterprise(teamId, input.enterpriseId, input.enterpriseName),
    user: { id: input.userId, username: userName, name: userName, team_id: input.userTeamId ?? teamId },
    view,
    api_app_id: D.appId,
    token: 'legacy-verification-token',
    trigger_id: input.triggerId ?? newTriggerId(),
    is_enterprise_install: false,
    response_urls: input.responseUrls ?? [],
  } as ViewSubmitAction;
}

/** Wrap an event in the Events API envelope Bolt expects. */
export function eventEnvelope<E extends { type: string }>(
  event: E,
  opts: { teamId?: string; eventId?: string; enterpriseId?: string } = {},
): EnvelopedEvent<E> {
  const teamId = opts.teamId ?? D.teamId;
  return {
    token: 'legacy-verification-token',
    team_id: teamId,
    ...(opts.enterpriseId !== undefined && { enterprise_id: opts.enterpriseId }),
    api_app_id: D.appId,
    event,
    type: 'event_callback',
    event_id: opts.eventId ?? `Ev${randomBytes(6).toString('hex').toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: (opts.enterpriseId ?? null) as unknown as string,
        team_id: teamId,
        user_id: D.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    context_team_id: teamId,
  };
}

/** `app_home_opened` for a user, in its envelope (channel = the app's DM with the user, as the double numbers it). */
export function appHomeOpenedEvent(
  userId: string,
  opts: { tab?: 'home' | 'messages'; view?: ViewLike; eventId?: string } = {},
): EnvelopedEvent<types.AppHomeOpenedEvent> {
  const event: types.AppHomeOpenedEvent = {
    type: 'app_home_opened',
    user: userId,
    channel: dmChannelIdFor(userId),
    tab: opts.tab ?? 'home',
    event_ts: actionTs(),
    ...(opts.view && { view: viewOutput({ type: 'home', ...opts.view }) as unknown as types.View }),
  };
  return eventEnvelope(event, { ...(opts.eventId !== undefined && { eventId: opts.eventId }) });
}
