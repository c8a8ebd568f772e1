/**
 * What each chat platform's text dialect must provide so the shared sentences (describe.ts) can be written once:
 * escaping, emphasis, code, mentions, localised dates and status icons. Every piece of text that did not come from
 * this code goes through `escape` or `code`.
 */
import type { Actor, ApproverRef } from '../core/model.js';
import type { Phase } from '../core/view.js';

/** Someone to name: an Actor (requester, approver who clicked) or an ApproverRef (eligible approver). */
export type Person = Pick<Actor, 'id' | 'email' | 'name'> & { platform: Actor['platform'] | ApproverRef['platform'] };

export interface Markup {
  escape(text: string): string;
  bold(escaped: string): string;
  /** Inline code that cannot be broken out of. */
  code(text: string): string;
  /** A mention that notifies the person where the platform can; else the escaped name. */
  mention(person: Person): string;
  /** A name that never notifies anyone. Escaped. */
  plainName(person: Person): string;
  /** A date each reader sees in their own time zone where the platform can. */
  date(ms: number): string;
  icon(phase: Phase): string;
}

/**
 * "A, B and 3 more": distinct people (by platform and id), as many whole names as fit in `budget` characters.
 * Never cuts a name in half.
 */
export function mentionList(people: readonly Person[], budget: number, name: (p: Person) => string): string {
  const seen = new Set<string>();
  const names: string[] = [];
  for (const p of people) {
    const key = `${p.platform}:${p.id}`;
    if (!seen.has(key)) {
      seen.add(key);
      names.push(name(p));
    }
  }
  const shown: string[] = [];
  let used = 0;
  for (const [i, n] of names.entries()) {
    const restLength = ` and ${names.length - i} more`.length;
    const cost = n.length + (shown.length ? 2 : 0);
    const isLast = i === names.length - 1;
    if (used + cost + (isLast ? 0 : restLength) > budget) break;
    shown.push(n);
    used += cost;
  }
  const more = names.length - shown.length;
  if (shown.length === 0) return more ? `${more} people` : '';
  return more ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/**
 * "Read" from "read": sentence case for the start of a line. A sentence may start with escaped marks (`\_`, `\*`: how
 * TeamsText escapes user text): the backslashes and the marks they escape are kept as they are, and the first
 * character after them is capitalised.
 */
export function capitalize(text: string): string {
  const escapes = /^(?:\\\P{L})*\\?/u.exec(text)![0];
  return escapes + text.charAt(escapes.length).toUpperCase() + text.slice(escapes.length + 1);
}
