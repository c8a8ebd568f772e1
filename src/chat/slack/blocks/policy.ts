/** Messages of the access policy: escalation to the next tier, break-glass alerts and overdue reviews. */
import type { ApproverRef } from '../../../core/model.js';
import type { RequestView } from '../../../core/view.js';
import { BREAK_GLASS_REVIEWED } from '../ids.js';
import { code, escapeMrkdwn, mention, mentionList, slackDate } from '../mrkdwn.js';
import { MENTION_BUDGET, summary, title } from './describe.js';
import { actions, button, message, section, type SlackMessage } from './kit.js';

/** The thread reply when nobody decided in time and the next tier is asked. */
export function escalationReply(view: RequestView, tier: number, asked: readonly ApproverRef[]): SlackMessage {
  const who = mentionList(asked, MENTION_BUDGET) || 'nobody could be resolved for this tier';
  return message(`${title(view)}: escalated to tier ${tier}.`, [
    section(`:rotating_light: Nobody decided yet, so escalation tier ${tier} is asked too: ${who}`),
  ]);
}

/** The alert in the security channel: who broke the glass, for what, why, and a Reviewed button for approvers. */
export function breakGlassAlert(view: RequestView): SlackMessage {
  const r = view.request;
  const due = r.reviewBy !== undefined ? ` An approver must review it by ${slackDate(r.reviewBy)}.` : '';
  const reviewed = r.reviewedAt !== undefined;
  return message(`Break-glass access: ${title(view)}.`, [
    section(
      `:fire_extinguisher: *Break-glass:* ${mention(r.requester)} took ${summary(view)} without approval.\n*Reason:* ${escapeMrkdwn(r.reason)}${reviewed ? '' : due}`,
    ),
    ...(reviewed
      ? [section(`:white_check_mark: Reviewed ${slackDate(r.reviewedAt!)}`)]
      : [
          actions(
            [button({ text: 'Reviewed', actionId: BREAK_GLASS_REVIEWED, value: r.id, style: 'primary' })],
            `review_${r.id}`,
          ),
        ]),
  ]);
}

/** The escalation of a review nobody did in time. */
export function reviewOverdueAlert(view: RequestView): SlackMessage {
  const r = view.request;
  const who = mentionList(r.approvers, MENTION_BUDGET);
  return message(`Break-glass review overdue: ${title(view)}.`, [
    section(
      `:warning: Nobody has reviewed ${mention(r.requester)}'s break-glass access (${summary(view)}) since ${slackDate(r.createdAt)}. ${who ? `${who}: please review it.` : ''}`,
    ),
    actions(
      [button({ text: 'Reviewed', actionId: BREAK_GLASS_REVIEWED, value: r.id, style: 'primary' })],
      `review_overdue_${r.id}`,
    ),
  ]);
}

/** The line posted in an incident's Slack channel when a responder's request was approved because of it. */
export function incidentAccessLine(view: RequestView): SlackMessage {
  const r = view.request;
  const incident = r.incidentId ? ` for incident ${code(r.incidentId)}` : '';
  return message(`${title(view)}: approved for an incident responder.`, [
    section(
      `:key: ${mention(r.requester)} has ${summary(view)}${incident}, auto-approved as a responder; it ends when the incident resolves.\n*Reason:* ${escapeMrkdwn(r.reason)}`,
    ),
  ]);
}
