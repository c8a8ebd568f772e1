/**
 * Sentences about a RequestView shared by the channel message, the DMs, the Home tab and the ephemeral replies,
 * so every surface says the same thing. All return escaped mrkdwn.
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { capitalize, code, escapeMrkdwn, mention, mentionList, plainName, slackDate } from '../mrkdwn.js';

/** How many characters a list of approver mentions may take in one line. */
export const MENTION_BUDGET = 1500;

/** "Access request #42" or "Extension request #43 for grant #7". */
export function title(view: RequestView): string {
  const r = view.request;
  return r.extendsGrantId !== undefined ? `Extension request #${r.id} for grant #${r.extendsGrantId}` : `Access request #${r.id}`;
}

/** "*read* on *orders-prod* for 1h" (or "… extended by 1h"). */
export function summary(view: RequestView): string {
  const r = view.request;
  const what = `*${escapeMrkdwn(r.level)}* on *${escapeMrkdwn(r.database)}*`;
  return r.extendsGrantId !== undefined ? `${what}, extended by ${formatDuration(r.durationMs)}` : `${what} for ${formatDuration(r.durationMs)}`;
}

/** Same as `summary` without formatting marks, for notification text. */
export function plainSummary(view: RequestView): string {
  return summary(view).replace(/\*/g, '');
}

/** "@bob, @carol" — who approved so far. */
export function approvedBy(view: RequestView, budget = MENTION_BUDGET): string {
  return mentionList(
    view.approvals.map((a) => a.approver),
    budget,
  );
}

/** "1 of 2 approvals: @bob" */
export function approvalProgress(view: RequestView): string {
  const n = view.approvals.length;
  const line = `${n} of ${view.request.requiredApprovals} approval${view.request.requiredApprovals === 1 ? '' : 's'}`;
  return n ? `${line}: ${approvedBy(view)}` : line;
}

function receiptLine(view: RequestView): string {
  const rc = view.receipt;
  const at = rc?.at ?? view.grant?.revokedAt;
  const when = at !== undefined ? ` at ${slackDate(at)}` : '';
  const reason = rc?.reason ?? view.grant?.endReason ?? 'ended';
  return /^expired/.test(reason) ? `Expired${when}` : `Ended${when}: ${escapeMrkdwn(reason)}`;
}

/** The state of the request in one line, with an emoji; the core of the channel message's status. */
export function statusLine(view: RequestView): string {
  const r = view.request;
  const g = view.grant;
  switch (view.phase) {
    case 'pending': {
      const deadline = r.decideBy !== undefined ? ` · expires unanswered ${slackDate(r.decideBy)}` : '';
      return `:hourglass_flowing_sand: Waiting for approval: ${approvalProgress(view)}${deadline}`;
    }
    case 'provisioning':
      return `:gear: Approved by ${approvedBy(view) || 'policy'} · provisioning…`;
    case 'active': {
      const until = g ? `until ${slackDate(g.expiresAt)}` : '';
      const by = view.approvals.length ? ` · approved by ${approvedBy(view)}` : '';
      return `:large_green_circle: ${r.extendsGrantId !== undefined ? 'Extended: active' : 'Active'} ${until}${by}`;
    }
    case 'revoking': {
      const stuck = g?.revokeFailingSince !== undefined ? ` · failing since ${slackDate(g.revokeFailingSince)}` : '';
      return `:hourglass: Revoking: locking the user, ending sessions, dropping it${stuck}`;
    }
    case 'ended':
      return `:lock: ${receiptLine(view)}`;
    case 'denied': {
      const d = view.denial;
      if (!d) return `:no_entry: ${escapeMrkdwn(capitalize(r.decisionNote ?? 'denied'))}`;
      return `:no_entry: Denied by ${mention(d.approver)}${d.note ? `: ${escapeMrkdwn(d.note)}` : ''}`;
    }
    case 'expired': {
      const by = r.decideBy ?? r.decidedAt;
      return `:zzz: Expired: nobody approved${by !== undefined ? ` by ${slackDate(by)}` : ''}`;
    }
    case 'cancelled':
      return `:heavy_multiplication_x: Cancelled${r.decidedAt !== undefined ? ` at ${slackDate(r.decidedAt)}` : ''}`;
    case 'failed':
      return `:x: Provisioning failed: ${escapeMrkdwn(failure(view))}`;
  }
}

/** Why provisioning failed, without the "provisioning failed: " prefix the core puts on endReason. */
export function failure(view: RequestView): string {
  const g = view.grant;
  return (g?.lastError ?? g?.endReason ?? 'unknown error').replace(/^provisioning failed:\s*/, '');
}

/** The requester, without a ping (for `text`). */
export function requesterName(view: RequestView): string {
  return plainName(view.request.requester);
}

/** "user `jit_alice_x7` dropped, 1 session terminated" */
export function receiptDetail(view: RequestView): string {
  const rc = view.receipt;
  if (!rc) return '';
  const user = view.grant ? `user ${code(view.grant.username)}` : 'the user';
  const n = rc.sessionsTerminated;
  const sessions = `${n} session${n === 1 ? '' : 's'} terminated`;
  return `${sessions}, ${user} ${rc.userOutcome === 'dropped' ? 'dropped' : 'was already absent'}`;
}

/** "*read* access to *orders-prod*" */
export function accessTo(view: RequestView): string {
  return `*${escapeMrkdwn(view.request.level)}* access to *${escapeMrkdwn(view.request.database)}*`;
}
