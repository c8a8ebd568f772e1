/**
 * The one 1:1 message of a bundle on Teams: every member's own access in it — database, level, expiry — each with
 * its own Show credentials and I'm done while active (the same actions, with the same data, as a single grant's
 * message, so revealing works the same). Posted when the bundle is approved and replaced as each member moves on;
 * it never carries a password (Show credentials opens the dialog that sets a new one).
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { describe, failure, title } from '../../describe.js';
import type { MentionEntity } from '../markup.js';
import { TeamsText } from '../markup.js';
import { accessActiveCard, accessEndedCard, provisionFailedCard } from './dm.js';
import { card, cardMessage, text, truncate, type AdaptiveCard, type Element } from './kit.js';

/** A member's error is cut shorter than a single grant's message cuts it: ten of them must fit in one activity. */
const MEMBER_ERROR_MAX = 500;

/** One member's part: its own 1:1 message's card (a failed attempt is reported at once, while it is retried). */
function memberCard(m: RequestView): AdaptiveCard {
  const g = m.grant;
  if (m.phase === 'failed' || (m.phase === 'revoking' && g?.endKind === 'provision_failed'))
    return provisionFailedCard(m, truncate(failure(m), MEMBER_ERROR_MAX), false);
  switch (m.phase) {
    case 'active':
      return accessActiveCard(m);
    case 'revoking':
    case 'ended':
      return accessEndedCard(m);
    default: {
      if (g?.lastError && g.provisionAttempts > 0)
        return provisionFailedCard(m, truncate(g.lastError, MEMBER_ERROR_MAX), true);
      const t = new TeamsText();
      return card([text(`⚙️ Your ${describe(t).accessTo(m)} is being set up…`)], [], t.entities());
    }
  }
}

/** A member's card as a part of the bundle's: its text, then its buttons, set apart from the member before. */
function memberPart(c: AdaptiveCard): Element {
  return {
    type: 'Container',
    separator: true,
    spacing: 'Medium',
    items: [...c.body, ...(c.actions?.length ? [{ type: 'ActionSet', actions: c.actions }] : [])],
  };
}

/** `view`: the bundle request's (its members' views in `view.bundle`). */
export function bundleDmMessage(view: RequestView) {
  const t = new TeamsText();
  const members = view.bundle?.members ?? [];
  const parts = members.map(memberCard);
  const count = `${members.length} database${members.length === 1 ? '' : 's'}`;
  const head = `Your bundle ${t.code(view.request.database)} was approved: ${count}, ${formatDuration(view.request.durationMs)} each from when its user exists (${title(view)}).`;
  // The members' mentions (who asked on the person's behalf), once each.
  const mentions = new Map<string, MentionEntity>();
  for (const e of parts.flatMap((c) => c.msteams.entities ?? [])) mentions.set(e.text, e);
  return cardMessage(
    card([text(`📦 ${head}`), ...parts.map(memberPart)], [], [...t.entities(), ...mentions.values()]),
    `Your bundle ${view.request.database} was approved: ${count}`,
  );
}
