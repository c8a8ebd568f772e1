/**
 * Slack mrkdwn helpers. Every piece of text that did not come from this code (reasons, tickets, names, error
 * messages, catalog descriptions) goes through `escapeMrkdwn` or `code` before it reaches a mrkdwn field.
 */
import { cleanText } from '../../core/text.js';
import type { Phase } from '../../core/view.js';
import { capitalize, mentionList as sharedMentionList, type Markup, type Person } from '../markup.js';

export { capitalize, type Person };

/**
 * Slack's control characters are `&`, `<` and `>`; escaping exactly these three (and nothing else, which would show
 * up as literal entities) is what https://docs.slack.dev/messaging/formatting-message-text#escaping asks. With `<`
 * escaped, `<!channel>`, `<@U…>` and `<https://evil|click>` render as the literal text the person typed. The text
 * is cleaned first (core/text.ts): bidi, invisible and control characters never reach a message, whatever their
 * source (names from on-call schedules, rows stored before text was cleaned on the way in).
 */
export function escapeMrkdwn(text: string): string {
  return cleanText(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** `<@U…>` for a Slack user id (Slack shows their current name, and it notifies them); else the escaped name. */
export function mention(person: Person): string {
  if (person.platform === 'slack' && SLACK_USER_ID.test(person.id)) return `<@${person.id}>`;
  return plainName(person);
}

/** A name that never notifies anyone: for notification `text`, where a mention would ping. Escaped. */
export function plainName(person: Person): string {
  return escapeMrkdwn(person.name ?? person.email ?? person.id);
}

/** "<@A>, <@B> and 3 more" within `budget` characters (see markup.ts). */
export function mentionList(people: readonly Person[], budget: number, name: (p: Person) => string = mention): string {
  return sharedMentionList(people, budget, name);
}

/** Date tokens Slack localises: https://docs.slack.dev/messaging/formatting-message-text#date-formatting */
export type DateFormat = '{time}' | '{date_short_pretty} at {time}' | '{date_num} {time}';

/**
 * `<!date^unix^{time}|14:05 UTC>`: each reader sees their own time zone; clients that cannot localise show the UTC
 * fallback. Seconds are floored (the display has minutes; the expiry itself is never early, see core).
 */
export function slackDate(ms: number, format: DateFormat = '{date_short_pretty} at {time}'): string {
  const iso = new Date(ms).toISOString();
  const hm = iso.slice(11, 16);
  const fallback = format === '{time}' ? `${hm} UTC` : `${iso.slice(0, 10)} ${hm} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^${format}|${fallback}>`;
}

/** Inline code that cannot be broken out of: backticks are removed, newlines flattened, the rest escaped. */
export function code(text: string): string {
  const inner = escapeMrkdwn(
    text
      .replace(/`/g, '')
      .replace(/\s*[\r\n]+\s*/g, ' ')
      .trim(),
  );
  return inner ? `\`${inner}\`` : '—';
}

/** A code block (```…```) for commands and URLs: backticks removed, escaped. */
export function codeBlock(text: string): string {
  return '```' + escapeMrkdwn(text.replace(/`/g, '')) + '```';
}

const ICONS: Record<Phase, string> = {
  pending: ':hourglass_flowing_sand:',
  provisioning: ':gear:',
  active: ':large_green_circle:',
  revoking: ':hourglass:',
  ended: ':lock:',
  denied: ':no_entry:',
  expired: ':zzz:',
  cancelled: ':heavy_multiplication_x:',
  failed: ':x:',
};

export const slackMarkup: Markup = {
  escape: escapeMrkdwn,
  bold: (s) => `*${s}*`,
  code,
  mention,
  plainName,
  date: (ms) => slackDate(ms),
  icon: (phase) => ICONS[phase],
};
