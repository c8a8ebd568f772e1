/** The thread reply under the approval message when a grant ends: what the revocation actually did on the target. */
import type { RequestView } from '../../../core/view.js';
import { escapeMrkdwn, slackDate } from '../mrkdwn.js';
import { receiptDetail, title } from './describe.js';
import { message, section, type SlackMessage } from './kit.js';

/** "Revoked at 14:05 (expired): 1 session terminated, user `jit_x` dropped" / "… was already absent". */
export function revocationReceipt(view: RequestView): SlackMessage {
  const rc = view.receipt;
  const at = rc?.at ?? view.grant?.revokedAt;
  const when = at !== undefined ? ` at ${slackDate(at)}` : '';
  const reason = escapeMrkdwn(rc?.reason ?? view.grant?.endReason ?? 'ended');
  const detail = receiptDetail(view) || 'no details were recorded';
  const verb = view.phase === 'failed' ? 'Cleaned up' : 'Revoked';
  const line = `${verb}${when} (${reason}): ${detail}`;
  const plainAt = at !== undefined ? ` at ${new Date(at).toISOString().slice(11, 16)} UTC` : '';
  return message(`${title(view)}: ${verb.toLowerCase()}${plainAt} (${reason}).`, [section(`:lock: ${line}`)]);
}
