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

export function card(body: Element[], actions: Element[] = [], entities: MentionEntity[] = []): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    body,
    ...(actions.length && { actions }),
    msteams: { width: 'Full', ...(entities.length && { entities }) },
  };
}

export function text(value: string, opts: { weight?: 'Bolder'; size?: 'Medium' | 'Large'; isSubtle?: boolean; color?: 'Attention' | 'Good' | 'Warning' } = {}): Element {
  return { type: 'TextBlock', text: truncate(value), wrap: true, ...opts };
}

export function heading(value: string): Element {
  return text(value, { weight: 'Bolder', size: 'Medium' });
}

/** Titles and values are already escaped. */
export function facts(pairs: ReadonlyArray<readonly [string, string]>): Element {
  return { type: 'FactSet', facts: pairs.map(([title, value]) => ({ title, value: truncate(value, 500) })) };
}

export function execute(title: string, verb: string, data: Record<string, unknown>, style?: 'positive' | 'destructive'): Element {
  return { type: 'Action.Execute', title, verb, data: { verb, ...data }, ...(style && { style }) };
}

/** A button that opens a dialog (task module) through `task/fetch`. */
export function openDialog(title: string, data: Record<string, unknown>): Element {
  return { type: 'Action.Submit', title, data: { msteams: { type: 'task/fetch' }, ...data } };
}

export function choices(id: string, label: string, options: ReadonlyArray<readonly [title: string, value: string]>, value?: string): Element {
  return {
    type: 'Input.ChoiceSet',
    id,
    label,
    style: 'compact',
    isRequired: true,
    choices: options.map(([title, v]) => ({ title, value: v })),
    ...(value !== undefined && { value }),
  };
}

export function input(id: string, label: string, opts: { placeholder?: string; multiline?: boolean; maxLength?: number; required?: boolean } = {}): Element {
  return {
    type: 'Input.Text',
    id,
    label,
    ...(opts.placeholder && { placeholder: opts.placeholder }),
    ...(opts.multiline && { isMultiline: true }),
    maxLength: opts.maxLength ?? 500,
    ...(opts.required && { isRequired: true }),
  };
}

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

export function attachment(c: AdaptiveCard): { contentType: typeof ADAPTIVE_CARD; content: AdaptiveCard } {
  return { contentType: ADAPTIVE_CARD, content: c };
}

/** A message activity carrying one card; `summary` is what notifications and the chat list show. */
export function cardMessage(c: AdaptiveCard, summary: string): { type: 'message'; summary: string; attachments: ReturnType<typeof attachment>[] } {
  return { type: 'message', summary: truncate(summary, 250), attachments: [attachment(c)] };
}
