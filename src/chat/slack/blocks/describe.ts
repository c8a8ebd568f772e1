/** The shared sentences (chat/describe.ts) in Slack mrkdwn. */
import type { RequestView } from '../../../core/view.js';
import { describe } from '../../describe.js';
import { slackMarkup } from '../mrkdwn.js';

export { failure, MENTION_BUDGET, title } from '../../describe.js';

const d = describe(slackMarkup);
export const {
  approvedBy,
  approvalProgress,
  statusLine,
  memberLines,
  receiptDetail,
  accessTo,
  askerName,
  selfExtendedLine,
} = d;

/** "*read* on *orders-prod* for 1h" (or "… extended by 1h"). */
export const summary = (view: RequestView): string => d.summary(view);

/** Same as `summary` without formatting marks, for notification text. */
export const plainSummary = (view: RequestView): string => d.summary(view, true);
