/**
 * Operator alerts posted in the approval channel. Deliberately no `<!here>`/`<!channel>`: the channel's own
 * notification settings decide who is woken; the message says plainly what a human must do.
 */
import type { RequestView } from '../../../core/view.js';
import { code, escapeMrkdwn, slackDate } from '../mrkdwn.js';
import { title } from './describe.js';
import { context, header, message, section, type SlackMessage } from './kit.js';

/** Revocation has been failing past the alert threshold; the user may still be able to log in. */
export function revocationStuckAlert(view: RequestView, error: string): SlackMessage {
  const g = view.grant;
  const grant = g ? `grant #${g.id} (user ${code(g.username)} on ${code(g.database)})` : `the grant of ${title(view)}`;
  const since = g?.revokeFailingSince !== undefined ? ` since ${slackDate(g.revokeFailingSince)}` : '';
  const attempts = g ? ` after ${g.revokeAttempts} attempt${g.revokeAttempts === 1 ? '' : 's'}` : '';
  const cli = g ? ` Run ${code(`db-access revoke ${g.id}`)} once the cause is fixed, or drop the user by hand.` : '';
  return message(`Revocation is failing for ${title(view)}: the database user may still be able to log in.`, [
    header(':rotating_light: Revocation is failing'),
    section(`Revoking ${grant} has been failing${since}${attempts}. The user may still be able to log in.`),
    section(`*Last error*\n${escapeMrkdwn(error)}`),
    context(`Retries continue with backoff.${cli}`),
  ]);
}
