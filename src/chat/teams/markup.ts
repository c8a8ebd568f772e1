/**
 * Text for Adaptive Cards on Teams, in a markdown dialect the card kit (cards/kit.ts `text`) turns into elements:
 * user text has every markdown mark backslash-escaped and any `<at` broken, our own text adds `**bold**`,
 * `` `code` `` (values to copy exactly) and links. The kit renders a line as RichTextBlock TextRuns holding the exact
 * characters (no client reinterprets those); only a line with a mention stays a markdown TextBlock, where the escapes
 * keep user text from formatting. `<at>…</at>` becomes a mention when the card carries a matching entity, so a
 * card's mentions are collected while it is built (one TeamsText per card).
 */
import { cleanText } from '../../core/text.js';
import type { Phase } from '../../core/view.js';
import type { Markup, Person } from '../markup.js';

export interface MentionEntity {
  type: 'mention';
  text: string;
  mentioned: { id: string; name: string };
}

const MARKS = /[\\*_[\]()#`~>|!]/g;

/**
 * Cleans the text (core/text.ts: no bidi, invisible or control characters, whatever their source), backslash-escapes
 * markdown marks, and gives `<at` / `</at` a zero-width space so no text can become a mention.
 */
export function escapeCard(text: string): string {
  return cleanText(text)
    .replace(MARKS, (c) => `\\${c}`)
    .replace(/<(\/?)(at)/gi, '<\u200b$1$2');
}

/** Newlines flattened, for one-line values (reasons in facts, names). */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

const ICONS: Record<Phase, string> = {
  pending: '⏳',
  provisioning: '⚙️',
  active: '🟢',
  revoking: '⌛',
  ended: '🔒',
  denied: '⛔',
  expired: '💤',
  cancelled: '✖️',
  failed: '❌',
};

/** `{{DATE(…, SHORT)}} {{TIME(…)}}`: Teams shows each reader their own time zone. Seconds dropped. */
export function cardDate(ms: number): string {
  const iso = `${new Date(ms).toISOString().slice(0, 19)}Z`;
  return `{{DATE(${iso}, SHORT)}} {{TIME(${iso})}}`;
}

const AAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;

/** Who a mention points at: a Teams user's AAD object id, else an email (Teams resolves a UPN). */
function mentionId(p: Person): string | undefined {
  if (p.platform === 'teams' && AAD_ID.test(p.id)) return p.id;
  if (p.email && EMAIL.test(p.email)) return p.email;
  if (p.platform === 'email' && EMAIL.test(p.id)) return p.id;
  return undefined;
}

/** The markup for one card, remembering the mention entities the card must carry. */
export class TeamsText implements Markup {
  private readonly mentions = new Map<string, MentionEntity>();

  escape = escapeCard;
  bold = (s: string) => (s ? `**${s}**` : s);
  /** Monospace in a TextRun; in a mention's TextBlock the backticks are dropped (Teams shows no inline code there). */
  code = (s: string) => `\`${escapeCard(oneLine(s)) || '—'}\``;
  date = cardDate;
  icon = (phase: Phase) => ICONS[phase];

  plainName = (p: Person): string => escapeCard(oneLine(p.name ?? p.email ?? p.id));

  mention = (p: Person): string => {
    const id = mentionId(p);
    if (!id) return this.plainName(p);
    // The entity's text must equal what the card shows; a name without marks keeps both simple.
    const name = oneLine(cleanText(p.name ?? p.email ?? id)).replace(/[<>*_[\]\\]/g, '') || id;
    const text = `<at>${name}</at>`;
    this.mentions.set(text, { type: 'mention', text, mentioned: { id, name } });
    return text;
  };

  entities(): MentionEntity[] {
    return [...this.mentions.values()];
  }
}

/** For plain-text surfaces (the toast an Action.Execute answer shows the clicker): nothing is markup there, but text
 *  is still cleaned of bidi, invisible and control characters. */
export const plainMarkup = {
  escape: cleanText,
  bold: (s: string) => s,
  code: (s: string) => oneLine(cleanText(s)) || '—',
  mention: (p: Person) => oneLine(cleanText(p.name ?? p.email ?? p.id)),
  plainName: (p: Person) => oneLine(cleanText(p.name ?? p.email ?? p.id)),
  date: (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  icon: () => '',
} satisfies Markup;
