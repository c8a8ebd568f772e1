/** Thread replies under the approval message about its grant: what the revocation actually did on the target, and
 *  an extension its holder applied without approval. */
import type { SelfExtension } from '../../../core/model.js';
import type { RequestView } from '../../../core/view.js';
import { escapeMrkdwn, slackDate } from '../mrkdwn.js';
import { receiptDetail, selfExtendedLine, title } from './describe.js';
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

/** "⏩ alice extended this access without approval (self-extension 1 of 2): from 14:00 to 14:30" */
export function selfExtensionReply(view: RequestView, ext: SelfExtension): SlackMessage {
  const to = new Date(ext.to).toISOString().slice(11, 16);
  return message(`${title(view)}: extended by its holder to ${to} UTC.`, [section(selfExtendedLine(ext))]);
}
