/**
 * What a person typed to the bot, as the grammar reads it. Teams sends message text as HTML: the bot's own mention
 * is removed, other tags dropped and a few entities decoded (the card escapes them again), and the text cleaned
 * (core/text.ts). A person @-mentioned (picked from Teams' list: a `mention` entity naming their `29:` id) becomes
 * `<@29:…>`, the form the grammar reads as a person (`… for <@id>`); `mentioned` maps each such id to the name
 * shown. A `<@…>` typed as text is not a mention: it has no entity, so it is never found in `mentioned`.
 */
import { TurnContext } from 'botbuilder';
import { cleanText } from '../../core/text.js';

const ENTITIES: Record<string, string> = { nbsp: ' ', lt: '<', gt: '>', quot: '"', amp: '&' };

interface MentionEntity {
  type?: unknown;
  text?: unknown;
  mentioned?: { id?: unknown; name?: unknown };
}

export interface TypedText {
  text: string;
  /** Ids of the people mentioned (besides the bot) → the name Teams showed. */
  mentioned: ReadonlyMap<string, string>;
}

export function typedText(activity: TurnContext['activity']): TypedText {
  let text = TurnContext.removeRecipientMention(activity) ?? activity.text ?? '';
  const ids: string[] = [];
  const mentioned = new Map<string, string>();
  for (const e of (activity.entities ?? []) as MentionEntity[]) {
    const id = e.mentioned?.id;
    if (e.type !== 'mention' || typeof id !== 'string' || typeof e.text !== 'string' || id === activity.recipient?.id)
      continue;
    if (!/^[^<>@\s|]{1,255}$/.test(id) || !text.includes(e.text)) continue;
    // A marker that survives the tag stripping and cleaning below, turned into `<@id>` at the end.
    text = text.replace(e.text, ` ⟦${ids.length}⟧ `);
    ids.push(id);
    mentioned.set(id, cleanText(typeof e.mentioned?.name === 'string' ? e.mentioned.name : id).trim() || id);
  }
  const plain = cleanText(text)
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(nbsp|lt|gt|quot|amp);/g, (_m, e: string) => ENTITIES[e] ?? ' ')
    .replace(/⟦(\d+)⟧/g, (m, i: string) => (ids[Number(i)] !== undefined ? `<@${ids[Number(i)]}>` : m));
  return { text: plain, mentioned };
}

/** A reason as people read it: each mention by its name (`@Alice Smith`). */
export function readableMentions(text: string, mentioned: ReadonlyMap<string, string>): string {
  return text.replace(/<@([^<>\s]+)>/g, (m, id: string) => {
    const name = mentioned.get(id);
    return name !== undefined ? `@${name}` : m;
  });
}
