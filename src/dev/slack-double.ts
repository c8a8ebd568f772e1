/**
 * A local double of the Slack Web API, modelled on Teleport's fake Slack (integrations/access/slack/testlib/fake_slack.go)
 * but driven by the REAL clients: point `new WebClient(token, { slackApiUrl: slack.url })` or Bolt's
 * `new App({ clientOptions: { slackApiUrl: slack.url } })` at it.
 *
 * ```ts
 * const slack = await startSlackDouble();                  // http://127.0.0.1:<port>/api/
 * slack.addUser({ id: 'U0ALICE', email: 'alice@example.com', name: 'alice' });
 * slack.addChannel('C0APPROVALS', { name: 'db-approvals' });
 * const client = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
 * const { ts } = await client.chat.postMessage({ channel: 'C0APPROVALS', text: 'hi' });
 * await slack.waitForCall('chat.update', (c) => c.args.ts === ts, { timeoutMs: 5_000 });
 * console.log(slack.renderText(slack.messageAt('C0APPROVALS', ts!)!));
 * await slack.stop();
 * ```
 *
 * ## Wire format (what the real WebClient sends, what Slack answers)
 * - `POST {url}{method}`; body `application/x-www-form-urlencoded` (object args such as `blocks`, `view`,
 *   `attachments`, `metadata` arrive as JSON strings inside the form and are parsed back) or `application/json`.
 *   GET with a query string is accepted too. Token: `Authorization: Bearer …` or a `token` form field.
 * - Every answer is HTTP 200 + `{ ok: true, … }` or `{ ok: false, error, response_metadata? }` — except injected
 *   faults (`failNext`) which may be 429 (+ `Retry-After`) or any 5xx.
 * - Missing token → `not_authed`; a token not in `opts.tokens` → `invalid_auth`; unknown method → `unknown_method`.
 *
 * ## Methods served
 * `auth.test`, `chat.postMessage` (to a channel id/name, a user id `U…`/`W…` = that user's DM, or an IM id `D…`;
 * `thread_ts` makes a reply), `chat.update` (omitted `blocks`/`attachments` are kept, `[]` clears — as Slack documents),
 * `chat.postEphemeral` (→ `message_ts`), `chat.delete`, `conversations.open` (`users=U…` → a stable `D…` id,
 * see {@link dmChannelIdFor}), `views.open` / `views.push` (need a trigger id the double issued or the test registered,
 * unused and younger than {@link TRIGGER_ID_TTL_MS}), `views.update` (by `view_id` or `external_id`, `hash` checked),
 * `views.publish` (home tab), `users.info`, `users.lookupByEmail`, `usergroups.users.list`.
 *
 * ## response_url
 * `respondUrl(id, ctx)` registers `http://127.0.0.1:<port>/respond/<id>`. POSTed JSON (what Bolt's `respond()` sends)
 * is recorded as a call with method {@link RESPONSE_URL_METHOD}. `delete_original` deletes `ctx.messageTs`,
 * `replace_original` rewrites it (channel message or ephemeral), otherwise `response_type: 'in_channel'` posts to
 * `ctx.channel` and the default (`ephemeral`) posts an ephemeral to `ctx.userId`. At most
 * {@link RESPONSE_URL_MAX_USES} uses and {@link RESPONSE_URL_TTL_MS} lifetime (both from secondary sources, [U]);
 * beyond that HTTP 404 `{ok:false,error:'used_url'|'expired_url'}`; an unknown id → 404 `invalid_url`; an invalid
 * message → 400 `{ok:false,error}`. Exact status codes/bodies of Slack's response_url errors are not documented [U].
 *
 * ## Limits enforced (named constants below; override per double with `opts.limits`)
 * Messages (`chat.*`, response_url): `text` > {@link MAX_MESSAGE_TEXT_CHARS} → `msg_too_long`; no text/blocks/attachments
 * → `no_text`; malformed blocks JSON → `invalid_blocks_format`; > {@link MAX_MESSAGE_BLOCKS} blocks, or any block/element
 * limit (block_id/action_id ≤ 255, button text ≤ 75, value ≤ 2000, url ≤ 3000, section text ≤ 3000, fields ≤ 10 × 2000,
 * header ≤ 150, actions ≤ 25 elements, context ≤ 10 elements, select ≤ 100 options) → `invalid_blocks` with
 * Slack-style `response_metadata.messages` (`[ERROR] must be less than 76 characters [json-pointer:/blocks/0/…]`).
 * Views (`views.*`): title/submit/close > 24, `private_metadata` > 3000, `callback_id`/`external_id` > 255,
 * > {@link MAX_VIEW_BLOCKS} blocks or any block/element limit → `invalid_arguments` (Slack's views.* methods document
 * no `invalid_blocks`; they answer `invalid_arguments` with the same `[ERROR] … [json-pointer:/view/…]` messages);
 * view JSON > 250 kB → `view_too_large`; a 4th stacked modal → `push_limit_reached`.
 * Unknown message ts → `message_not_found`; unknown channel → `channel_not_found`; archived → `is_archived`;
 * channel seeded with `botIsMember: false` → `not_in_channel`; ephemeral to a non-member → `user_not_in_channel`.
 *
 * ## Recording and waiting
 * `calls` (live array, cleared in place by `reset()`) holds every request, failed or not, as {@link SlackCall}.
 * `waitFor` / `waitForCall` / `waitUntil` are event-driven (re-checked whenever a call is recorded) and reject with a
 * summary of the last calls when the deadline passes. State is updated BEFORE the call is recorded, so when a wait
 * resolves, `messagesIn`/`dmOf`/`homeOf`/… already reflect it.
 *
 * ## Extension point
 * `addMethod(method, fn)` serves one more Web API method (e.g. `apps.connections.open`, registered by
 * `attachSocketMode` in slack-socket-mode.ts). Such a method authenticates on its own: `fn` gets the parsed args and
 * the bearer token (a missing token is still `not_authed`), and returns the answer's fields (`ok: true` is added; return
 * `{ ok: false, error }` to fail). Faults, latency and call recording apply as to any method; registrations survive
 * `reset()`. Nothing changes for a double on which `addMethod` is never called.
 *
 * ## Not modelled
 * Real rate limiting (use `failNext`), `reply_broadcast`, scheduled messages, files, reactions, pagination, scopes,
 * Enterprise Grid. `thread_ts` pointing at an unknown message posts a top-level message that keeps `thread_ts` [U].
 */
import { waitOnEvents } from './wait-on-events.js';
import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------------------------------------------
// Limits (Slack's documented values; see SDK packages/types block-kit/*.ts, views.ts, and the method docs)
// ---------------------------------------------------------------------------------------------------------------

/** `text` of a message. Slack recommends ≤ 4000 and truncates above 40 000; the double (like Teleport's) rejects > 4000. */
export const MAX_MESSAGE_TEXT_CHARS = 4000;
/** Blocks per message. */
export const MAX_MESSAGE_BLOCKS = 50;
/** Blocks per modal / Home tab. */
export const MAX_VIEW_BLOCKS = 100;
/** Legacy attachments per message (`too_many_attachments`). */
export const MAX_ATTACHMENTS = 100;
export const MAX_BLOCK_ID_CHARS = 255;
export const MAX_ACTION_ID_CHARS = 255;
export const MAX_BUTTON_TEXT_CHARS = 75;
export const MAX_BUTTON_VALUE_CHARS = 2000;
export const MAX_BUTTON_URL_CHARS = 3000;
export const MAX_SECTION_TEXT_CHARS = 3000;
export const MAX_SECTION_FIELDS = 10;
export const MAX_SECTION_FIELD_CHARS = 2000;
export const MAX_HEADER_TEXT_CHARS = 150;
export const MAX_ACTIONS_ELEMENTS = 25;
export const MAX_CONTEXT_ELEMENTS = 10;
export const MAX_SELECT_OPTIONS = 100;
/** Modal `title`, `submit` and `close` text. */
export const MAX_VIEW_TITLE_CHARS = 24;
export const MAX_PRIVATE_METADATA_CHARS = 3000;
export const MAX_CALLBACK_ID_CHARS = 255;
export const MAX_EXTERNAL_ID_CHARS = 255;
/** views.* reject a view whose JSON is larger than 250 kB (`view_too_large`). */
export const MAX_VIEW_BYTES = 250_000;
/** A root modal plus two pushed views. */
export const MAX_VIEW_STACK_DEPTH = 3;
/** A trigger_id must be exchanged within 3 s. */
export const TRIGGER_ID_TTL_MS = 3000;
/** response_url: at most 5 uses within 30 minutes (secondary sources; Slack's own docs are silent) [U]. */
export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

export interface SlackLimits {
  messageTextChars: number;
  messageBlocks: number;
  viewBlocks: number;
  attachments: number;
  blockIdChars: number;
  actionIdChars: number;
  buttonTextChars: number;
  buttonValueChars: number;
  buttonUrlChars: number;
  sectionTextChars: number;
  sectionFields: number;
  sectionFieldChars: number;
  headerTextChars: number;
  actionsElements: number;
  contextElements: number;
  selectOptions: number;
  viewTitleChars: number;
  privateMetadataChars: number;
  callbackIdChars: number;
  externalIdChars: number;
  viewBytes: number;
  viewStackDepth: number;
  triggerIdTtlMs: number;
  responseUrlMaxUses: number;
  responseUrlTtlMs: number;
}

export const SLACK_LIMITS: Readonly<SlackLimits> = Object.freeze({
  messageTextChars: MAX_MESSAGE_TEXT_CHARS,
  messageBlocks: MAX_MESSAGE_BLOCKS,
  viewBlocks: MAX_VIEW_BLOCKS,
  attachments: MAX_ATTACHMENTS,
  blockIdChars: MAX_BLOCK_ID_CHARS,
  actionIdChars: MAX_ACTION_ID_CHARS,
  buttonTextChars: MAX_BUTTON_TEXT_CHARS,
  buttonValueChars: MAX_BUTTON_VALUE_CHARS,
  buttonUrlChars: MAX_BUTTON_URL_CHARS,
  sectionTextChars: MAX_SECTION_TEXT_CHARS,
  sectionFields: MAX_SECTION_FIELDS,
  sectionFieldChars: MAX_SECTION_FIELD_CHARS,
  headerTextChars: MAX_HEADER_TEXT_CHARS,
  actionsElements: MAX_ACTIONS_ELEMENTS,
  contextElements: MAX_CONTEXT_ELEMENTS,
  selectOptions: MAX_SELECT_OPTIONS,
  viewTitleChars: MAX_VIEW_TITLE_CHARS,
  privateMetadataChars: MAX_PRIVATE_METADATA_CHARS,
  callbackIdChars: MAX_CALLBACK_ID_CHARS,
  externalIdChars: MAX_EXTERNAL_ID_CHARS,
  viewBytes: MAX_VIEW_BYTES,
  viewStackDepth: MAX_VIEW_STACK_DEPTH,
  triggerIdTtlMs: TRIGGER_ID_TTL_MS,
  responseUrlMaxUses: RESPONSE_URL_MAX_USES,
  responseUrlTtlMs: RESPONSE_URL_TTL_MS,
});

/** Identity of the fake workspace and bot; also used by the payload builders in slack-sign.ts. */
export const SLACK_DOUBLE_DEFAULTS = Object.freeze({
  botToken: 'xoxb-slack-double-token',
  teamId: 'T0DBACCESS',
  teamDomain: 'db-access-test',
  teamName: 'db-access test',
  appId: 'A0DBACCESS',
  botId: 'B0DBACCESS',
  botUserId: 'U0DBBOT',
  botName: 'db-access',
  /** Seeded by every double (`#general`), and the default channel of the payload builders. */
  channelId: 'C0GENERAL',
  channelName: 'general',
});

/** Method name under which POSTs to a response_url are recorded. */
export const RESPONSE_URL_METHOD = 'response_url';

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

/** A Block Kit block / element as received (JSON). */
export interface SlackBlock {
  type: string;
  block_id?: string;
  [key: string]: unknown;
}

export interface SlackTextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
  verbatim?: boolean;
}

/** One recorded request. */
export interface SlackCall {
  /** Web API method (`chat.postMessage`) or {@link RESPONSE_URL_METHOD}. */
  method: string;
  /** Parsed arguments (JSON strings such as `blocks`/`view`/`attachments` parsed back to objects); no `token`. */
  args: Record<string, unknown>;
  /** `Date.now()` when the request was answered. */
  at: number;
  /** HTTP status answered. */
  status: number;
  /** `ok` of the answer (false for platform errors and injected faults). */
  ok: boolean;
  /** Slack error code when `ok` is false (`ratelimited` for an injected 429, `http_<status>` for an injected 5xx). */
  error?: string;
  /** The JSON (or text) body answered. */
  response: unknown;
  /** Bearer token used (Web API calls only). */
  token?: string;
  /** For response_url calls: the id given to `respondUrl`. */
  responseUrlId?: string;
  /** True when the answer came from `failNext`. */
  injected?: boolean;
}

export interface MessageRevision {
  text: string;
  blocks?: SlackBlock[];
  attachments?: Record<string, unknown>[];
  /** `chat.postMessage`, `chat.update`, `response_url`… */
  by: string;
  at: number;
}

/** Current state of a channel message (after updates), with its thread replies. */
export interface SlackMessage {
  type: 'message';
  channel: string;
  ts: string;
  text: string;
  blocks?: SlackBlock[];
  attachments?: Record<string, unknown>[];
  thread_ts?: string;
  user: string;
  bot_id: string;
  app_id: string;
  team: string;
  username?: string;
  metadata?: unknown;
  edited?: { user: string; ts: string };
  /** Non-deleted replies, oldest first (empty for replies themselves). */
  replies: SlackMessage[];
  /** Every version, oldest first (the first is the post). */
  history: MessageRevision[];
  /** How it was created: `chat.postMessage` or `response_url`. */
  postedVia: string;
}

export interface SlackEphemeral {
  channel: string;
  user: string;
  /** `message_ts` returned by chat.postEphemeral. */
  ts: string;
  text: string;
  blocks?: SlackBlock[];
  attachments?: Record<string, unknown>[];
  thread_ts?: string;
  postedVia: string;
  history: MessageRevision[];
}

/** A view as Slack stores it (the shape views.* return and interaction payloads carry). */
export interface SlackView {
  id: string;
  team_id: string;
  type: 'modal' | 'home' | string;
  /** The user the view is shown to. */
  user_id: string;
  title?: SlackTextObject;
  submit?: SlackTextObject | null;
  close?: SlackTextObject | null;
  blocks: SlackBlock[];
  private_metadata: string;
  callback_id: string;
  external_id: string;
  state: { values: Record<string, Record<string, unknown>> };
  hash: string;
  clear_on_close: boolean;
  notify_on_close: boolean;
  root_view_id: string;
  previous_view_id: string | null;
  app_id: string;
  app_installed_team_id: string;
  bot_id: string;
  /** `views.open`, `views.push` or `views.publish`. */
  openedVia: string;
  /** Every version, oldest first. */
  history: Array<{ by: string; at: number; view: Record<string, unknown> }>;
}

export interface SlackUser {
  id: string;
  team_id: string;
  name: string;
  real_name: string;
  deleted: boolean;
  is_bot: boolean;
  is_admin: boolean;
  tz: string;
  profile: {
    email?: string;
    real_name: string;
    real_name_normalized: string;
    display_name: string;
    display_name_normalized: string;
  };
}

export interface AddUserInput {
  id: string;
  email?: string;
  name: string;
  real_name?: string;
  display_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_admin?: boolean;
  tz?: string;
}

export interface AddChannelOptions {
  name?: string;
  /** When given, `chat.postEphemeral` to anyone else answers `user_not_in_channel`. */
  members?: string[];
  /** `false` → `chat.postMessage`/`chat.postEphemeral` answer `not_in_channel`. Default true. */
  botIsMember?: boolean;
  /** `true` → posting answers `is_archived`. */
  archived?: boolean;
}

/** What a response_url refers to. */
export interface RespondUrlContext {
  /** Channel for new (`in_channel`/ephemeral) responses. */
  channel?: string;
  /** Recipient of ephemeral responses. */
  userId?: string;
  /** The message `replace_original`/`delete_original` act on (a channel message ts or an ephemeral's message_ts). */
  messageTs?: string;
}

/**
 * An injected failure for the next call(s) to a method:
 * - `{ status: 429, retryAfterSeconds }` → HTTP 429 + `Retry-After` (default 1 s) + `{ok:false,error:'ratelimited'}`;
 * - `{ status: 500 }` (any non-200) → that status with a text body (`body` or the status text);
 * - `{ error: 'ratelimited' }` → HTTP 200 `{ ok:false, error, ...response }`.
 */
export type SlackFault =
  | { status: number; retryAfterSeconds?: number; body?: string }
  | { error: string; response?: Record<string, unknown> };

export interface WaitOptions {
  /** Deadline (default 5000 ms). */
  timeoutMs?: number;
  /** Only consider `calls[fromIndex…]` — snapshot `slack.calls.length` before acting to ignore earlier calls. */
  fromIndex?: number;
}

export interface RenderOptions {
  /** Resolve `<@U…>` mentions to a name (the double's `renderText` uses its directory). */
  userName?: (userId: string) => string | undefined;
  /** Also print the top-level `text` when blocks are present (a person only sees it in notifications). */
  includeFallbackText?: boolean;
}

/**
 * A Web API method added with `addMethod`: parsed args (no `token`) and the bearer token in, the answer's fields out
 * (`ok: true` is added unless the handler returns `ok: false` with an `error`). The double's own token check is skipped.
 */
export type SlackMethodHandler = (args: Record<string, unknown>, ctx: { token: string }) => Record<string, unknown>;

export interface SlackDoubleOptions {
  /** Port to listen on (default 0 = ephemeral). Always binds 127.0.0.1. */
  port?: number;
  botToken?: string;
  /** Extra tokens accepted besides `botToken`. */
  tokens?: string[];
  teamId?: string;
  /** The Enterprise Grid organisation of the workspace: `auth.test` then answers `enterprise_id` as Slack does in Grid. */
  enterpriseId?: string;
  /** An organisation-wide install (`auth.test` → `is_enterprise_install: true`); needs `enterpriseId`. */
  enterpriseInstall?: boolean;
  teamDomain?: string;
  appId?: string;
  botId?: string;
  botUserId?: string;
  botName?: string;
  /** Override any limit (e.g. a shorter `triggerIdTtlMs`). */
  limits?: Partial<SlackLimits>;
  /** Per-method latency in ms (see `setLatency`). */
  latencyMs?: Record<string, number>;
}

export interface SlackDouble {
  /** `slackApiUrl` for WebClient / Bolt `clientOptions`: `http://127.0.0.1:<port>/api/`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>` (response URLs live under `/respond/`). */
  readonly baseUrl: string;
  readonly botToken: string;
  readonly teamId: string;
  readonly appId: string;
  readonly botId: string;
  readonly botUserId: string;
  readonly limits: Readonly<SlackLimits>;
  /** Every recorded request, oldest first (live; `reset()` empties it in place). */
  readonly calls: readonly SlackCall[];

  callsTo(method: string): SlackCall[];
  /** Top-level, non-deleted messages of a channel (id, `#name`, or a user id for its DM), oldest first, with replies. */
  messagesIn(channel: string): SlackMessage[];
  /** The current state of one message (top-level or reply), or undefined if unknown/deleted. */
  messageAt(channel: string, ts: string): SlackMessage | undefined;
  /** Messages in the app's DM with a user. */
  dmOf(userId: string): SlackMessage[];
  /** Ephemeral messages shown to a user (chat.postEphemeral and ephemeral response_url replies), oldest first. */
  ephemeralsFor(userId: string): SlackEphemeral[];
  /** Modals opened for a user (views.open and views.push), current state, oldest first. */
  viewsOpenedBy(userId: string): SlackView[];
  /** The view currently on top of the user's modal stack. */
  currentModalOf(userId: string): SlackView | undefined;
  /** The user's published Home tab. */
  homeOf(userId: string): SlackView | undefined;
  viewById(viewId: string): SlackView | undefined;
  /** Simulate the user closing their modal(s) (or a `response_action: 'clear'` ack). */
  closeModals(userId: string): void;

  /** Resolve with the first recorded call matching `predicate` (existing ones included). */
  waitFor(predicate: (call: SlackCall) => boolean, opts?: WaitOptions): Promise<SlackCall>;
  waitForCall(method: string, predicate?: (call: SlackCall) => boolean, opts?: WaitOptions): Promise<SlackCall>;
  /** Re-evaluate `probe` now and after every recorded call until it returns a value other than undefined/null/false. */
  waitUntil<T>(probe: () => T | undefined | null | false, opts?: { timeoutMs?: number; description?: string }): Promise<T>;

  failNext(method: string, fault: SlackFault, opts?: { times?: number }): void;
  /** Delay every answer of `method` (`'*'` = all methods) by `ms`; 0 removes it. */
  setLatency(method: string, ms: number): void;
  clearFaults(): void;

  addUser(user: AddUserInput): SlackUser;
  addUsergroup(id: string, userIds: string[], opts?: { handle?: string; name?: string }): void;
  addChannel(id: string, opts?: AddChannelOptions): void;
  /** A fresh trigger id (`ageMs` backdates it, e.g. to test `expired_trigger_id`). */
  issueTriggerId(opts?: { userId?: string; ageMs?: number }): string;
  /** Accept a trigger id minted elsewhere (valid once, for `limits.triggerIdTtlMs` from now − ageMs). */
  registerTriggerId(triggerId: string, opts?: { userId?: string; ageMs?: number }): void;
  /** Register (or re-target) a response_url and return it. `id` defaults to a fresh one. */
  respondUrl(id?: string, ctx?: RespondUrlContext): string;
  /** A trigger id and a response_url for one user interaction, ready to spread into the slack-sign builders. */
  interaction(userId: string, ctx?: { channelId?: string; messageTs?: string }): { triggerId: string; responseUrl: string };
  /** The DM channel id of a user (same as {@link dmChannelIdFor}). */
  dmChannelId(userId: string): string;

  /** {@link renderText} with user mentions resolved from the directory. */
  renderText(message: Renderable): string;

  /** Serve one more Web API method, with its own authentication (see {@link SlackMethodHandler}); kept by `reset()`. */
  addMethod(method: string, fn: SlackMethodHandler): void;

  /** Forget calls, messages, ephemerals, views, triggers, response URLs, faults and latency; keep users/groups/channels. */
  reset(): void;
  stop(): Promise<void>;
}

/** Anything renderText understands: a message, an ephemeral, a view, or a response body. */
export interface Renderable {
  text?: unknown;
  blocks?: unknown;
  attachments?: unknown;
  title?: unknown;
  submit?: unknown;
  close?: unknown;
}

/** The app's DM channel with a user: deterministic, `U0ALICE` → `D0ALICE`. */
export function dmChannelIdFor(userId: string): string {
  return `D${userId.slice(1)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
type ApiResult = Json & { ok: boolean; error?: string };

interface ChannelRecord {
  id: string;
  name?: string;
  kind: 'channel' | 'im' | 'mpim';
  members?: Set<string>;
  botIsMember: boolean;
  archived: boolean;
  /** For IMs: the user. */
  userId?: string;
}

interface MessageRecord {
  channel: string;
  ts: string;
  text: string;
  blocks?: SlackBlock[];
  attachments?: Json[];
  thread_ts?: string;
  parentTs?: string;
  username?: string;
  metadata?: unknown;
  edited?: { user: string; ts: string };
  deleted: boolean;
  history: MessageRevision[];
  postedVia: string;
}

interface TriggerRecord {
  id: string;
  userId?: string;
  issuedAt: number;
  usedAt?: number;
}

interface RespondUrlRecord extends RespondUrlContext {
  id: string;
  createdAt: number;
  uses: number;
}

interface ViewRecord {
  view: SlackView;
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly messages: string[] = [],
    readonly extra: Json = {},
  ) {
    super(code);
  }
}

const JSON_ARGS = ['blocks', 'attachments', 'view', 'metadata'];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const clone = <T>(v: T): T => structuredClone(v);

function textOf(obj: unknown): string | undefined {
  return isObject(obj) ? str(obj.text) : undefined;
}

/** Monotonic Slack timestamps: "<seconds>.<6 digits>", strictly increasing. */
function makeTsFactory(): () => string {
  let last = 0;
  return () => {
    let micros = Date.now() * 1000;
    if (micros <= last) micros = last + 1;
    last = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
}

// ----- validation -----------------------------------------------------------------------------------------------

function tooLong(ptr: string, max: number): string {
  return `[ERROR] must be less than ${max + 1} characters [json-pointer:${ptr}]`;
}
function tooMany(ptr: string, max: number): string {
  return `[ERROR] must be less than ${max + 1} items [json-pointer:${ptr}]`;
}

function checkText(out: string[], obj: unknown, ptr: string, max: number): void {
  const t = textOf(obj);
  if (t !== undefined && t.length > max) out.push(tooLong(`${ptr}/text`, max));
}

function validateElement(el: unknown, ptr: string, L: SlackLimits, out: string[]): void {
  if (!isObject(el) || typeof el.type !== 'string') {
    out.push(`[ERROR] missing required field: type [json-pointer:${ptr}]`);
    return;
  }
  const actionId = str(el.action_id);
  if (actionId !== undefined && actionId.length > L.actionIdChars) out.push(tooLong(`${ptr}/action_id`, L.actionIdChars));
  if (el.type === 'button') {
    checkText(out, el.text, `${ptr}/text`, L.buttonTextChars);
    const value = str(el.value);
    if (value !== undefined && value.length > L.buttonValueChars) out.push(tooLong(`${ptr}/value`, L.buttonValueChars));
    const url = str(el.url);
    if (url !== undefined && url.length > L.buttonUrlChars) out.push(tooLong(`${ptr}/url`, L.buttonUrlChars));
  }
  for (const key of ['options', 'option_groups'] as const) {
    const list = el[key];
    if (Array.isArray(list) && list.length > L.selectOptions) out.push(tooMany(`${ptr}/${key}`, L.selectOptions));
  }
}

function validateBlocks(blocks: unknown[], ptr: string, L: SlackLimits, out: string[]): void {
  blocks.forEach((b, i) => {
    const bp = `${ptr}/${i}`;
    if (!isObject(b) || typeof b.type !== 'string') {
      out.push(`[ERROR] missing required field: type [json-pointer:${bp}]`);
      return;
    }
    const blockId = str(b.block_id);
    if (blockId !== undefined && blockId.length > L.blockIdChars) out.push(tooLong(`${bp}/block_id`, L.blockIdChars));
    switch (b.type) {
      case 'section': {
        checkText(out, b.text, `${bp}/text`, L.sectionTextChars);
        if (Array.isArray(b.fields)) {
          if (b.fields.length > L.sectionFields) out.push(tooMany(`${bp}/fields`, L.sectionFields));
          b.fields.forEach((f, j) => checkText(out, f, `${bp}/fields/${j}`, L.sectionFieldChars));
        }
        if (b.accessory !== undefined) validateElement(b.accessory, `${bp}/accessory`, L, out);
        break;
      }
      case 'header':
        checkText(out, b.text, `${bp}/text`, L.headerTextChars);
        break;
      case 'actions':
        if (Array.isArray(b.elements)) {
          if (b.elements.length > L.actionsElements) out.push(tooMany(`${bp}/elements`, L.actionsElements));
          b.elements.forEach((e, j) => validateElement(e, `${bp}/elements/${j}`, L, out));
        }
        break;
      case 'context':
        if (Array.isArray(b.elements) && b.elements.length > L.contextElements) {
          out.push(tooMany(`${bp}/elements`, L.contextElements));
        }
        break;
      case 'input':
        if (b.element !== undefined) validateElement(b.element, `${bp}/element`, L, out);
        break;
      default:
        break;
    }
  });
}

interface MessageContent {
  text: string;
  blocks?: SlackBlock[];
  attachments?: Json[];
}

/** Validate a message body (chat.* / response_url); `partial` = chat.update (omitted fields are kept). */
function validateMessage(args: Json, L: SlackLimits, opts: { requireContent: boolean }): MessageContent {
  const text = args.text === undefined || args.text === null ? '' : String(args.text);
  if (text.length > L.messageTextChars) throw new ApiError('msg_too_long');
  let blocks: SlackBlock[] | undefined;
  if (args.blocks !== undefined && args.blocks !== null && args.blocks !== '') {
    if (!Array.isArray(args.blocks)) throw new ApiError('invalid_blocks_format', ['[ERROR] blocks must be a JSON array']);
    const issues: string[] = [];
    if (args.blocks.length > L.messageBlocks) issues.push(tooMany('/blocks', L.messageBlocks));
    validateBlocks(args.blocks, '/blocks', L, issues);
    if (issues.length > 0) throw new ApiError('invalid_blocks', issues);
    blocks = args.blocks as SlackBlock[];
  }
  let attachments: Json[] | undefined;
  if (args.attachments !== undefined && args.attachments !== null && args.attachments !== '') {
    if (!Array.isArray(args.attachments)) throw new ApiError('invalid_attachments');
    if (args.attachments.length > L.attachments) throw new ApiError('too_many_attachments');
    const issues: string[] = [];
    args.attachments.forEach((a, i) => {
      if (isObject(a) && Array.isArray(a.blocks)) validateBlocks(a.blocks, `/attachments/${i}/blocks`, L, issues);
    });
    if (issues.length > 0) throw new ApiError('invalid_blocks', issues);
    attachments = args.attachments as Json[];
  }
  if (opts.requireContent && text === '' && (blocks === undefined || blocks.length === 0) && attachments === undefined) {
    throw new ApiError('no_text');
  }
  return { text, ...(blocks && { blocks }), ...(attachments && { attachments }) };
}

function validateView(raw: unknown, L: SlackLimits): Json {
  if (typeof raw === 'string') throw new ApiError('invalid_arguments', ['[ERROR] view must be a JSON object [json-pointer:/view]']);
  if (!isObject(raw)) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: view']);
  if (Buffer.byteLength(JSON.stringify(raw)) > L.viewBytes) throw new ApiError('view_too_large');
  const issues: string[] = [];
  if (raw.type !== 'modal' && raw.type !== 'home') issues.push('[ERROR] failed to match all allowed schemas [json-pointer:/view/type]');
  if (raw.type === 'modal' && raw.title === undefined) issues.push('[ERROR] missing required field: title [json-pointer:/view]');
  for (const key of ['title', 'submit', 'close'] as const) {
    checkText(issues, raw[key], `/view/${key}`, L.viewTitleChars);
  }
  const meta = str(raw.private_metadata);
  if (meta !== undefined && meta.length > L.privateMetadataChars) issues.push(tooLong('/view/private_metadata', L.privateMetadataChars));
  const cb = str(raw.callback_id);
  if (cb !== undefined && cb.length > L.callbackIdChars) issues.push(tooLong('/view/callback_id', L.callbackIdChars));
  const ext = str(raw.external_id);
  if (ext !== undefined && ext.length > L.externalIdChars) issues.push(tooLong('/view/external_id', L.externalIdChars));
  if (!Array.isArray(raw.blocks)) {
    issues.push('[ERROR] missing required field: blocks [json-pointer:/view]');
  } else {
    if (raw.blocks.length > L.viewBlocks) issues.push(tooMany('/view/blocks', L.viewBlocks));
    validateBlocks(raw.blocks, '/view/blocks', L, issues);
  }
  if (issues.length > 0) throw new ApiError('invalid_arguments', issues);
  return raw;
}

// ----- rendering --------------------------------------------------------------------------------------------------

function unescapeMrkdwn(s: string, opts: RenderOptions): string {
  return s
    .replace(/<@([UW][A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, label?: string) => `@${label || opts.userName?.(id) || id}`)
    .replace(/<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, label?: string) => `#${label || id}`)
    .replace(/<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, label?: string) => label || `@${id}`)
    .replace(/<!date\^[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1')
    .replace(/<([^<>|]+)\|([^<>]+)>/g, '$2')
    .replace(/<((?:https?|mailto):[^<>]+)>/g, '$1')
    .replace(/```\n?([\s\S]*?)\n?```/g, '$1')
    .replace(/`([^`\n]+)`/g, '$1')
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s.,;:!?)])/gm, '$1$2')
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s.,;:!?)])/gm, '$1$2')
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s.,;:!?)])/gm, '$1$2')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function renderTextObject(obj: unknown, opts: RenderOptions): string {
  if (typeof obj === 'string') return unescapeMrkdwn(obj, opts);
  if (!isObject(obj)) return '';
  const t = str(obj.text) ?? '';
  return obj.type === 'plain_text' ? t : unescapeMrkdwn(t, opts);
}

function renderRichText(node: unknown, opts: RenderOptions): string {
  if (!isObject(node)) return '';
  switch (node.type) {
    case 'text':
      return str(node.text) ?? '';
    case 'link':
      return str(node.text) ?? str(node.url) ?? '';
    case 'user':
      return `@${opts.userName?.(str(node.user_id) ?? '') ?? str(node.user_id) ?? ''}`;
    case 'channel':
      return `#${str(node.channel_id) ?? ''}`;
    case 'emoji':
      return `:${str(node.name) ?? ''}:`;
    case 'usergroup':
      return `@${str(node.usergroup_id) ?? ''}`;
    case 'broadcast':
      return `@${str(node.range) ?? ''}`;
    default: {
      const children = Array.isArray(node.elements) ? node.elements : [];
      const sep = node.type === 'rich_text_list' ? '\n' : '';
      const prefix = node.type === 'rich_text_list' ? '• ' : '';
      return children.map((c) => prefix + renderRichText(c, opts)).join(sep);
    }
  }
}

function renderElement(el: unknown, opts: RenderOptions): string {
  if (!isObject(el)) return '';
  switch (el.type) {
    case 'button':
      return `[${renderTextObject(el.text, opts)}]`;
    case 'image':
      return `[image: ${str(el.alt_text) ?? ''}]`;
    case 'plain_text':
    case 'mrkdwn':
      return renderTextObject(el, opts);
    case 'overflow':
      return '[…]';
    case 'checkboxes':
    case 'radio_buttons': {
      const options = Array.isArray(el.options) ? el.options : [];
      return options.map((o) => `( ) ${renderTextObject(isObject(o) ? o.text : '', opts)}`).join('\n');
    }
    case 'plain_text_input':
    case 'number_input':
    case 'email_text_input':
    case 'url_text_input': {
      const shown = str(el.initial_value) ?? (el.placeholder !== undefined ? renderTextObject(el.placeholder, opts) : '');
      return `[${shown}]`;
    }
    default: {
      // selects, pickers
      const initial = isObject(el.initial_option) ? renderTextObject(el.initial_option.text, opts) : undefined;
      const shown =
        initial ??
        str(el.initial_user) ??
        str(el.initial_channel) ??
        str(el.initial_conversation) ??
        str(el.initial_date) ??
        (el.placeholder !== undefined ? renderTextObject(el.placeholder, opts) : str(el.type) ?? '');
      return `[${shown} ▾]`;
    }
  }
}

function renderBlock(b: unknown, opts: RenderOptions): string[] {
  if (!isObject(b)) return [];
  switch (b.type) {
    case 'header':
    case 'markdown':
      return [b.type === 'markdown' ? unescapeMrkdwn(str(b.text) ?? '', opts) : renderTextObject(b.text, opts)];
    case 'section': {
      const lines: string[] = [];
      if (b.text !== undefined) lines.push(renderTextObject(b.text, opts));
      if (Array.isArray(b.fields)) for (const f of b.fields) lines.push(renderTextObject(f, opts));
      if (b.accessory !== undefined) lines.push(renderElement(b.accessory, opts));
      return lines;
    }
    case 'context':
      return [(Array.isArray(b.elements) ? b.elements : []).map((e) => renderElement(e, opts)).join(' · ')];
    case 'actions':
      return [(Array.isArray(b.elements) ? b.elements : []).map((e) => renderElement(e, opts)).join(' ')];
    case 'divider':
      return ['---'];
    case 'image':
      return [`[image: ${str(b.alt_text) ?? ''}]`];
    case 'input':
      return [`${renderTextObject(b.label, opts)}: ${renderElement(b.element, opts)}`];
    case 'rich_text':
      return [renderRichText({ type: 'rich_text_section', elements: b.elements }, opts)];
    default:
      return b.text !== undefined ? [renderTextObject(b.text, opts)] : [];
  }
}

/**
 * Flatten what a person sees into plain text: a message's blocks (header, section text/fields/accessory, context
 * elements, actions as `[Button] [Other]`, inputs as `Label: [value]`, dividers as `---`) or, with no blocks, its
 * `text`; legacy attachments (pretext/title/text/fields/blocks); for a view, the title first and the submit/close
 * buttons last. mrkdwn is reduced to plain text (links → label, `<@U…>` → `@name`, `*bold*` → `bold`, entities).
 */
export function renderText(message: Renderable, opts: RenderOptions = {}): string {
  const lines: string[] = [];
  if (message.title !== undefined) lines.push(renderTextObject(message.title, opts));
  const blocks = Array.isArray(message.blocks) ? message.blocks : [];
  const text = str(message.text);
  if (text && (blocks.length === 0 || opts.includeFallbackText)) lines.push(unescapeMrkdwn(text, opts));
  for (const b of blocks) lines.push(...renderBlock(b, opts));
  if (Array.isArray(message.attachments)) {
    for (const a of message.attachments) {
      if (!isObject(a)) continue;
      for (const key of ['pretext', 'title', 'text'] as const) {
        const v = str(a[key]);
        if (v) lines.push(unescapeMrkdwn(v, opts));
      }
      if (Array.isArray(a.fields)) {
        for (const f of a.fields) if (isObject(f)) lines.push(`${str(f.title) ?? ''}: ${unescapeMrkdwn(str(f.value) ?? '', opts)}`);
      }
      if (Array.isArray(a.blocks)) for (const b of a.blocks) lines.push(...renderBlock(b, opts));
      const footer = str(a.footer);
      if (footer) lines.push(unescapeMrkdwn(footer, opts));
    }
  }
  const buttons = [message.submit, message.close].filter((x) => isObject(x)).map((x) => `[${renderTextObject(x, opts)}]`);
  if (buttons.length > 0) lines.push(buttons.join(' '));
  return lines.filter((l) => l !== '').join('\n');
}

/** A button found in a message or view, with where it lives (to build a `block_actions` payload). */
export interface FoundButton {
  actionId: string;
  blockId?: string;
  value?: string;
  text: string;
  style?: string;
  url?: string;
}

/** All buttons of a message/view (actions blocks, section accessories, attachments' blocks), in order. */
export function buttonsIn(message: Renderable): FoundButton[] {
  const out: FoundButton[] = [];
  const visit = (el: unknown, blockId: string | undefined): void => {
    if (!isObject(el) || el.type !== 'button') return;
    const b: FoundButton = { actionId: str(el.action_id) ?? '', text: textOf(el.text) ?? '' };
    if (blockId !== undefined) b.blockId = blockId;
    if (str(el.value) !== undefined) b.value = str(el.value)!;
    if (str(el.style) !== undefined) b.style = str(el.style)!;
    if (str(el.url) !== undefined) b.url = str(el.url)!;
    out.push(b);
  };
  const walk = (blocks: unknown): void => {
    if (!Array.isArray(blocks)) return;
    for (const blk of blocks) {
      if (!isObject(blk)) continue;
      const id = str(blk.block_id);
      if (Array.isArray(blk.elements)) for (const e of blk.elements) visit(e, id);
      visit(blk.accessory, id);
    }
  };
  walk(message.blocks);
  if (Array.isArray(message.attachments)) for (const a of message.attachments) if (isObject(a)) walk(a.blocks);
  return out;
}

// ----- server ---------------------------------------------------------------------------------------------------

class SlackDoubleImpl implements SlackDouble {
  url = '';
  baseUrl = '';
  readonly botToken: string;
  readonly teamId: string;
  readonly enterpriseId: string | undefined;
  readonly enterpriseInstall: boolean;
  readonly teamDomain: string;
  readonly appId: string;
  readonly botId: string;
  readonly botUserId: string;
  readonly botName: string;
  readonly limits: Readonly<SlackLimits>;
  readonly calls: SlackCall[] = [];

  private readonly tokens: Set<string>;
  private server?: Server;
  private readonly nextTs = makeTsFactory();
  private idCounter = 0;

  // directory (kept by reset)
  private readonly users = new Map<string, SlackUser>();
  private readonly usergroups = new Map<string, { users: string[]; handle?: string; name?: string }>();
  private readonly channels = new Map<string, ChannelRecord>();

  // state (cleared by reset)
  private readonly messages = new Map<string, Map<string, MessageRecord>>();
  private readonly ephemerals: SlackEphemeral[] = [];
  private readonly views = new Map<string, ViewRecord>();
  private readonly modalStacks = new Map<string, string[]>();
  private readonly homes = new Map<string, string>();
  private readonly triggers = new Map<string, TriggerRecord>();
  private readonly respondUrls = new Map<string, RespondUrlRecord>();
  private readonly faults = new Map<string, SlackFault[]>();
  private readonly latency = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly addedMethods = new Map<string, SlackMethodHandler>();

  constructor(opts: SlackDoubleOptions) {
    const d = SLACK_DOUBLE_DEFAULTS;
    this.botToken = opts.botToken ?? d.botToken;
    this.tokens = new Set([this.botToken, ...(opts.tokens ?? [])]);
    this.teamId = opts.teamId ?? d.teamId;
    if (opts.enterpriseInstall && !opts.enterpriseId) throw new Error('slack double: enterpriseInstall needs enterpriseId');
    this.enterpriseId = opts.enterpriseId;
    this.enterpriseInstall = opts.enterpriseInstall ?? false;
    this.teamDomain = opts.teamDomain ?? d.teamDomain;
    this.appId = opts.appId ?? d.appId;
    this.botId = opts.botId ?? d.botId;
    this.botUserId = opts.botUserId ?? d.botUserId;
    this.botName = opts.botName ?? d.botName;
    this.limits = Object.freeze({ ...SLACK_LIMITS, ...opts.limits });
    for (const [m, ms] of Object.entries(opts.latencyMs ?? {})) this.setLatency(m, ms);
    this.addUser({ id: this.botUserId, name: this.botName, is_bot: true });
    this.addChannel(d.channelId, { name: d.channelName });
  }

  async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`slack double crashed: ${err instanceof Error ? err.stack : String(err)}`);
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const { port: actual } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${actual}`;
    this.url = `${this.baseUrl}/api/`;
  }

  async stop(): Promise<void> {
    for (const t of this.pendingTimers) clearTimeout(t);
    this.pendingTimers.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ----- request plumbing -----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');

    const respondMatch = /^\/respond\/([^/]+)$/.exec(url.pathname);
    if (respondMatch && req.method === 'POST') {
      await this.handleResponseUrl(decodeURIComponent(respondMatch[1]!), raw, res);
      return;
    }
    const apiMatch = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (!apiMatch || (req.method !== 'POST' && req.method !== 'GET')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const method = apiMatch[1]!;
    const args = this.parseArgs(req, raw, url);
    const bodyToken = str(args.token);
    delete args.token;
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : bodyToken;

    const fault = this.takeFault(method);
    await this.delay(method);
    if (fault) {
      this.answerFault(method, args, fault, res, { ...(token !== undefined && { token }) });
      return;
    }

    let result: ApiResult;
    const handler = this.handlers[method];
    const added = this.addedMethods.get(method);
    if (added) result = token ? { ok: true, ...added(args, { token }) } : { ok: false, error: 'not_authed' };
    else if (!handler) result = { ok: false, error: 'unknown_method' };
    else if (!token) result = { ok: false, error: 'not_authed' };
    else if (!this.tokens.has(token)) result = { ok: false, error: 'invalid_auth' };
    else {
      try {
        result = { ok: true, ...handler(args) };
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        result = {
          ok: false,
          error: err.code,
          ...err.extra,
          ...(err.messages.length > 0 && { response_metadata: { messages: err.messages } }),
        };
      }
    }
    this.send(res, 200, result);
    this.record({
      method,
      args,
      at: Date.now(),
      status: 200,
      ok: result.ok,
      ...(result.error !== undefined && { error: result.error }),
      response: result,
      ...(token !== undefined && { token }),
    });
  }

  private parseArgs(req: IncomingMessage, raw: string, url: URL): Json {
    const args: Json = {};
    for (const [k, v] of url.searchParams) args[k] = v;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json' && raw.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (isObject(parsed)) Object.assign(args, parsed);
      } catch {
        /* Slack answers invalid_json; we just see no args */
      }
    } else if (raw !== '') {
      for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
    }
    for (const key of JSON_ARGS) {
      const v = args[key];
      if (typeof v === 'string' && v.trim() !== '') {
        try {
          args[key] = JSON.parse(v);
        } catch {
          /* leave the string: validators answer invalid_blocks_format / invalid_arguments */
        }
      }
    }
    return args;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      ...headers,
    });
    res.end(text);
  }

  private takeFault(method: string): SlackFault | undefined {
    for (const key of [method, '*']) {
      const queue = this.faults.get(key);
      if (queue && queue.length > 0) return queue.shift();
    }
    return undefined;
  }

  private async delay(method: string): Promise<void> {
    const ms = this.latency.get(method) ?? this.latency.get('*') ?? 0;
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.pendingTimers.delete(t);
        resolve();
      }, ms);
      this.pendingTimers.add(t);
    });
  }

  private answerFault(method: string, args: Json, fault: SlackFault, res: ServerResponse, extra: Partial<SlackCall>): void {
    let status = 200;
    let body: unknown;
    let error: string;
    const headers: Record<string, string> = {};
    if ('error' in fault) {
      body = { ok: false, error: fault.error, ...fault.response };
      error = fault.error;
    } else if (fault.status === 429) {
      status = 429;
      headers['retry-after'] = String(fault.retryAfterSeconds ?? 1);
      body = { ok: false, error: 'ratelimited' };
      error = 'ratelimited';
    } else {
      status = fault.status;
      body = fault.body ?? STATUS_CODES[fault.status] ?? 'error';
      error = `http_${fault.status}`;
    }
    this.send(res, status, body, headers);
    this.record({ method, args, at: Date.now(), status, ok: false, error, response: body, injected: true, ...extra });
  }

  private record(call: SlackCall): void {
    this.calls.push(call);
    for (const w of [...this.waiters]) w();
  }

  // ----- response_url -----

  private async handleResponseUrl(id: string, raw: string, res: ServerResponse): Promise<void> {
    let args: Json = {};
    let parseFailed = false;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed)) args = parsed;
      else parseFailed = true;
    } catch {
      parseFailed = true;
    }
    const fault = this.takeFault(RESPONSE_URL_METHOD);
    await this.delay(RESPONSE_URL_METHOD);
    if (fault) {
      this.answerFault(RESPONSE_URL_METHOD, args, fault, res, { responseUrlId: id });
      return;
    }
    const reg = this.respondUrls.get(id);
    let status = 200;
    let body: ApiResult = { ok: true };
    if (!reg) [status, body] = [404, { ok: false, error: 'invalid_url' }];
    else if (Date.now() - reg.createdAt > this.limits.responseUrlTtlMs) [status, body] = [404, { ok: false, error: 'expired_url' }];
    else if (reg.uses >= this.limits.responseUrlMaxUses) [status, body] = [404, { ok: false, error: 'used_url' }];
    else if (parseFailed) [status, body] = [400, { ok: false, error: 'invalid_payload' }];
    else {
      reg.uses += 1;
      try {
        this.applyResponse(reg, args);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        status = err.code === 'channel_not_found' ? 404 : 400;
        body = { ok: false, error: err.code, ...(err.messages.length > 0 && { response_metadata: { messages: err.messages } }) };
      }
    }
    this.send(res, status, body);
    this.record({
      method: RESPONSE_URL_METHOD,
      args,
      at: Date.now(),
      status,
      ok: body.ok,
      ...(body.error !== undefined && { error: body.error }),
      response: body,
      responseUrlId: id,
    });
  }

  private applyResponse(reg: RespondUrlRecord, args: Json): void {
    const target = reg.messageTs;
    const truthy = (v: unknown): boolean => v === true || v === 'true';
    if (truthy(args.delete_original)) {
      if (target === undefined) return;
      const msg = this.findMessageAnywhere(target);
      if (msg) this.deleteRecord(msg);
      else {
        const i = this.ephemerals.findIndex((e) => e.ts === target);
        if (i >= 0) this.ephemerals.splice(i, 1);
      }
      return;
    }
    const content = validateMessage(args, this.limits, { requireContent: true });
    if (truthy(args.replace_original) && target !== undefined) {
      const msg = this.findMessageAnywhere(target);
      if (msg) {
        this.applyUpdate(msg, content, RESPONSE_URL_METHOD, { keepMissing: false });
        return;
      }
      const eph = this.ephemerals.find((e) => e.ts === target);
      if (eph) {
        Object.assign(eph, { text: content.text, blocks: content.blocks, attachments: content.attachments });
        if (!content.blocks) delete eph.blocks;
        if (!content.attachments) delete eph.attachments;
        eph.history.push({ ...clone(content), by: RESPONSE_URL_METHOD, at: Date.now() });
        return;
      }
    }
    if (args.response_type === 'in_channel') {
      if (reg.channel === undefined) throw new ApiError('channel_not_found');
      const ch = this.resolveChannel(reg.channel);
      const threadTs = str(args.thread_ts);
      this.storeMessage(ch.id, content, { via: RESPONSE_URL_METHOD, ...(threadTs !== undefined && { threadTs }) });
      return;
    }
    this.ephemerals.push({
      channel: reg.channel ?? '',
      user: reg.userId ?? '',
      ts: this.nextTs(),
      ...clone(content),
      postedVia: RESPONSE_URL_METHOD,
      history: [{ ...clone(content), by: RESPONSE_URL_METHOD, at: Date.now() }],
    });
  }

  // ----- state helpers -----

  private resolveChannel(channel: string): ChannelRecord {
    const direct = this.channels.get(channel);
    if (direct) return direct;
    if (/^[UW]/.test(channel) && this.users.has(channel)) {
      const dm = this.channels.get(dmChannelIdFor(channel));
      if (dm) return dm;
    }
    const name = channel.replace(/^#/, '');
    for (const c of this.channels.values()) if (c.name !== undefined && c.name === name) return c;
    throw new ApiError('channel_not_found');
  }

  private channelMessages(channel: string): Map<string, MessageRecord> {
    let m = this.messages.get(channel);
    if (!m) {
      m = new Map();
      this.messages.set(channel, m);
    }
    return m;
  }

  private storeMessage(channel: string, content: MessageContent, opts: { via: string; threadTs?: string; username?: string; metadata?: unknown }): MessageRecord {
    const ts = this.nextTs();
    const msgs = this.channelMessages(channel);
    const parent = opts.threadTs !== undefined ? msgs.get(opts.threadTs) : undefined;
    const rec: MessageRecord = {
      channel,
      ts,
      ...clone(content),
      deleted: false,
      history: [{ ...clone(content), by: opts.via, at: Date.now() }],
      postedVia: opts.via,
      ...(opts.threadTs !== undefined && { thread_ts: opts.threadTs }),
      ...(parent && !parent.deleted && { parentTs: parent.parentTs ?? parent.ts }),
      ...(opts.username !== undefined && { username: opts.username }),
      ...(opts.metadata !== undefined && { metadata: opts.metadata }),
    };
    msgs.set(ts, rec);
    return rec;
  }

  private applyUpdate(rec: MessageRecord, content: MessageContent & { textGiven?: boolean }, via: string, opts: { keepMissing: boolean }): void {
    if (!opts.keepMissing || content.textGiven !== false) rec.text = content.text;
    if (content.blocks !== undefined) rec.blocks = clone(content.blocks);
    else if (!opts.keepMissing) delete rec.blocks;
    if (content.attachments !== undefined) rec.attachments = clone(content.attachments);
    else if (!opts.keepMissing) delete rec.attachments;
    rec.edited = { user: this.botUserId, ts: this.nextTs() };
    rec.history.push({
      text: rec.text,
      ...(rec.blocks && { blocks: clone(rec.blocks) }),
      ...(rec.attachments && { attachments: clone(rec.attachments) }),
      by: via,
      at: Date.now(),
    });
  }

  private deleteRecord(rec: MessageRecord): void {
    rec.deleted = true;
  }

  private findMessageAnywhere(ts: string): MessageRecord | undefined {
    for (const msgs of this.messages.values()) {
      const m = msgs.get(ts);
      if (m && !m.deleted) return m;
    }
    return undefined;
  }

  private liveMessage(channel: string, ts: unknown): MessageRecord {
    const t = str(ts);
    if (t === undefined || t === '') throw new ApiError('message_not_found');
    const m = this.messages.get(channel)?.get(t);
    if (!m || m.deleted) throw new ApiError('message_not_found');
    return m;
  }

  private toMessage(rec: MessageRecord, withReplies: boolean): SlackMessage {
    const replies = withReplies
      ? [...this.channelMessages(rec.channel).values()].filter((r) => r.parentTs === rec.ts && !r.deleted).map((r) => this.toMessage(r, false))
      : [];
    return clone({ ...this.messageFields(rec), channel: rec.channel, replies, history: rec.history, postedVia: rec.postedVia });
  }

  /** The wire shape of a message in chat.* responses: cloned without the history, which only grows. */
  private wireMessage(rec: MessageRecord): Json {
    return clone(this.messageFields(rec)) as unknown as Json;
  }

  /** What Slack returns of a message (shared by toMessage and wireMessage; not a copy). */
  private messageFields(rec: MessageRecord) {
    return {
      type: 'message' as const,
      ts: rec.ts,
      text: rec.text,
      ...(rec.blocks && { blocks: rec.blocks }),
      ...(rec.attachments && { attachments: rec.attachments }),
      ...(rec.thread_ts !== undefined && { thread_ts: rec.thread_ts }),
      user: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      ...(rec.username !== undefined && { username: rec.username }),
      ...(rec.metadata !== undefined && { metadata: rec.metadata }),
      ...(rec.edited && { edited: rec.edited }),
    };
  }

  private assertCanPost(ch: ChannelRecord): void {
    if (ch.archived) throw new ApiError('is_archived');
    if (!ch.botIsMember) throw new ApiError('not_in_channel');
  }

  private exchangeTrigger(triggerId: unknown): TriggerRecord {
    const id = str(triggerId);
    if (id === undefined || id === '') throw new ApiError('invalid_arguments', ['[ERROR] missing required field: trigger_id']);
    const t = this.triggers.get(id);
    if (!t) throw new ApiError('invalid_trigger_id');
    if (t.usedAt !== undefined) throw new ApiError('exchanged_trigger_id');
    if (Date.now() - t.issuedAt > this.limits.triggerIdTtlMs) throw new ApiError('expired_trigger_id');
    t.usedAt = Date.now();
    return t;
  }

  private newId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}${this.idCounter.toString(36).toUpperCase().padStart(8, '0')}`;
  }

  private newHash(): string {
    return `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`;
  }

  private buildView(raw: Json, userId: string, via: string, existing?: SlackView): SlackView {
    const id = existing?.id ?? this.newId('V');
    const view: SlackView = {
      id,
      team_id: this.teamId,
      type: str(raw.type) ?? 'modal',
      user_id: userId,
      ...(isObject(raw.title) && { title: clone(raw.title) as unknown as SlackTextObject }),
      submit: isObject(raw.submit) ? (clone(raw.submit) as unknown as SlackTextObject) : null,
      close: isObject(raw.close) ? (clone(raw.close) as unknown as SlackTextObject) : null,
      blocks: clone(raw.blocks as SlackBlock[]),
      private_metadata: str(raw.private_metadata) ?? '',
      callback_id: str(raw.callback_id) ?? '',
      external_id: str(raw.external_id) ?? '',
      state: { values: {} },
      hash: this.newHash(),
      clear_on_close: raw.clear_on_close === true,
      notify_on_close: raw.notify_on_close === true,
      root_view_id: existing?.root_view_id ?? id,
      previous_view_id: existing?.previous_view_id ?? null,
      app_id: this.appId,
      app_installed_team_id: this.teamId,
      bot_id: this.botId,
      openedVia: existing?.openedVia ?? via,
      history: [...(existing?.history ?? []), { by: via, at: Date.now(), view: clone(raw) }],
    };
    if (view.external_id !== '') {
      for (const { view: other } of this.views.values()) {
        if (other.id !== id && other.external_id === view.external_id) throw new ApiError('duplicate_external_id');
      }
    }
    this.views.set(id, { view });
    return view;
  }

  private wireView(v: SlackView): Json {
    const { user_id: _u, openedVia: _o, history: _h, ...rest } = clone(v);
    return rest;
  }

  // ----- Web API methods -----

  private readonly handlers: Record<string, (args: Json) => Json> = {
    'api.test': (args) => ({ args }),

    'auth.test': () => ({
      url: `https://${this.teamDomain}.slack.com/`,
      team: SLACK_DOUBLE_DEFAULTS.teamName,
      user: this.botName,
      team_id: this.teamId,
      user_id: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      ...(this.enterpriseId !== undefined && { enterprise_id: this.enterpriseId }),
      is_enterprise_install: this.enterpriseInstall,
    }),

    'chat.postMessage': (args) => {
      const ch = this.resolveChannel(str(args.channel) ?? '');
      this.assertCanPost(ch);
      const content = validateMessage(args, this.limits, { requireContent: true });
      const threadTs = str(args.thread_ts);
      const username = str(args.username);
      const rec = this.storeMessage(ch.id, content, {
        via: 'chat.postMessage',
        ...(threadTs !== undefined && threadTs !== '' && { threadTs }),
        ...(username !== undefined && { username }),
        ...(args.metadata !== undefined && { metadata: args.metadata }),
      });
      return { channel: ch.id, ts: rec.ts, message: this.wireMessage(rec) };
    },

    'chat.update': (args) => {
      const ch = this.resolveChannel(str(args.channel) ?? '');
      const rec = this.liveMessage(ch.id, args.ts);
      const content = validateMessage(args, this.limits, { requireContent: true });
      this.applyUpdate(rec, { ...content, textGiven: args.text !== undefined }, 'chat.update', { keepMissing: true });
      return { channel: ch.id, ts: rec.ts, text: rec.text, message: this.wireMessage(rec) };
    },

    'chat.delete': (args) => {
      const ch = this.resolveChannel(str(args.channel) ?? '');
      const rec = this.liveMessage(ch.id, args.ts);
      this.deleteRecord(rec);
      return { channel: ch.id, ts: rec.ts };
    },

    'chat.postEphemeral': (args) => {
      const ch = this.resolveChannel(str(args.channel) ?? '');
      const user = str(args.user);
      if (user === undefined || user === '') throw new ApiError('invalid_arguments', ['[ERROR] missing required field: user']);
      this.assertCanPost(ch);
      const inChannel = this.users.has(user) && (ch.members === undefined || ch.members.has(user)) && (ch.kind !== 'im' || ch.userId === user);
      if (!inChannel) throw new ApiError('user_not_in_channel');
      const content = validateMessage(args, this.limits, { requireContent: true });
      const ts = this.nextTs();
      const threadTs = str(args.thread_ts);
      this.ephemerals.push({
        channel: ch.id,
        user,
        ts,
        ...clone(content),
        ...(threadTs !== undefined && threadTs !== '' && { thread_ts: threadTs }),
        postedVia: 'chat.postEphemeral',
        history: [{ ...clone(content), by: 'chat.postEphemeral', at: Date.now() }],
      });
      return { message_ts: ts };
    },

    'conversations.open': (args) => {
      const users = (str(args.users) ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== '');
      const channel = str(args.channel);
      if (users.length === 0) {
        if (channel === undefined) throw new ApiError('users_list_not_supplied');
        const ch = this.resolveChannel(channel);
        return { channel: { id: ch.id } };
      }
      for (const u of users) if (!this.users.has(u)) throw new ApiError('user_not_found');
      if (users.length === 1) {
        const id = dmChannelIdFor(users[0]!);
        return { channel: { id, is_im: true, user: users[0] }, no_op: true, already_open: true };
      }
      const id = `G${[...users].sort().join('').replace(/[^A-Z0-9]/g, '').slice(0, 16)}`;
      if (!this.channels.has(id)) {
        this.channels.set(id, { id, kind: 'mpim', members: new Set(users), botIsMember: true, archived: false });
      }
      return { channel: { id, is_mpim: true } };
    },

    'views.open': (args) => {
      const raw = validateView(args.view, this.limits);
      if (raw.type !== 'modal') throw new ApiError('invalid_arguments', ['[ERROR] views.open only opens modals [json-pointer:/view/type]']);
      const trigger = this.exchangeTrigger(args.trigger_id ?? args.interactivity_pointer);
      const user = trigger.userId ?? '';
      const view = this.buildView(raw, user, 'views.open');
      this.modalStacks.set(user, [view.id]);
      return { view: this.wireView(view) };
    },

    'views.push': (args) => {
      const raw = validateView(args.view, this.limits);
      const trigger = this.exchangeTrigger(args.trigger_id ?? args.interactivity_pointer);
      const user = trigger.userId ?? '';
      const stack = this.modalStacks.get(user) ?? [];
      if (stack.length >= this.limits.viewStackDepth) throw new ApiError('push_limit_reached');
      const top = stack.at(-1);
      const view = this.buildView(raw, user, 'views.push');
      if (top !== undefined) {
        view.root_view_id = stack[0]!;
        view.previous_view_id = top;
      }
      this.modalStacks.set(user, [...stack, view.id]);
      return { view: this.wireView(view) };
    },

    'views.update': (args) => {
      const raw = validateView(args.view, this.limits);
      const viewId = str(args.view_id);
      const externalId = str(args.external_id);
      if (!viewId && !externalId) throw new ApiError('invalid_arguments', ['[ERROR] either view_id or external_id is required']);
      const existing = [...this.views.values()].map((r) => r.view).find((v) => (viewId ? v.id === viewId : v.external_id === externalId));
      if (!existing) throw new ApiError('not_found');
      const hash = str(args.hash);
      if (hash !== undefined && hash !== '' && hash !== existing.hash) throw new ApiError('hash_conflict');
      const view = this.buildView(raw, existing.user_id, 'views.update', existing);
      return { view: this.wireView(view) };
    },

    'views.publish': (args) => {
      const raw = validateView(args.view, this.limits);
      const userId = str(args.user_id) ?? '';
      if (!this.users.has(userId)) throw new ApiError('invalid_arguments', ['invalid `user_id`']);
      if (raw.type !== 'home') throw new ApiError('invalid_arguments', ['[ERROR] views.publish only publishes home views [json-pointer:/view/type]']);
      const existingId = this.homes.get(userId);
      const existing = existingId !== undefined ? this.views.get(existingId)?.view : undefined;
      const hash = str(args.hash);
      if (existing && hash !== undefined && hash !== '' && hash !== existing.hash) throw new ApiError('hash_conflict');
      const view = this.buildView(raw, userId, 'views.publish', existing);
      this.homes.set(userId, view.id);
      return { view: this.wireView(view) };
    },

    'users.info': (args) => {
      const id = str(args.user);
      if (!id) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: user']);
      const user = this.users.get(id);
      if (!user) throw new ApiError('user_not_found');
      return { user: clone(user) };
    },

    'users.lookupByEmail': (args) => {
      const email = str(args.email)?.toLowerCase();
      if (!email) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: email']);
      const user = [...this.users.values()].find((u) => u.profile.email?.toLowerCase() === email && !u.deleted);
      if (!user) throw new ApiError('users_not_found');
      return { user: clone(user) };
    },

    'usergroups.users.list': (args) => {
      const id = str(args.usergroup);
      if (!id) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: usergroup']);
      const group = this.usergroups.get(id);
      if (!group) throw new ApiError('no_such_subteam');
      return { users: [...group.users] };
    },
  };

  // ----- public API -----

  callsTo(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  messagesIn(channel: string): SlackMessage[] {
    let id: string;
    try {
      id = this.resolveChannel(channel).id;
    } catch {
      id = channel;
    }
    return [...(this.messages.get(id)?.values() ?? [])]
      .filter((m) => !m.deleted && m.parentTs === undefined)
      .map((m) => this.toMessage(m, true));
  }

  messageAt(channel: string, ts: string): SlackMessage | undefined {
    let id: string;
    try {
      id = this.resolveChannel(channel).id;
    } catch {
      id = channel;
    }
    const m = this.messages.get(id)?.get(ts);
    return m && !m.deleted ? this.toMessage(m, m.parentTs === undefined) : undefined;
  }

  dmOf(userId: string): SlackMessage[] {
    return this.messagesIn(dmChannelIdFor(userId));
  }

  ephemeralsFor(userId: string): SlackEphemeral[] {
    return this.ephemerals.filter((e) => e.user === userId).map(clone);
  }

  viewsOpenedBy(userId: string): SlackView[] {
    return [...this.views.values()]
      .map((r) => r.view)
      .filter((v) => v.user_id === userId && v.type === 'modal')
      .map(clone);
  }

  currentModalOf(userId: string): SlackView | undefined {
    const top = this.modalStacks.get(userId)?.at(-1);
    const v = top !== undefined ? this.views.get(top)?.view : undefined;
    return v ? clone(v) : undefined;
  }

  homeOf(userId: string): SlackView | undefined {
    const id = this.homes.get(userId);
    const v = id !== undefined ? this.views.get(id)?.view : undefined;
    return v ? clone(v) : undefined;
  }

  viewById(viewId: string): SlackView | undefined {
    const v = this.views.get(viewId)?.view;
    return v ? clone(v) : undefined;
  }

  closeModals(userId: string): void {
    this.modalStacks.delete(userId);
  }

  waitFor(predicate: (call: SlackCall) => boolean, opts: WaitOptions = {}): Promise<SlackCall> {
    const from = opts.fromIndex ?? 0;
    let scanned = from;
    return this.waitUntil(
      () => {
        for (; scanned < this.calls.length; scanned++) {
          const c = this.calls[scanned]!;
          if (predicate(c)) return c;
        }
        return undefined;
      },
      { ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }), description: 'a matching Slack call' },
    );
  }

  waitForCall(method: string, predicate: (call: SlackCall) => boolean = () => true, opts: WaitOptions = {}): Promise<SlackCall> {
    return this.waitFor((c) => c.method === method && predicate(c), opts).catch((err: unknown) => {
      throw new Error(String(err instanceof Error ? err.message : err).replace('a matching Slack call', `a matching ${method} call`));
    });
  }

  waitUntil<T>(probe: () => T | undefined | null | false, opts: { timeoutMs?: number; description?: string } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return waitOnEvents(this.waiters, probe, timeoutMs, () => {
      const recent = this.calls
        .slice(-10)
        .map((c) => `  ${c.method} → ${c.status} ${c.ok ? 'ok' : c.error ?? 'error'}`)
        .join('\n');
      return new Error(`slack double: timed out after ${timeoutMs} ms waiting for ${opts.description ?? 'condition'}; last calls:\n${recent || '  (none)'}`);
    });
  }

  failNext(method: string, fault: SlackFault, opts: { times?: number } = {}): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < (opts.times ?? 1); i++) queue.push(fault);
    this.faults.set(method, queue);
  }

  setLatency(method: string, ms: number): void {
    if (ms > 0) this.latency.set(method, ms);
    else this.latency.delete(method);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  addUser(input: AddUserInput): SlackUser {
    const realName = input.real_name ?? input.name;
    const displayName = input.display_name ?? input.name;
    const user: SlackUser = {
      id: input.id,
      team_id: this.teamId,
      name: input.name,
      real_name: realName,
      deleted: input.deleted ?? false,
      is_bot: input.is_bot ?? false,
      is_admin: input.is_admin ?? false,
      tz: input.tz ?? 'Etc/UTC',
      profile: {
        ...(input.email !== undefined && { email: input.email }),
        real_name: realName,
        real_name_normalized: realName,
        display_name: displayName,
        display_name_normalized: displayName,
      },
    };
    this.users.set(user.id, user);
    const dm = dmChannelIdFor(user.id);
    if (!user.is_bot) this.channels.set(dm, { id: dm, kind: 'im', userId: user.id, members: new Set([user.id]), botIsMember: true, archived: false });
    return clone(user);
  }

  addUsergroup(id: string, userIds: string[], opts: { handle?: string; name?: string } = {}): void {
    this.usergroups.set(id, { users: [...userIds], ...opts });
  }

  addChannel(id: string, opts: AddChannelOptions = {}): void {
    this.channels.set(id, {
      id,
      kind: 'channel',
      ...(opts.name !== undefined && { name: opts.name.replace(/^#/, '') }),
      ...(opts.members && { members: new Set(opts.members) }),
      botIsMember: opts.botIsMember ?? true,
      archived: opts.archived ?? false,
    });
  }

  issueTriggerId(opts: { userId?: string; ageMs?: number } = {}): string {
    const id = `${Math.floor(Date.now() / 1000)}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
    this.registerTriggerId(id, opts);
    return id;
  }

  registerTriggerId(triggerId: string, opts: { userId?: string; ageMs?: number } = {}): void {
    this.triggers.set(triggerId, {
      id: triggerId,
      issuedAt: Date.now() - (opts.ageMs ?? 0),
      ...(opts.userId !== undefined && { userId: opts.userId }),
    });
  }

  respondUrl(id?: string, ctx: RespondUrlContext = {}): string {
    const key = id ?? this.newId('R');
    const existing = this.respondUrls.get(key);
    if (existing) Object.assign(existing, ctx);
    else this.respondUrls.set(key, { id: key, createdAt: Date.now(), uses: 0, ...ctx });
    return `${this.baseUrl}/respond/${encodeURIComponent(key)}`;
  }

  interaction(userId: string, ctx: { channelId?: string; messageTs?: string } = {}): { triggerId: string; responseUrl: string } {
    return {
      triggerId: this.issueTriggerId({ userId }),
      responseUrl: this.respondUrl(undefined, {
        userId,
        channel: ctx.channelId ?? SLACK_DOUBLE_DEFAULTS.channelId,
        ...(ctx.messageTs !== undefined && { messageTs: ctx.messageTs }),
      }),
    };
  }

  dmChannelId(userId: string): string {
    return dmChannelIdFor(userId);
  }

  renderText(message: Renderable): string {
    return renderText(message, {
      userName: (id) => {
        const u = this.users.get(id);
        return u ? u.profile.display_name || u.name : undefined;
      },
    });
  }

  addMethod(method: string, fn: SlackMethodHandler): void {
    this.addedMethods.set(method, fn);
  }

  reset(): void {
    this.calls.length = 0;
    this.messages.clear();
    this.ephemerals.length = 0;
    this.views.clear();
    this.modalStacks.clear();
    this.homes.clear();
    this.triggers.clear();
    this.respondUrls.clear();
    this.faults.clear();
    this.latency.clear();
  }
}

/** Start a Slack Web API double on 127.0.0.1 (ephemeral port by default). Call `stop()` when done. */
export async function startSlackDouble(opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
  const double = new SlackDoubleImpl(opts);
  await double.listen(opts.port ?? 0);
  return double;
}
