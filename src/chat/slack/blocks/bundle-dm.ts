/**
 * The one direct message of a bundle: every member's own access in it, each with its own Show credentials and I'm
 * done while active. Posted when the bundle is approved and edited as each member moves on; it never carries a
 * password (Show credentials sets a new one each time and shows it in a modal).
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { code } from '../mrkdwn.js';
import { accessActiveDm, accessEndedDm, provisionFailedDm } from './dm.js';
import { accessTo, failure, title } from './describe.js';
import { message, section, type KnownBlock, type SlackMessage } from './kit.js';

/** One member's part: its own DM's blocks (a failed attempt is reported at once, while it is retried). */
function memberBlocks(m: RequestView): KnownBlock[] {
  const g = m.grant;
  if (m.phase === 'failed' || (m.phase === 'revoking' && g?.endKind === 'provision_failed'))
    return provisionFailedDm(m, failure(m), false).blocks;
  switch (m.phase) {
    case 'active':
      return accessActiveDm(m).blocks;
    case 'revoking':
    case 'ended':
      return accessEndedDm(m).blocks;
    default:
      return g?.lastError && g.provisionAttempts > 0
        ? provisionFailedDm(m, g.lastError, true).blocks
        : [section(`:gear: Your ${accessTo(m)} is being set up…`)];
  }
}

export function bundleDm(view: RequestView): SlackMessage {
  const members = view.bundle?.members ?? [];
  const head = `Your bundle ${code(view.request.database)} was approved: ${members.length} database${members.length === 1 ? '' : 's'}, ${formatDuration(view.request.durationMs)} each from when its user exists (${title(view)}).`;
  return message(head.replace(/[`*]/g, ''), [section(`:package: ${head}`), ...members.flatMap(memberBlocks)]);
}
