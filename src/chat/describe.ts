/**
 * Sentences about a RequestView shared by every surface on every platform (channel message, DMs, home, replies),
 * so all of them say the same thing. `describe(markup)` binds them to a platform's text dialect; everything they
 * return is escaped for it.
 */
import { formatDuration } from '../core/duration.js';
import type { GrantActivity, SelfExtension } from '../core/model.js';
import type { RequestView } from '../core/view.js';
import { capitalize, mentionList, type Markup } from './markup.js';

/** Session groups and statement kinds named on a receipt (the rest are counted). */
const ACTIVITY_GROUPS = 3;
const ACTIVITY_KINDS = 3;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** How many characters a list of approver mentions may take in one line. */
export const MENTION_BUDGET = 1500;

/** "Access request #42" or "Extension request #43 for grant #7" (no markup: safe everywhere). */
export function title(view: RequestView): string {
  const r = view.request;
  return r.extendsGrantId !== undefined
    ? `Extension request #${r.id} for grant #${r.extendsGrantId}`
    : `Access request #${r.id}`;
}

/** Why provisioning failed, without the "provisioning failed: " prefix the core puts on endReason. Unescaped. */
export function failure(view: RequestView): string {
  const g = view.grant;
  return (g?.lastError ?? g?.endReason ?? 'unknown error').replace(/^provisioning failed:\s*/, '');
}

export function describe(m: Markup) {
  const b = (s: string) => m.bold(m.escape(s));

  /** "**read** on **orders-prod** for 1h" (or "… extended by 1h"); a bundle: "bundle **kit** (read on orders-prod,
   *  read on billing) for 1h". */
  function summary(view: RequestView, plain = false): string {
    const r = view.request;
    if (view.bundle) {
      const members = view.bundle.entries.map((e) => `${m.escape(e.level)} on ${m.escape(e.database)}`);
      const name = plain ? m.escape(r.database) : b(r.database);
      return `bundle ${name} (${members.join(', ')}) for ${formatDuration(r.durationMs)}`;
    }
    const what = plain ? `${m.escape(r.level)} on ${m.escape(r.database)}` : `${b(r.level)} on ${b(r.database)}`;
    return r.extendsGrantId !== undefined
      ? `${what}, extended by ${formatDuration(r.durationMs)}`
      : `${what} for ${formatDuration(r.durationMs)}`;
  }

  /** Who approved so far. */
  function approvedBy(view: RequestView, budget = MENTION_BUDGET): string {
    return mentionList(
      view.approvals.map((a) => a.approver),
      budget,
      m.mention,
    );
  }

  /** "1 of 2 approvals: @bob" */
  function approvalProgress(view: RequestView): string {
    const n = view.approvals.length;
    const line = `${n} of ${view.request.requiredApprovals} approval${view.request.requiredApprovals === 1 ? '' : 's'}`;
    return n ? `${line}: ${approvedBy(view)}` : line;
  }

  function receiptLine(view: RequestView): string {
    const rc = view.receipt;
    const at = rc?.at ?? view.grant?.revokedAt;
    const when = at !== undefined ? ` at ${m.date(at)}` : '';
    const reason = rc?.reason ?? view.grant?.endReason ?? 'ended';
    return /^expired/.test(reason) ? `Expired${when}` : `Ended${when}: ${m.escape(reason)}`;
  }

  /** The state of the request in one line, with an icon; the core of the channel message's status. */
  function statusLine(view: RequestView): string {
    const r = view.request;
    const g = view.grant;
    const icon = m.icon(view.phase);
    switch (view.phase) {
      case 'pending': {
        const deadline = r.decideBy !== undefined ? ` · expires unanswered ${m.date(r.decideBy)}` : '';
        return `${icon} Waiting for approval: ${approvalProgress(view)}${deadline}`;
      }
      case 'provisioning':
        // No deadline yet: the grant's clock starts when its user exists.
        return `${icon} Approved by ${approvedBy(view) || 'policy'} · provisioning… the user is being created; its ${formatDuration(r.durationMs)} start when it exists`;
      case 'active': {
        const until = g ? `until ${m.date(g.expiresAt)}` : '';
        // An extension its holder applied (no approvals) says so, and whether it was held to a limit.
        const by = view.approvals.length
          ? ` · approved by ${approvedBy(view)}`
          : r.extendsGrantId !== undefined && r.decisionNote
            ? ` · ${m.escape(r.decisionNote)}`
            : '';
        return `${icon} ${r.extendsGrantId !== undefined ? 'Extended: active' : 'Active'} ${until}${by}`;
      }
      case 'revoking': {
        const stuck = g?.revokeFailingSince !== undefined ? ` · failing since ${m.date(g.revokeFailingSince)}` : '';
        return `${icon} Revoking: locking the user, ending sessions, dropping it${stuck}`;
      }
      case 'ended':
        return `${icon} ${receiptLine(view)}`;
      case 'denied': {
        const d = view.denial;
        if (!d) return `${icon} ${m.escape(capitalize(r.decisionNote ?? 'denied'))}`;
        return `${icon} Denied by ${m.mention(d.approver)}${d.note ? `: ${m.escape(d.note)}` : ''}`;
      }
      case 'expired': {
        const by = r.decideBy ?? r.decidedAt;
        return `${icon} Expired: nobody approved${by !== undefined ? ` by ${m.date(by)}` : ''}`;
      }
      case 'cancelled':
        return `${icon} Cancelled${r.decidedAt !== undefined ? ` at ${m.date(r.decidedAt)}` : ''}`;
      case 'failed':
        return `${icon} Provisioning failed: ${m.escape(failure(view))}`;
    }
  }

  /** A bundle's members after its approval, one line each: where each member's own grant is. */
  function memberLines(view: RequestView): string[] {
    return (view.bundle?.members ?? []).map((v) => {
      const what = `${b(v.request.database)} ${m.code(v.request.level)}${v.grant ? ` (grant #${v.grant.id})` : ''}`;
      const g = v.grant;
      const state =
        v.phase === 'failed' || (v.phase === 'revoking' && g?.endKind === 'provision_failed')
          ? `${m.icon('failed')} Provisioning failed: ${m.escape(failure(v))}`
          : v.phase !== 'provisioning'
            ? statusLine(v)
            : g?.lastError && g.provisionAttempts > 0
              ? `${m.icon('failed')} provisioning failed (retrying): ${m.escape(g.lastError)}`
              : `${m.icon('provisioning')} provisioning… the user is being created`;
      return `${what}: ${state}`;
    });
  }

  /** "1 session terminated, user `jit_alice_x7` dropped" */
  function receiptDetail(view: RequestView): string {
    const rc = view.receipt;
    if (!rc) return '';
    const user = view.grant ? `user ${m.code(view.grant.username)}` : 'the user';
    const n = rc.sessionsTerminated;
    const sessions = `${n} session${n === 1 ? '' : 's'} terminated`;
    const done = `${sessions}, ${user} ${rc.userOutcome === 'dropped' ? 'dropped' : 'was already absent'}`;
    const activity = rc.activity ? activityLine(rc.activity, n) : '';
    return activity ? `${done} · ${activity}` : done;
  }

  /**
   * "3 sessions from 10.0.4.7 (psql), first 14:02, last 14:37 · 42 statements, 30 SELECT · top: `SELECT … $1` (30×)":
   * what the server's own statistics say was done with the access. Addresses and application names are escaped,
   * statement shapes (normalised by the server and the engine: no literal) shown as code.
   */
  function activityLine(a: GrantActivity, terminated: number): string {
    const parts: string[] = [];
    const n = a.sessions.reduce((sum, g) => sum + g.count, 0) + a.sessionsDropped;
    // None sampled but some ended by the revocation: the count above already says so.
    if (n === 0 && terminated === 0) parts.push('no session seen');
    else if (n > 0) {
      const groups = a.sessions.slice(0, ACTIVITY_GROUPS).map((g, i) => {
        const from = g.clientAddress !== undefined ? ` from ${m.escape(g.clientAddress)}` : '';
        const app = g.application !== undefined ? ` (${m.escape(g.application)})` : '';
        return i === 0 ? `${plural(g.count, 'session')}${from}${app}` : `${g.count}${from}${app}`;
      });
      const others = a.sessions.slice(ACTIVITY_GROUPS).reduce((sum, g) => sum + g.count, 0) + a.sessionsDropped;
      if (others > 0) groups.push(`${others} more`);
      const first = Math.min(...a.sessions.map((g) => g.firstSeenAt));
      const last = Math.max(...a.sessions.map((g) => g.lastSeenAt));
      const when = a.sessions.length > 0 ? `, first ${m.date(first)}, last ${m.date(last)}` : '';
      parts.push(`${groups.join(', ')}${when}`);
    }
    const st = a.statements;
    if (st && !st.available) parts.push(`statements not available: ${m.escape(st.why)}`);
    else if (st) {
      const kinds = Object.entries(st.byKind)
        .sort((x, y) => y[1] - x[1])
        .slice(0, ACTIVITY_KINDS)
        .map(([kind, calls]) => `${calls} ${m.escape(kind)}`);
      parts.push(`${plural(st.calls, 'statement')}${kinds.length > 0 ? `, ${kinds.join(', ')}` : ''}`);
      const top = st.top[0];
      if (top) parts.push(`top: ${m.code(top.query)} (${top.calls}×)`);
    }
    return parts.join(' · ');
  }

  /** "**read** access to **orders-prod**" */
  function accessTo(view: RequestView): string {
    return `${b(view.request.level)} access to ${b(view.request.database)}`;
  }

  /** Who asks, without a ping: the requester, or "bob on behalf of alice" when someone asked for them. */
  function askerName(view: RequestView): string {
    const r = view.request;
    return r.askedBy ? `${m.plainName(r.askedBy)} on behalf of ${m.plainName(r.requester)}` : m.plainName(r.requester);
  }

  /** The approval thread's line when the holder extended without approval: who, to when, which of how many. */
  function selfExtendedLine(ext: SelfExtension): string {
    const held = ext.capped ? ' (less than asked: held to the limit)' : '';
    return `⏩ ${m.plainName(ext.by)} extended this access without approval (self-extension ${ext.count} of ${ext.of}): from ${m.date(ext.from)} to ${m.date(ext.to)}${held}`;
  }

  return {
    summary,
    approvedBy,
    approvalProgress,
    statusLine,
    memberLines,
    receiptDetail,
    accessTo,
    askerName,
    selfExtendedLine,
  };
}
