/**
 * Time-driven policy, run by the sweeper from the state DB: escalate undecided requests to the next tier, chase
 * break-glass reviews nobody did, and end grants whose PagerDuty incident has resolved. Each step is claimed with
 * a conditional update, so several sweepers do it once.
 */
import { approvalScopeOf } from './catalog.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { describeError } from './errors.js';
import { SYSTEM_ACTOR } from './model.js';
import { revoke } from './revocation.js';
import { notify } from './view.js';
import { dedupeRefs } from './approvers.js';

/** Pending requests whose next tier is due get that tier's approvers added and mentioned. */
export async function escalateDue(deps: CoreDeps): Promise<number> {
  const now = deps.clock.now();
  let n = 0;
  for (const req of await deps.store.listRequests({ statuses: ['pending'], nextEscalationAtOrBefore: now })) {
    const db = approvalScopeOf(deps.catalog, req.database);
    if (!db) continue;
    const tier = req.tier + 1;
    if (tier > db.approval.escalation.length) continue;
    const asked = await deps.approvers.resolveTier(db, tier);
    const next = db.approval.escalation[tier];
    const approvers = dedupeRefs([...req.approvers, ...asked.approvers]);
    if (
      !(await deps.store.escalateRequest(req.id, req.tier, tier, approvers, next ? req.createdAt + next.afterMs : null))
    )
      continue;
    n++;
    await deps.store.appendAudit([
      {
        at: now,
        type: 'request.escalated',
        actor: SYSTEM_ACTOR,
        requestId: req.id,
        database: req.database,
        level: req.level,
        detail: { tier, asked: asked.approvers.map((a) => a.email ?? a.id), unavailable: asked.unavailable },
      },
    ]);
    await notify(deps, req.id, (v) => deps.notifier.requestEscalated(v, tier, asked.approvers));
  }
  return n;
}

/** Break-glass grants nobody reviewed by their deadline are escalated once (alert again, approvers mentioned). */
export async function chaseOverdueReviews(deps: CoreDeps): Promise<number> {
  const now = deps.clock.now();
  let n = 0;
  for (const req of await deps.store.listRequests({ reviewOverdueAt: now })) {
    if (!(await deps.store.markReview(req.id, 'reviewEscalatedAt', now))) continue;
    n++;
    const db = databaseOf(deps.catalog, req.database);
    const everyone = await deps.approvers.resolve(db, db.approval.escalation.length);
    await deps.store.appendAudit([
      {
        at: now,
        type: 'break_glass.review_escalated',
        actor: SYSTEM_ACTOR,
        requestId: req.id,
        database: req.database,
        level: req.level,
        detail: { reviewBy: req.reviewBy ?? null, asked: everyone.approvers.map((a) => a.email ?? a.id) },
      },
    ]);
    // The overdue alert names everyone who may review it (all tiers).
    await notify(deps, req.id, (v) =>
      deps.notifier.reviewOverdue({ ...v, request: { ...v.request, approvers: everyone.approvers } }),
    );
  }
  return n;
}

/** Active grants scoped to an incident end when it resolves (same revocation path as expiry). */
export async function endResolvedIncidents(deps: CoreDeps): Promise<number> {
  const incidents = deps.incidents;
  if (!incidents) return 0;
  let n = 0;
  const requests = await deps.store.listRequests({ statuses: ['approved'], withIncident: true });
  for (const req of requests) {
    const grant = await deps.store.getGrantByRequest(req.id);
    if (!grant || grant.status !== 'active' || !req.incidentId) continue;
    try {
      const info = await incidents.incident(req.incidentId);
      if (info.status !== 'resolved') continue;
      const res = await revoke(
        deps,
        grant.id,
        SYSTEM_ACTOR,
        `incident ${req.incidentId} resolved`,
        'incident_resolved',
      );
      if (res.receipt) n++;
    } catch (err) {
      deps.logger.warn(
        { requestId: req.id, incident: req.incidentId, error: describeError(err) },
        'incident check failed; will retry',
      );
    }
  }
  return n;
}
