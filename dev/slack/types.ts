/** Public types of the Slack double: what it records, stores and answers, and the {@link SlackDouble} interface. */
import type { SlackLimits } from './constants.js';

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
  /** The user's home team when it is not the workspace's: an external (Slack Connect) user, as users.info shows them. */
  team_id?: string;
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
  { status: number; retryAfterSeconds?: number; body?: string } | { error: string; response?: Record<string, unknown> };

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
  waitUntil<T>(
    probe: () => T | undefined | null | false,
    opts?: { timeoutMs?: number; description?: string },
  ): Promise<T>;

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
  /** A trigger id and a response_url for one user interaction, ready to spread into the sign.ts builders. */
  interaction(
    userId: string,
    ctx?: { channelId?: string; messageTs?: string },
  ): { triggerId: string; responseUrl: string };
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
