/**
 * Adaptive Card 1.5 building blocks (pure). Buttons that change state are Universal Actions (`Action.Execute`,
 * answered with the updated card); the one that shows credentials opens a dialog (`task/fetch`), so the password
 * is never posted into the conversation.
 */
import type { MentionEntity } from '../markup.js';

export type Element = Record<string, unknown>;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: Element[];
  actions?: Element[];
  msteams: { width: 'Full'; entities?: MentionEntity[] };
}

/** Teams refuses activities above ~28 KB; cards stay well below by truncating free text. */
export const TEXT_MAX = 2_000;

export function truncate(text: string, max = TEXT_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A card. Only the mention entities whose text the body shows are kept: a list of names cut to its budget
 * (mentionList) has made entities for people it did not show, and each costs size against Teams' limit.
 */
export function card(body: Element[], actions: Element[] = [], mentions: MentionEntity[] = []): AdaptiveCard {
  const shown = JSON.stringify(body);
  const entities = mentions.filter((e) => shown.includes(JSON.stringify(e.text).slice(1, -1)));
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    body,
    ...(actions.length && { actions }),
    msteams: { width: 'Full', ...(entities.length && { entities }) },
  };
}

type TextOptions = {
  weight?: 'Bolder';
  size?: 'Medium' | 'Large';
  isSubtle?: boolean;
  color?: 'Attention' | 'Good' | 'Warning';
};

/** One stretch of text in one style. */
export interface Run {
  text: string;
  bold: boolean;
  /** Something to copy exactly (a user, a host, a command): monospace. */
  code: boolean;
  url?: string;
}

/** The marks escapeCard (markup.ts) backslash-escapes: after a backslash each is a literal character. */
const ESCAPED = /[\\*_[\]()#`~>|!]/;

/**
 * Reads the card text dialect markup.ts writes: user text with every markdown mark backslash-escaped, our own `**bold**`,
 * `` `code` `` (TeamsText.code) and `[text](url)` around it. Returns the runs (escapes undone: the exact characters),
 * and the same text as TextBlock markdown (code marks dropped, escapes kept).
 */
export function parseMarkup(value: string): { runs: Run[]; markdown: string } {
  const runs: Run[] = [];
  let markdown = '';
  let buf = '';
  let bold = false;
  let code = false;
  let linkFrom: number | undefined;
  const flush = () => {
    if (!buf) return;
    const last = runs.at(-1);
    // Merged into the run before unless that one is outside a link this text is in.
    if (
      last &&
      last.bold === bold &&
      last.code === code &&
      last.url === undefined &&
      (linkFrom === undefined || runs.length > linkFrom)
    )
      last.text += buf;
    else runs.push({ text: buf, bold, code });
    buf = '';
  };
  for (let i = 0; i < value.length;) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length && ESCAPED.test(value[i + 1]!)) {
      buf += value[i + 1];
      markdown += value.slice(i, i + 2);
      i += 2;
    } else if (value.startsWith('**', i)) {
      flush();
      bold = !bold;
      markdown += '**';
      i += 2;
    } else if (c === '`') {
      flush();
      code = !code;
      i += 1;
    } else if (c === '[') {
      flush();
      linkFrom = runs.length;
      markdown += c;
      i += 1;
    } else if (c === ']' && linkFrom !== undefined && value[i + 1] === '(' && value.indexOf(')', i) > i) {
      const close = value.indexOf(')', i);
      const url = value.slice(i + 2, close);
      flush();
      for (const r of runs.slice(linkFrom)) r.url = url;
      linkFrom = undefined;
      markdown += value.slice(i, close + 1);
      i = close + 1;
    } else {
      buf += c;
      markdown += c;
      i += 1;
    }
  }
  flush();
  return { runs, markdown };
}

/** `<at>…</at>`: a mention, which Teams resolves only in a TextBlock (or a FactSet), never in a TextRun. */
const MENTION = /<at>/i;

/**
 * A line of card text (markup.ts's dialect). Rendered as a RichTextBlock of TextRuns, which every client shows
 * character for character (markdown backslash escapes are shown literally on some clients: microsoft/AdaptiveCards
 * #5590), so user text and values to copy are exact. Only a line carrying a mention stays a markdown TextBlock,
 * because a mention works nowhere else.
 */
export function text(value: string, opts: TextOptions = {}): Element {
  const { runs, markdown } = parseMarkup(value);
  if (MENTION.test(markdown)) return { type: 'TextBlock', text: truncate(markdown), wrap: true, ...opts };
  const inlines: Element[] = [];
  let left = TEXT_MAX;
  for (const r of runs) {
    if (left <= 0) break;
    const cut = r.text.length > left ? `${r.text.slice(0, left - 1)}…` : r.text;
    left -= cut.length;
    inlines.push({
      type: 'TextRun',
      text: cut,
      ...((r.bold || opts.weight) && { weight: 'Bolder' }),
      ...(r.code && { fontType: 'Monospace' }),
      ...(opts.size && { size: opts.size }),
      ...(opts.isSubtle && { isSubtle: true }),
      ...(opts.color && { color: opts.color }),
      ...(r.url !== undefined && { selectAction: { type: 'Action.OpenUrl', url: r.url } }),
    });
  }
  return { type: 'RichTextBlock', inlines };
}

export function heading(value: string): Element {
  return text(value, { weight: 'Bolder', size: 'Medium' });
}

/** "Title: value" lines, the title bold; titles are ours, values already in markup.ts's dialect. */
export function facts(pairs: ReadonlyArray<readonly [string, string]>): Element[] {
  return pairs.map(([title, value], i) => ({ ...text(`**${title}:** ${value}`), ...(i > 0 && { spacing: 'None' }) }));
}

/**
 * A Universal Action. Its `fallback` is an Action.Submit with the same data, for clients without Universal Actions:
 * the click then arrives as a message whose `value` is that data, and the bot runs the same verb (bot.ts).
 */
export function execute(
  title: string,
  verb: string,
  data: Record<string, unknown>,
  style?: 'positive' | 'destructive',
): Element {
  const payload = { verb, ...data };
  return {
    type: 'Action.Execute',
    title,
    verb,
    data: payload,
    ...(style && { style }),
    fallback: { type: 'Action.Submit', title, data: payload, ...(style && { style }) },
  };
}

/** A button that opens a dialog (task module) through `task/fetch`. */
export function openDialog(title: string, data: Record<string, unknown>): Element {
  return { type: 'Action.Submit', title, data: { msteams: { type: 'task/fetch' }, ...data } };
}

/** A required compact choice; `errorMessage` is what the client shows when nothing is chosen. */
export function choices(
  id: string,
  label: string,
  options: ReadonlyArray<readonly [title: string, value: string]>,
  errorMessage: string,
  value?: string,
): Element {
  return {
    type: 'Input.ChoiceSet',
    id,
    label,
    style: 'compact',
    isRequired: true,
    errorMessage,
    choices: options.map(([title, v]) => ({ title, value: v })),
    ...(value !== undefined && { value }),
  };
}

/** A text input; `required` makes it required and is what the client shows when it is left empty. */
export function input(
  id: string,
  label: string,
  opts: { placeholder?: string; multiline?: boolean; maxLength?: number; required?: string } = {},
): Element {
  return {
    type: 'Input.Text',
    id,
    label,
    ...(opts.placeholder && { placeholder: opts.placeholder }),
    ...(opts.multiline && { isMultiline: true }),
    maxLength: opts.maxLength ?? 500,
    ...(opts.required && { isRequired: true, errorMessage: opts.required }),
  };
}

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

export function attachment(c: AdaptiveCard): { contentType: typeof ADAPTIVE_CARD; content: AdaptiveCard } {
  return { contentType: ADAPTIVE_CARD, content: c };
}

/** A message activity carrying one card; `summary` is what notifications and the chat list show. */
export function cardMessage(
  c: AdaptiveCard,
  summary: string,
): { type: 'message'; summary: string; attachments: ReturnType<typeof attachment>[] } {
  return { type: 'message', summary: truncate(summary, 250), attachments: [attachment(c)] };
}
