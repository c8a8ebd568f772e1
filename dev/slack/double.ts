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
 * `attachSocketMode` in socket-mode.ts). Such a method authenticates on its own: `fn` gets the parsed args and
 * the bearer token (a missing token is still `not_authed`), and returns the answer's fields (`ok: true` is added; return
 * `{ ok: false, error }` to fail). Faults, latency and call recording apply as to any method; registrations survive
 * `reset()`. Nothing changes for a double on which `addMethod` is never called.
 *
 * ## Layout
 * This module is the entry tests import; the double is split by API family: constants.ts (limits, workspace identity),
 * types.ts (public types), validate.ts (argument helpers, limits → errors), render.ts (plain-text rendering, buttons),
 * state.ts (directory, messages, views and the queries above), server.ts (HTTP, faults, latency, recording, waits),
 * and the methods: auth.ts, chat.ts, views.ts, directory.ts (users, usergroups, conversations), response-url.ts.
 * Request signing and payload builders: sign.ts; Socket Mode: socket-mode.ts.
 *
 * ## Not modelled
 * Real rate limiting (use `failNext`), `reply_broadcast`, scheduled messages, files, reactions, pagination, scopes,
 * Enterprise Grid. `thread_ts` pointing at an unknown message posts a top-level message that keeps `thread_ts` [U].
 */
export * from './constants.js';
export * from './types.js';
export { buttonsIn, renderText, type FoundButton } from './render.js';
export { startSlackDouble } from './server.js';
