/**
 * Auto-approval: the database's rules, tried in order; the first that fits approves, and says why ("auto-approved:
 * read ≤ 1h, you are on call for PagerDuty schedule PABC123 (2 of 3 today)"). A rule that does not fit says
 * why not, so a request that goes to people explains that too. An on-call source that cannot be asked means
 * "not approved", never "approved".
 */
import type { AutoApproveRule, DatabaseEntry } from './catalog.js';
import type { CoreDeps } from './deps.js';
import { formatDuration } from './duration.js';
import type { AccessRequest, Actor } from './model.js';
import type { IncidentInfo, StateStore } from './ports.js';
import { sameActor } from './policy.js';

export const BUDGET_WINDOW_MS = 24 * 3_600_000;

/** `budget`: the approving rule's; the transaction that writes the approval counts again under the person's lock.
 *  `respondingTo`: the incident whose responder the requester is, when the approving rule is `whenResponding`. */
export type AutoDecision =
  | { approved: true; rule: number; budget: number; explanation: string; respondingTo?: string }
  | { approved: false; reasons: string[] };

/** The incident a request names, as its source answered — or why it could not be asked. */
export interface NamedIncident {
  id: string;
  info?: IncidentInfo;
  error?: string;
  /** The ticket (`id`, e.g. INC-42) named no open incident of the requester (incident-ticket.ts): why. Nothing is
   *  scoped to it. */
  unmatched?: string;
}

/** Why `actor` counts as responding to `incident`, or why not. Anything unknown means "not responding". */
export function respondingTo(
  incident: NamedIncident | undefined,
  actor: Actor,
): { ok: true; why: string } | { ok: false; why: string } {
  if (!incident) return { ok: false, why: 'no incident is named in the request' };
  if (incident.unmatched) return { ok: false, why: incident.unmatched };
  const { id, info } = incident;
  if (!info) return { ok: false, why: `incident ${id} could not be checked (${incident.error ?? 'no answer'})` };
  if (info.status === 'resolved') return { ok: false, why: `incident ${id} is resolved` };
  if (!info.responders) return { ok: false, why: `the incident source does not say who responds to ${id}` };
  const email = actor.email?.trim().toLowerCase();
  if (!email)
    return {
      ok: false,
      why: `your email address is not known, so whether you respond to incident ${id} cannot be checked`,
    };
  if (!info.responders.includes(email))
    return { ok: false, why: `you are not assigned to incident ${id} and have not acknowledged it` };
  return { ok: true, why: `you are responding to incident ${id}` };
}

/** Auto-approvals `actor` received on this database in the 24 h before `now`. `store` may be a transaction. */
export async function autoApprovalsUsed(
  store: Pick<StateStore, 'listAudit'>,
  now: number,
  db: DatabaseEntry,
  actor: Actor,
): Promise<number> {
  const since = now - BUDGET_WINDOW_MS;
  const rows = await store.listAudit({ type: 'request.auto_approved', since });
  return rows.filter(
    (e) =>
      e.database === db.name &&
      e.at >= since &&
      e.detail.requester !== undefined &&
      sameActor(e.detail.requester as Actor, actor),
  ).length;
}

async function check(
  deps: CoreDeps,
  db: DatabaseEntry,
  rule: AutoApproveRule,
  actor: Actor,
  level: string,
  durationMs: number,
  at?: number,
  incident?: NamedIncident,
): Promise<{ ok: true; why: string[] } | { ok: false; why: string }> {
  const why: string[] = [];
  if (rule.levels && !rule.levels.includes(level))
    return { ok: false, why: `level ${level} is not one of ${rule.levels.join(', ')}` };
  why.push(rule.levels ? rule.levels.join('/') : level);
  if (rule.maxDurationMs !== undefined) {
    if (durationMs > rule.maxDurationMs)
      return { ok: false, why: `${formatDuration(durationMs)} is longer than ${formatDuration(rule.maxDurationMs)}` };
    why[0] += ` ≤ ${formatDuration(rule.maxDurationMs)}`;
  }
  if (rule.requesterOnCall !== undefined) {
    try {
      const res = await deps.approvers.isOnCall(db, actor, rule.requesterOnCall, at);
      if (!res.onCall) return { ok: false, why: `you are not on call for ${res.label}` };
      why.push(`you are on call for ${res.label}`);
    } catch (err) {
      return { ok: false, why: `on-call could not be checked (${err instanceof Error ? err.message : String(err)})` };
    }
  }
  if (rule.requesterInGroup !== undefined) {
    try {
      if (!(await deps.approvers.isInGroup(actor, rule.requesterInGroup)))
        return { ok: false, why: `you are not in group ${rule.requesterInGroup}` };
      why.push(`you are in group ${rule.requesterInGroup}`);
    } catch (err) {
      return {
        ok: false,
        why: `group ${rule.requesterInGroup} could not be checked (${err instanceof Error ? err.message : String(err)})`,
      };
    }
  }
  if (rule.whenResponding) {
    const res = respondingTo(incident, actor);
    if (!res.ok) return res;
    why.push(res.why);
  }
  return { ok: true, why };
}

/** `at`: when the request was received (a chat action's receivedAt): the requester's on-call status is judged then.
 *  `incident`: the incident the request names, for `whenResponding` rules. */
export async function decideAutomatically(
  deps: CoreDeps,
  db: DatabaseEntry,
  actor: Actor,
  level: string,
  durationMs: number,
  at?: number,
  incident?: NamedIncident,
): Promise<AutoDecision> {
  const rules = db.approval.autoApprove;
  if (rules.length === 0) return { approved: false, reasons: [] };
  const reasons: string[] = [];
  let used: number | undefined;
  for (const [i, rule] of rules.entries()) {
    const res = await check(deps, db, rule, actor, level, durationMs, at, incident);
    if (!res.ok) {
      reasons.push(`rule ${i + 1}: ${res.why}`);
      continue;
    }
    used ??= await autoApprovalsUsed(deps.store, deps.clock.now(), db, actor);
    if (used >= rule.budget) {
      reasons.push(budgetUsed(i, used, rule.budget));
      continue;
    }
    return {
      approved: true,
      rule: i,
      budget: rule.budget,
      explanation: `auto-approved: ${res.why.join(', ')} (${used + 1} of ${rule.budget} today)`,
      ...(rule.whenResponding && incident && { respondingTo: incident.id }),
    };
  }
  return { approved: false, reasons };
}

/** Why no auto-approval rule fitted a request a use case has just returned: [] unless it is waiting for people. */
export function notesOfReturned(request: AccessRequest): string[] {
  return request.status === 'pending' ? (request.autoApproveNotes ?? []) : [];
}

export function budgetUsed(rule: number, used: number, budget: number): string {
  return `rule ${rule + 1}: daily auto-approval budget used (${used} of ${budget} in the last 24 h)`;
}
