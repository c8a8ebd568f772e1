/**
 * The approval channel's message for a request, in every phase. It is posted once and then
 * edited in place (`chat.update`) as the request moves on, so it always shows the current truth.
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { APPROVE, DENY, REVOKE } from '../ids.js';
import { code, escapeMrkdwn, mention, mentionList, slackDate } from '../mrkdwn.js';
import { approvedBy, askerName, MENTION_BUDGET, memberLines, plainSummary, statusLine, title } from './describe.js';
import {
  actions,
  button,
  context,
  fields,
  header,
  message,
  section,
  type Button,
  type KnownBlock,
  type SlackMessage,
} from './kit.js';

/** Catalog descriptions are operator text but still escaped; 300 characters is plenty for a field. */
const DESCRIPTION_MAX = 300;

export function approvalMessage(view: RequestView): SlackMessage {
  const r = view.request;
  const blocks: KnownBlock[] = [
    header(title(view)),
    fields(view.bundle ? bundleFields(view) : requestFields(view)),
    section(`*Reason*\n${escapeMrkdwn(r.reason)}`),
  ];
  if (view.phase === 'pending') {
    const who = mentionList(r.approvers, MENTION_BUDGET);
    blocks.push(
      section(who ? `*Can approve:* ${who}` : '*Can approve:* nobody could be resolved; ask an administrator'),
    );
    if (r.unavailableSources?.length) {
      blocks.push(
        context(`:warning: Could not ask these approver sources: ${escapeMrkdwn(r.unavailableSources.join('; '))}`),
      );
    }
  }
  blocks.push(section(view.bundle && r.status === 'approved' ? bundleStatus(view) : statusLine(view)));
  const policy = policyLine(view);
  if (policy) blocks.push(context(policy));
  const buttons = buttonsFor(view);
  if (buttons.length) blocks.push(actions(buttons, `request_${r.id}`));
  blocks.push(context(`Requested ${slackDate(r.createdAt)}${view.grant ? ` · grant #${view.grant.id}` : ''}`));
  // The notification text: escaped like the blocks, names without pings, the reason last so truncation cuts it.
  const reason = escapeMrkdwn(r.reason.replace(/\s+/g, ' '));
  return message(
    `${title(view)}: ${askerName(view)} asks for ${plainSummary(view)}. ${plainStatus(view)} Reason: ${reason}`,
    blocks,
  );
}

/** Why access needed nobody (auto-approval, break-glass): every decision explains itself. */
function policyLine(view: RequestView): string | undefined {
  const r = view.request;
  if (r.breakGlass) {
    const review =
      r.reviewedAt !== undefined
        ? `reviewed ${slackDate(r.reviewedAt)}`
        : r.reviewBy !== undefined
          ? `review due ${slackDate(r.reviewBy)}`
          : '';
    return `:fire_extinguisher: Break-glass: granted without approval${review ? ` · ${review}` : ''}`;
  }
  if (r.status === 'approved' && r.decisionNote?.startsWith('auto-approved'))
    return `:robot_face: ${escapeMrkdwn(r.decisionNote)}`;
  return undefined;
}

/** A bundle: its name and description, its members, the one duration they share. */
function bundleFields(view: RequestView): string[] {
  const r = view.request;
  const members = view.bundle?.members ?? [];
  const description = view.database.description
    ? `\n${escapeMrkdwn(view.database.description.slice(0, DESCRIPTION_MAX))}`
    : '';
  const out = [
    ...(r.askedBy
      ? [`*Requested by*\n${mention(r.askedBy)}`, `*For*\n${mention(r.requester)} (gets the access)`]
      : [`*Requested by*\n${mention(r.requester)}`]),
    `*Bundle*\n${code(r.database)}${description}`,
    `*Duration*\n${formatDuration(r.durationMs)} on each member`,
  ];
  if (members.length === 0)
    out.push(
      `*Members*\n${(view.bundle?.entries ?? []).map((m) => `${code(m.database)} ${code(m.level)}`).join('\n')}`,
    );
  if (r.ticket) out.push(`*Ticket*\n${code(r.ticket)}`);
  return out;
}

/** After the decision: who approved, then each member's own grant. */
function bundleStatus(view: RequestView): string {
  return [`:white_check_mark: Approved by ${approvedBy(view) || 'policy'}`, ...memberLines(view)].join('\n');
}

function requestFields(view: RequestView): string[] {
  const r = view.request;
  const db = view.database;
  const description = db.description ? `\n${escapeMrkdwn(db.description.slice(0, DESCRIPTION_MAX))}` : '';
  const out = [
    // Asked on someone's behalf: approvers see both, and that the access (and the credentials) go to the latter.
    ...(r.askedBy
      ? [`*Requested by*\n${mention(r.askedBy)}`, `*For*\n${mention(r.requester)} (gets the access)`]
      : [`*Requested by*\n${mention(r.requester)}`]),
    `*Database*\n${code(db.name)} (${db.engine})${description}`,
    `*Level*\n${code(r.level)}`,
    r.extendsGrantId !== undefined
      ? `*Extend by*\n${formatDuration(r.durationMs)}`
      : `*Duration*\n${formatDuration(r.durationMs)}`,
  ];
  if (r.extendsGrantId !== undefined && view.grant && view.phase === 'pending') {
    out.push(`*Currently expires*\n${slackDate(view.grant.expiresAt)}`);
  }
  // A ticket is shown as code: never a link, whatever it contains.
  if (r.ticket) out.push(`*Ticket*\n${code(r.ticket)}`);
  // The incident's URL comes from PagerDuty's API, not from the requester, so it may be a link.
  if (r.incidentId)
    out.push(
      `*Incident*\n${r.incidentUrl && /^https:\/\/[\w.-]+\/incidents\/\w+$/.test(r.incidentUrl) ? `<${r.incidentUrl}|${r.incidentId}>` : code(r.incidentId)} (access ends when it resolves)`,
    );
  return out;
}

function buttonsFor(view: RequestView): Button[] {
  const r = view.request;
  if (view.phase === 'pending') {
    return [
      button({ text: 'Approve', actionId: APPROVE, value: r.id, style: 'primary' }),
      button({ text: 'Deny', actionId: DENY, value: r.id, style: 'danger' }),
    ];
  }
  if (view.phase === 'active' && view.grant && !view.bundle) {
    return [
      button({
        text: 'Revoke',
        actionId: REVOKE,
        value: view.grant.id,
        style: 'danger',
        confirm: {
          title: 'Revoke access now?',
          text: `${mention(r.requester)} loses ${code(r.level)} access to ${code(r.database)} now: the user is locked, its sessions are ended and it is dropped.`,
          confirm: 'Revoke',
        },
      }),
    ];
  }
  return [];
}

/** The status without dates or mentions, for the notification text. */
function plainStatus(view: RequestView): string {
  switch (view.phase) {
    case 'pending':
      return `Waiting for approval (${view.approvals.length} of ${view.request.requiredApprovals}).`;
    case 'provisioning':
      return `Approved; the user is being created (${formatDuration(view.request.durationMs)} from when it exists).`;
    case 'active':
      return view.grant ? `Active until ${new Date(view.grant.expiresAt).toISOString().slice(11, 16)} UTC.` : 'Active.';
    case 'revoking':
      return 'Revoking.';
    case 'ended':
      return 'Ended.';
    case 'denied':
      return 'Denied.';
    case 'expired':
      return 'Expired: nobody approved in time.';
    case 'cancelled':
      return 'Cancelled.';
    case 'failed':
      return 'Provisioning failed.';
  }
}
