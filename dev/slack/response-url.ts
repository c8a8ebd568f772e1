/**
 * response_url: `respondUrl(id, ctx)` registers `<baseUrl>/respond/<id>`; what is POSTed there (what Bolt's `respond()`
 * sends) is recorded as {@link RESPONSE_URL_METHOD}. `delete_original` deletes `ctx.messageTs`, `replace_original`
 * rewrites it (channel message or ephemeral), otherwise `response_type: 'in_channel'` posts to `ctx.channel` and the
 * default (`ephemeral`) posts an ephemeral to `ctx.userId`. At most `limits.responseUrlMaxUses` uses within
 * `limits.responseUrlTtlMs`; beyond that HTTP 404 `used_url` / `expired_url`; an unknown id is 404 `invalid_url`, an
 * invalid message 400 `{ ok: false, error }`.
 */
import { RESPONSE_URL_METHOD } from './constants.js';
import type { RespondUrlRecord, SlackState } from './state.js';
import { ApiError, clone, str, validateMessage, type ApiResult, type Json } from './validate.js';

/** The answer to one POST to response_url `id` (`args` = its JSON body; `parseFailed` when it was not a JSON object). */
export function answerResponseUrl(
  s: SlackState,
  id: string,
  args: Json,
  parseFailed: boolean,
): { status: number; body: ApiResult } {
  const reg = s.respondUrls.get(id);
  let status = 200;
  let body: ApiResult = { ok: true };
  if (!reg) [status, body] = [404, { ok: false, error: 'invalid_url' }];
  else if (Date.now() - reg.createdAt > s.limits.responseUrlTtlMs)
    [status, body] = [404, { ok: false, error: 'expired_url' }];
  else if (reg.uses >= s.limits.responseUrlMaxUses) [status, body] = [404, { ok: false, error: 'used_url' }];
  else if (parseFailed) [status, body] = [400, { ok: false, error: 'invalid_payload' }];
  else {
    reg.uses += 1;
    try {
      applyResponse(s, reg, args);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.code === 'channel_not_found' ? 404 : 400;
      body = {
        ok: false,
        error: err.code,
        ...(err.messages.length > 0 && { response_metadata: { messages: err.messages } }),
      };
    }
  }
  return { status, body };
}

function applyResponse(s: SlackState, reg: RespondUrlRecord, args: Json): void {
  const target = reg.messageTs;
  const truthy = (v: unknown): boolean => v === true || v === 'true';
  if (truthy(args.delete_original)) {
    if (target === undefined) return;
    const msg = s.findMessageAnywhere(target);
    if (msg) s.deleteRecord(msg);
    else {
      const i = s.ephemerals.findIndex((e) => e.ts === target);
      if (i >= 0) s.ephemerals.splice(i, 1);
    }
    return;
  }
  const content = validateMessage(args, s.limits, { requireContent: true });
  if (truthy(args.replace_original) && target !== undefined) {
    const msg = s.findMessageAnywhere(target);
    if (msg) {
      s.applyUpdate(msg, content, RESPONSE_URL_METHOD, { keepMissing: false });
      return;
    }
    const eph = s.ephemerals.find((e) => e.ts === target);
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
    const ch = s.resolveChannel(reg.channel);
    const threadTs = str(args.thread_ts);
    s.storeMessage(ch.id, content, { via: RESPONSE_URL_METHOD, ...(threadTs !== undefined && { threadTs }) });
    return;
  }
  s.ephemerals.push({
    channel: reg.channel ?? '',
    user: reg.userId ?? '',
    ts: s.nextTs(),
    ...clone(content),
    postedVia: RESPONSE_URL_METHOD,
    history: [{ ...clone(content), by: RESPONSE_URL_METHOD, at: Date.now() }],
  });
}
