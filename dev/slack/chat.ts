/**
 * `chat.postMessage` (to a channel id/name, a user id = that user's DM, or an IM id; `thread_ts` makes a reply),
 * `chat.update` (omitted `blocks`/`attachments` are kept, `[]` clears), `chat.postEphemeral` (→ `message_ts`) and
 * `chat.delete`.
 */
import type { SlackMethods, SlackState } from './state.js';
import { ApiError, clone, str, validateMessage } from './validate.js';

export function chatMethods(s: SlackState): SlackMethods {
  return {
    'chat.postMessage': (args) => {
      const ch = s.resolveChannel(str(args.channel) ?? '');
      s.assertCanPost(ch);
      const content = validateMessage(args, s.limits, { requireContent: true });
      const threadTs = str(args.thread_ts);
      const username = str(args.username);
      const rec = s.storeMessage(ch.id, content, {
        via: 'chat.postMessage',
        ...(threadTs !== undefined && threadTs !== '' && { threadTs }),
        ...(username !== undefined && { username }),
        ...(args.metadata !== undefined && { metadata: args.metadata }),
      });
      return { channel: ch.id, ts: rec.ts, message: s.wireMessage(rec) };
    },

    'chat.update': (args) => {
      const ch = s.resolveChannel(str(args.channel) ?? '');
      const rec = s.liveMessage(ch.id, args.ts);
      const content = validateMessage(args, s.limits, { requireContent: true });
      s.applyUpdate(rec, { ...content, textGiven: args.text !== undefined }, 'chat.update', { keepMissing: true });
      return { channel: ch.id, ts: rec.ts, text: rec.text, message: s.wireMessage(rec) };
    },

    'chat.delete': (args) => {
      const ch = s.resolveChannel(str(args.channel) ?? '');
      const rec = s.liveMessage(ch.id, args.ts);
      s.deleteRecord(rec);
      return { channel: ch.id, ts: rec.ts };
    },

    'chat.postEphemeral': (args) => {
      const ch = s.resolveChannel(str(args.channel) ?? '');
      const user = str(args.user);
      if (user === undefined || user === '')
        throw new ApiError('invalid_arguments', ['[ERROR] missing required field: user']);
      s.assertCanPost(ch);
      const inChannel =
        s.users.has(user) &&
        (ch.members === undefined || ch.members.has(user)) &&
        (ch.kind !== 'im' || ch.userId === user);
      if (!inChannel) throw new ApiError('user_not_in_channel');
      const content = validateMessage(args, s.limits, { requireContent: true });
      const ts = s.nextTs();
      const threadTs = str(args.thread_ts);
      s.ephemerals.push({
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
  };
}
