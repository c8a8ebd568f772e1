/** Use cases up to the decision: validate, request (or ask to extend), approve / deny, an admin's direct grant. */
import { finishAction, receivedDetail, tierWhenReceived, type ActionContext } from './action-context.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { formatDuration, parseDuration } from './duration.js';
import { BrokerError } from './errors.js';
import { extend } from './grant-changes.js';
import { getGrant } from './grant-access.js';
import { generateUsername } from './identifiers.js';
import { autoApprovalsUsed, budgetUsed, decideAutomatically } from './auto-approve.js';
import type { DatabaseEntry } from './catalog.js';
import { LIVE_GRANT_STATUSES, type AccessRequest, type Actor, type Approval, type ApproverRef, type AuditEvent, type Grant } from './model.js';
import { isRequester, matchApprover, personKey } from './policy.js';
import type { NewGrant, NewRequest, StateStore } from './ports.js';
import { auditingRefusals } from './refusals.js';
import { cleanLine, cleanText } from './text.js';
import { notify } from './view.js';

export interface RequestInput {
  database: string;
  level: string;
  /** "1h", "30m" … or milliseconds. */
  duration: string | number;
  reason: string;
  ticket?: string;
  /** A PagerDuty incident id: the grant also ends when the incident resolves. */
  incident?: string;
}

export interface RequestOptions {
  /** Immediate access for a listed break-glass user; alerted and reviewed afterwards. */
  breakGlass?: boolean;
  /** A chat action from the inbox: its row is finished in the transaction that opens the request. */
  action?: ActionContext;
}

const INCIDENT_ID = /^[A-Z0-9]{5,20}$/;

export interface ValidRequest {
  database: string;
  level: string;
  durationMs: number;
  reason: string;
  ticket?: string;
}

export const MAX_REASON_LENGTH = 500;
export const MAX_TICKET_LENGTH = 200;

function parseRequestedDuration(duration: string | number): number {
  const ms = typeof duration === 'number' ? duration : parseDuration(duration);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new BrokerError('INVALID_INPUT', `duration "${String(duration)}" is not a duration such as 30m or 2h`, { field: 'duration' });
  }
  return ms;
}

/** Reasons and tickets are stored, audited and shown to others: bidi and control characters never reach them. */
function validReason(reason: string): string {
  const text = cleanText(reason).trim();
  if (!text) throw new BrokerError('INVALID_INPUT', 'a reason is required', { field: 'reason' });
  if (text.length > MAX_REASON_LENGTH) {
    throw new BrokerError('INVALID_INPUT', `the reason is longer than ${MAX_REASON_LENGTH} characters`, { field: 'reason' });
  }
  return text;
}

/** Checks a request against the catalog. Throws a BrokerError naming the field; touches nothing. */
export function validateRequest(deps: Pick<CoreDeps, 'catalog'>, input: RequestInput): ValidRequest {
  const db = databaseOf(deps.catalog, input.database);
  if (!db.levels.has(input.level)) {
    throw new BrokerError('UNKNOWN_LEVEL', `unknown level "${input.level}" for ${db.name}`, {
      field: 'level',
      valid: [...db.levels.keys()],
    });
  }
  const durationMs = parseRequestedDuration(input.duration);
  if (durationMs > db.maxDuration) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `duration ${formatDuration(durationMs)} is longer than ${db.name}'s maximum of ${formatDuration(db.maxDuration)}`,
      { field: 'duration' },
    );
  }
  const reason = validReason(input.reason);
  const ticket = (input.ticket !== undefined && cleanLine(input.ticket).trim()) || undefined;
  if (ticket && ticket.length > MAX_TICKET_LENGTH) {
    throw new BrokerError('INVALID_INPUT', `the ticket is longer than ${MAX_TICKET_LENGTH} characters`, { field: 'ticket' });
  }
  return { database: db.name, level: input.level, durationMs, reason, ...(ticket && { ticket }) };
}

/** Resolves who may approve; refuses at once when nobody can (rather than leaving a request nobody sees). */
async function resolveApprovers(deps: CoreDeps, database: string): Promise<{ approvers: ApproverRef[]; unavailable: string[] }> {
  const db = databaseOf(deps.catalog, database);
  if (db.approval.approvers.length === 0) {
    throw new BrokerError('FORBIDDEN', `${db.name} has no approvers configured; ask an administrator (db-access grant)`);
  }
  const res = await deps.approvers.resolve(db);
  if (res.approvers.length === 0) {
    const why = res.unavailable.length ? ` (unavailable: ${res.unavailable.join('; ')})` : '';
    throw new BrokerError('FORBIDDEN', `nobody could be found to approve access to ${db.name}${why}`);
  }
  return res;
}

async function openRequest(
  deps: CoreDeps,
  row: Omit<NewRequest, 'approvers' | 'status' | 'createdAt' | 'requiredApprovals'>,
  policyNotes: string[] = [],
  act?: ActionContext,
): Promise<AccessRequest> {
  const db = databaseOf(deps.catalog, row.database);
  const { approvers, unavailable } = await resolveApprovers(deps, row.database);
  const now = deps.clock.now();
  const firstTier = db.approval.escalation[0];
  const req = await deps.store.transaction(async (tx) => {
    await assertFewPending(tx, db, row.requester);
    const created = await tx.createRequest({
      ...row,
      status: 'pending',
      requiredApprovals: db.levels.get(row.level)?.required ?? db.approval.required,
      createdAt: now,
      approvers,
      decideBy: now + db.approval.timeoutMs,
      tier: 0,
      ...(firstTier && { nextEscalationAt: now + firstTier.afterMs }),
      ...(unavailable.length > 0 && { unavailableSources: unavailable }),
    });
    await tx.appendAudit([
      {
        at: now,
        type: 'request.created',
        actor: row.requester,
        requestId: created.id,
        ...(created.extendsGrantId !== undefined && { grantId: created.extendsGrantId }),
        database: created.database,
        level: created.level,
        detail: {
          durationMs: created.durationMs,
          reason: created.reason,
          ticket: created.ticket ?? null,
          extendsGrantId: created.extendsGrantId ?? null,
          approvers: approvers.map((a) => a.email ?? a.id),
          unavailable,
          incident: created.incidentId ?? null,
          ...(policyNotes.length > 0 && { autoApprove: policyNotes }),
          ...receivedDetail(act),
        },
      },
    ]);
    await finishAction(tx, act, `request #${created.id} opened`, now);
    return created;
  });
  // Just written: no approvals, no grant (the view need not read them).
  await notify(deps, req.id, (v) => deps.notifier.requestOpened(v), { grant: null, ahead: Promise.resolve([req, []]) });
  return req;
}

/**
 * A request, routed by the database's policy: the same level already held → an extension of that grant; over the
 * per-person limit → refused; break-glass → granted at once, alerted, to be reviewed; an auto-approve rule that
 * fits → approved at once, saying which rule; otherwise → the approvers (and later escalation tiers) decide.
 */
export async function requestAccess(deps: CoreDeps, requester: Actor, input: RequestInput, opts: RequestOptions = {}): Promise<AccessRequest> {
  const what = { action: opts.breakGlass ? 'break-glass' : 'request', database: input.database, level: input.level };
  return auditingRefusals(deps, requester, what, async () => {
    await admit(deps, requester, opts.action);
    return routeRequest(deps, requester, input, opts);
  }, opts.action);
}

async function routeRequest(deps: CoreDeps, requester: Actor, input: RequestInput, opts: RequestOptions): Promise<AccessRequest> {
  const valid = validateRequest(deps, input);
  const db = databaseOf(deps.catalog, valid.database);
  const incident = await checkIncident(deps, input.incident);
  const row = { ...valid, requester, ...(incident && { incidentId: incident.id, incidentUrl: incident.url }) };
  const act = opts.action;
  if (opts.breakGlass) return breakGlass(deps, db, row, act);

  const live = await deps.store.listGrants({ statuses: LIVE_GRANT_STATUSES, database: db.name, heldBy: requester });
  const same = live.find((g) => g.level === valid.level && g.status !== 'revoking');
  if (same?.status === 'active') return openExtension(deps, requester, same.id, valid.durationMs, valid.reason, act);
  if (same) {
    throw new BrokerError('FORBIDDEN', `your ${valid.level} access to ${db.name} (grant #${same.id}) is being set up; once it is active, ask to extend it instead`);
  }
  if (live.length >= db.limits.activeGrantsPerPerson) {
    throw new BrokerError(
      'FORBIDDEN',
      `you already hold ${live.length} live grant(s) on ${db.name} (the limit is ${db.limits.activeGrantsPerPerson}); end one first`,
    );
  }

  const auto = await decideAutomatically(deps, db, requester, valid.level, valid.durationMs, act?.receivedAt);
  if (auto.approved) {
    try {
      const budget = { rule: auto.rule, limit: auto.budget };
      return await openApproved(deps, { ...row, tier: 0, breakGlass: false }, auto.explanation, 'request.auto_approved', { rule: auto.rule + 1 }, act, budget);
    } catch (err) {
      // Spent by a request of the same person that committed first: this one goes to people, saying so.
      if (!(err instanceof BudgetSpent)) throw err;
      return openRequest(deps, row, [err.message], act);
    }
  }
  return openRequest(deps, row, auto.reasons, act);
}

async function checkIncident(deps: CoreDeps, incident: string | undefined): Promise<{ id: string; url: string } | undefined> {
  if (!incident) return undefined;
  const id = incident.trim().replace(/^.*\/incidents\//, '').replace(/[/?#].*$/, '');
  if (!INCIDENT_ID.test(id)) throw new BrokerError('INVALID_INPUT', `"${incident}" is not a PagerDuty incident id`, { field: 'incident' });
  if (!deps.incidents) throw new BrokerError('INVALID_INPUT', 'incident-scoped access needs PagerDuty (PAGERDUTY_TOKEN)', { field: 'incident' });
  let info;
  try {
    info = await deps.incidents.incident(id);
  } catch (err) {
    throw new BrokerError('INVALID_INPUT', `incident ${id} could not be read: ${err instanceof Error ? err.message : String(err)}`, { field: 'incident' });
  }
  if (info.status === 'resolved') throw new BrokerError('INVALID_INPUT', `incident ${id} is already resolved`, { field: 'incident' });
  return { id, url: info.url };
}

/** Break-glass: a listed user, a reason, a short cap; access now, an alert, and a review that is chased if ignored. */
async function breakGlass(
  deps: CoreDeps,
  db: DatabaseEntry,
  row: Omit<NewRequest, 'approvers' | 'status' | 'createdAt' | 'requiredApprovals'>,
  act?: ActionContext,
): Promise<AccessRequest> {
  const bg = db.approval.breakGlass;
  if (!bg) throw new BrokerError('FORBIDDEN', `${db.name} has no break-glass procedure`);
  const email = row.requester.email?.toLowerCase();
  if (!email || !bg.users.includes(email)) throw new BrokerError('FORBIDDEN', `you are not on ${db.name}'s break-glass list`);
  if (row.durationMs > bg.maxDurationMs) {
    throw new BrokerError('DURATION_TOO_LONG', `break-glass access is capped at ${formatDuration(bg.maxDurationMs)} on ${db.name}`, { field: 'duration' });
  }
  const now = deps.clock.now();
  const req = await openApproved(
    deps,
    { ...row, tier: 0, breakGlass: true, reviewBy: now + bg.reviewWithinMs },
    `break-glass by ${row.requester.name ?? email}: review due by ${new Date(now + bg.reviewWithinMs).toISOString()}`,
    'request.break_glass',
    { reviewBy: now + bg.reviewWithinMs },
    act,
  );
  await notify(deps, req.id, (v) => deps.notifier.breakGlassUsed(v));
  return req;
}

/** The auto-approval budget was spent by the time the approving transaction held the person's lock. */
class BudgetSpent extends Error {}

/** A request approved by policy (auto-approval, break-glass): request, grant row and audit in one transaction. */
async function openApproved(
  deps: CoreDeps,
  row: Omit<NewRequest, 'approvers' | 'status' | 'createdAt' | 'requiredApprovals'>,
  note: string,
  auditType: 'request.auto_approved' | 'request.break_glass',
  detail: Record<string, unknown>,
  act?: ActionContext,
  budget?: { rule: number; limit: number },
): Promise<AccessRequest> {
  const now = deps.clock.now();
  const db = databaseOf(deps.catalog, row.database);
  const { req, grant } = await deps.store.transaction(async (tx) => {
    // Break-glass is for when the rules are in the way: it is capped by its own duration and reviewed instead.
    if (!row.breakGlass) await assertRoomFor(tx, db, row.requester, row.level, 'you');
    // Counted again under the person's lock (assertRoomFor took it): concurrent requests cannot both take the last one.
    if (budget) {
      const used = await autoApprovalsUsed(tx, now, db, row.requester);
      if (used >= budget.limit) throw new BudgetSpent(budgetUsed(budget.rule, used, budget.limit));
    }
    const created = await tx.createRequest({ ...row, status: 'approved', requiredApprovals: 0, createdAt: now, decidedAt: now, decisionNote: note, approvers: [] });
    const g = await tx.createGrant(grantRowFor(created, now));
    await tx.appendAudit([
      {
        at: now,
        type: auditType,
        actor: row.requester,
        requestId: created.id,
        grantId: g.id,
        database: db.name,
        level: created.level,
        detail: { ...detail, note, requester: row.requester, durationMs: created.durationMs, reason: created.reason, username: g.username, expiresAt: g.expiresAt, incident: created.incidentId ?? null, ...receivedDetail(act) },
      },
    ]);
    await finishAction(tx, act, `request #${created.id} approved by policy`, now);
    return { req: created, grant: g };
  });
  await enqueueProvision(deps, grant.id);
  await notify(deps, req.id, (v) => deps.notifier.requestOpened(v));
  // The user may have been made while the approval message was being posted: its activation then found no message
  // to update. Rendered again from the state DB now (a no-op unless newer than what was posted: message versions).
  await notify(deps, req.id, (v) => deps.notifier.requestChanged(v));
  return req;
}

/** An approver confirms they reviewed a break-glass grant. The first review counts; later ones are told so. */
export async function reviewBreakGlass(deps: CoreDeps, requestId: number, reviewer: Actor, act?: ActionContext): Promise<AccessRequest> {
  return auditingRefusals(deps, reviewer, { action: 'review', requestId }, () => review(deps, requestId, reviewer, act), act);
}

async function review(deps: CoreDeps, requestId: number, reviewer: Actor, act?: ActionContext): Promise<AccessRequest> {
  const req = await deps.store.getRequest(requestId);
  if (!req || !req.breakGlass) throw new BrokerError('NOT_FOUND', `request #${requestId} is not a break-glass request`);
  if (isRequester(reviewer, req)) throw new BrokerError('SELF_APPROVAL', 'you cannot review your own break-glass access');
  const { approvers } = await deps.approvers.resolve(databaseOf(deps.catalog, req.database), deps.catalog.databases.get(req.database)?.approval.escalation.length ?? 0);
  if (!matchApprover(reviewer, approvers)) throw new BrokerError('FORBIDDEN', `you can't review this: you are not an approver for ${req.database}`);
  const now = deps.clock.now();
  const reviewedAt = act?.receivedAt ?? now;
  await deps.store.transaction(async (tx) => {
    if (!(await tx.markReview(requestId, 'reviewedAt', reviewedAt))) throw new BrokerError('ALREADY_DECIDED', `request #${requestId} was already reviewed`);
    await tx.appendAudit([
      {
        at: now,
        type: 'break_glass.reviewed',
        actor: reviewer,
        requestId,
        database: req.database,
        level: req.level,
        detail: { reviewBy: req.reviewBy ?? null, late: req.reviewBy !== undefined && reviewedAt > req.reviewBy, ...receivedDetail(act) },
      },
    ]);
    await finishAction(tx, act, 'reviewed', now);
  });
  await notify(deps, requestId, (v) => deps.notifier.requestChanged(v));
  return (await deps.store.getRequest(requestId))!;
}

/** Asks to extend one's own active grant; approved like a request, then applied with `extend`. */
export async function requestExtension(
  deps: CoreDeps,
  requester: Actor,
  grantId: number,
  duration: string | number,
  reason: string,
  act?: ActionContext,
): Promise<AccessRequest> {
  return auditingRefusals(deps, requester, { action: 'extend', grantId }, async () => {
    await admit(deps, requester, act);
    return openExtension(deps, requester, grantId, duration, reason, act);
  }, act);
}

async function openExtension(deps: CoreDeps, requester: Actor, grantId: number, duration: string | number, reason: string, act?: ActionContext): Promise<AccessRequest> {
  const grant = await getGrant(deps, grantId);
  if (!isRequester(requester, grant)) throw new BrokerError('FORBIDDEN', `grant #${grantId} is not yours to extend`);
  if (grant.status !== 'active') throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} is ${grant.status}, not active`);
  const durationMs = parseRequestedDuration(duration);
  const db = databaseOf(deps.catalog, grant.database);
  const remaining = Math.max(grant.expiresAt, deps.clock.now()) + durationMs - deps.clock.now();
  if (remaining > db.maxDuration) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `that would leave ${formatDuration(remaining)}, more than ${db.name}'s maximum of ${formatDuration(db.maxDuration)}`,
      { field: 'duration' },
    );
  }
  const original = await deps.store.getRequest(grant.requestId);
  return openRequest(deps, {
    requester,
    database: grant.database,
    level: grant.level,
    durationMs,
    reason: validReason(reason),
    extendsGrantId: grantId,
    ...(original?.ticket !== undefined && { ticket: original.ticket }),
  }, [], act);
}

/** The grant row of an approved request: user name and expiry are fixed here, before any DDL. */
function grantRowFor(req: AccessRequest, now: number): NewGrant {
  return {
    requestId: req.id,
    requester: req.requester,
    database: req.database,
    level: req.level,
    username: generateUsername(req.requester.email ?? req.requester.name),
    createdAt: now,
    expiresAt: now + req.durationMs,
  };
}

export type ApproveResult =
  | { status: 'approved'; request: AccessRequest; grant: Grant }
  | { status: 'extended'; request: AccessRequest; grant: Grant }
  | { status: 'pending'; request: AccessRequest; approvals: number; required: number };

/** The clicker must be an eligible approver (re-resolved, not trusted from the button) and not the requester. A chat
 *  action is judged at the escalation tier the request had, and against who was on call, when it was received (see
 *  action-context.ts for what else is, and is not, known as of receipt); anything else as of now. */
async function assertMayDecide(deps: CoreDeps, req: AccessRequest, actor: Actor, act?: ActionContext): Promise<void> {
  if (isRequester(actor, req)) throw new BrokerError('SELF_APPROVAL', 'you cannot decide your own request');
  const { approvers } = await deps.approvers.resolve(databaseOf(deps.catalog, req.database), await tierWhenReceived(deps.store, req, act), act?.receivedAt);
  if (!matchApprover(actor, approvers)) {
    throw new BrokerError('FORBIDDEN', `you can't approve this: you are not an approver for ${req.database}`);
  }
}

/** Throws the reason `actor` may not decide request `requestId` now (not pending, their own, not an approver). */
export async function mayDecide(deps: CoreDeps, requestId: number, actor: Actor, action = 'deny'): Promise<void> {
  await auditingRefusals(deps, actor, { action, requestId }, async () => assertMayDecide(deps, await pendingRequest(deps, requestId), actor));
}

/** `at`: when the decision was made (a chat action's receivedAt; now otherwise). */
async function pendingRequest(deps: CoreDeps, requestId: number, at = deps.clock.now()): Promise<AccessRequest> {
  const req = await deps.store.getRequest(requestId);
  if (!req) throw new BrokerError('NOT_FOUND', `request #${requestId} does not exist`);
  if (req.status !== 'pending') throw new BrokerError('ALREADY_DECIDED', `request #${requestId} is already ${req.status}`);
  assertBeforeDeadline(req, at);
  return req;
}

/**
 * Records one approval; the last required one approves the request and writes the grant row (username and
 * expiry chosen here, before any DDL) in the same transaction, then enqueues provisioning. Exactly one grant
 * results however many clicks race: the request's pending → approved update is conditional.
 */
export async function approve(deps: CoreDeps, requestId: number, approver: Actor, note?: string, act?: ActionContext): Promise<ApproveResult> {
  return auditingRefusals(deps, approver, { action: 'approve', requestId }, () => recordApprove(deps, requestId, approver, note, act), act);
}

/** A chat action is decided as of when it was received (`decidedAt`: the deadline, the approval's time); the grant's
 *  expiry counts from now, when access is actually given. */
async function recordApprove(deps: CoreDeps, requestId: number, approver: Actor, note?: string, act?: ActionContext): Promise<ApproveResult> {
  const now = deps.clock.now();
  const decidedAt = act?.receivedAt ?? now;
  const checked = await pendingRequest(deps, requestId, decidedAt);
  await assertMayDecide(deps, checked, approver, act);
  const text = note === undefined ? '' : cleanText(note).trim();
  const mine: Approval = { requestId, approver, decision: 'approve', at: decidedAt, ...(text && { note: text }) };
  /** Every decision on the request once this one is recorded, for the view (read only for N-of-M). */
  let decisions: Approval[] = [mine];
  const result = await deps.store.transaction(async (tx): Promise<ApproveResult> => {
    // One approval decides the request: the conditional decideRequest below is then the check (its failure rolls
    // this approval back). N-of-M records an approval that may not decide, so it checks the request first.
    const req = checked.requiredApprovals > 1 ? await tx.getRequest(requestId) : checked;
    if (!req || req.status !== 'pending') throw new BrokerError('ALREADY_DECIDED', `request #${requestId} is already ${req?.status}`);
    assertBeforeDeadline(req, decidedAt);
    if (!(await tx.recordApproval(mine))) throw await alreadyDecided(tx, requestId, approver);
    // Appended once, with what the decision adds, at the end of the transaction (one audit-head lock, not two).
    const recordedEvent: AuditEvent = { at: now, type: 'approval.recorded', actor: approver, requestId, database: req.database, level: req.level, detail: { ...receivedDetail(act) } };
    // A request that needs one approval is decided by this one (recorded just now; the requester cannot approve):
    // only N-of-M reads the others back.
    if (req.requiredApprovals > 1 || isRequester(approver, req)) decisions = await tx.listApprovals(requestId);
    const approvals = decisions.filter((a) => a.decision === 'approve' && !isRequester(a.approver, req));
    const distinct = new Set(approvals.map((a) => personKey(a.approver))).size;
    if (distinct < req.requiredApprovals) {
      await tx.appendAudit([recordedEvent]);
      await finishAction(tx, act, `approval ${distinct} of ${req.requiredApprovals} recorded`, now);
      return { status: 'pending', request: req, approvals: distinct, required: req.requiredApprovals };
    }
    const decisionNote = `approved by ${approvals.map((a) => a.approver.name ?? a.approver.email ?? a.approver.id).join(', ')}`;
    if (!(await tx.decideRequest(requestId, 'approved', decidedAt, decisionNote))) throw await notDecidable(tx, requestId, decidedAt);
    const decided = { ...req, status: 'approved' as const, decidedAt, decisionNote };
    if (req.extendsGrantId !== undefined) {
      await tx.appendAudit([
        recordedEvent,
        { at: now, type: 'request.approved', actor: approver, requestId, grantId: req.extendsGrantId, database: req.database, level: req.level, detail: { note: decisionNote, extendsGrantId: req.extendsGrantId, ...receivedDetail(act) } },
      ]);
      await finishAction(tx, act, `request #${requestId} approved (extension)`, now);
      return { status: 'extended', request: decided, grant: (await tx.getGrant(req.extendsGrantId))! };
    }
    await assertRoomFor(tx, databaseOf(deps.catalog, req.database), req.requester, req.level, req.requester.name ?? req.requester.email ?? 'the requester');
    const grant = await tx.createGrant(grantRowFor(req, now));
    await tx.appendAudit([
      recordedEvent,
      {
        at: now,
        type: 'request.approved',
        actor: approver,
        requestId,
        grantId: grant.id,
        database: req.database,
        level: req.level,
        detail: { note: decisionNote, username: grant.username, expiresAt: grant.expiresAt, ...receivedDetail(act) },
      },
    ]);
    await finishAction(tx, act, `request #${requestId} approved: grant #${grant.id}`, now);
    return { status: 'approved', request: decided, grant };
  });
  if (result.status === 'approved') await enqueueProvision(deps, result.grant.id);
  if (result.status === 'extended') {
    const grant = await extend(deps, result.grant.id, result.request.durationMs, approver);
    await notify(deps, requestId, (v) => deps.notifier.requestChanged(v));
    return { ...result, grant };
  }
  // The transaction's own results: the request as decided (or still pending), its decisions, its new grant.
  await notify(deps, requestId, (v) => deps.notifier.requestChanged(v), {
    grant: result.status === 'approved' ? result.grant : null,
    ahead: Promise.resolve([result.request, decisions]),
  });
  return result;
}

/** Commands per person are rate-limited across replicas (one bucket per person, whichever platform they use). */
async function admit(deps: CoreDeps, requester: Actor, act?: ActionContext): Promise<void> {
  // An action processed again after a crash was admitted when it first arrived.
  if (!deps.requestLimiter || (act && act.attempt > 1)) return;
  const { allowed, retryAfterMs } = await deps.requestLimiter.take(`requests:${personKey(requester)}`);
  if (!allowed) {
    throw new BrokerError('RATE_LIMITED', `you have sent too many requests in a short time; try again in ${formatDuration(Math.max(1_000, retryAfterMs))}`);
  }
}

/** Nobody decides a request once its approval deadline has passed (whether or not the sweeper has expired it). */
function assertBeforeDeadline(req: AccessRequest, now: number): void {
  if (req.decideBy !== undefined && req.decideBy <= now) {
    throw new BrokerError('FORBIDDEN', `request #${req.id} can no longer be decided: its approval deadline passed at ${new Date(req.decideBy).toISOString()}; ask again`);
  }
}

/** Why a conditional decision changed nothing: decided by someone else, no longer pending, or past its deadline. */
async function notDecidable(tx: StateStore, requestId: number, now: number): Promise<BrokerError> {
  const req = await tx.getRequest(requestId);
  if (req?.status === 'pending') {
    assertBeforeDeadline(req, now);
    return new BrokerError('ALREADY_DECIDED', `request #${requestId} changed while you decided; try again`);
  }
  return new BrokerError('ALREADY_DECIDED', req?.status === 'approved' ? `request #${requestId} was decided by someone else` : `request #${requestId} is already ${req?.status}`);
}

/** The approval the store refused: this account's own earlier decision, or the same person's from another account. */
async function alreadyDecided(tx: StateStore, requestId: number, approver: Actor): Promise<BrokerError> {
  const key = personKey(approver);
  const earlier = (await tx.listApprovals(requestId)).find((a) => personKey(a.approver) === key || (a.approver.platform === approver.platform && a.approver.id === approver.id));
  if (earlier && (earlier.approver.platform !== approver.platform || earlier.approver.id !== approver.id)) {
    return new BrokerError('FORBIDDEN', `you have already decided request #${requestId} from ${earlier.approver.platform}; one person counts once`);
  }
  return new BrokerError('ALREADY_DECIDED', `you have already decided request #${requestId}`);
}

/** Under the requester's lock: pending requests on this database stay under the catalog's cap. */
async function assertFewPending(tx: StateStore, db: DatabaseEntry, requester: Actor): Promise<void> {
  await tx.lockPerson(personKey(requester));
  const pending = await tx.listRequests({ statuses: ['pending'], database: db.name, requestedBy: requester });
  if (pending.length >= db.limits.pendingRequestsPerPerson) {
    throw new BrokerError(
      'FORBIDDEN',
      `you already have ${pending.length} request(s) waiting on ${db.name} (the limit is ${db.limits.pendingRequestsPerPerson}); wait for a decision first`,
    );
  }
}

/**
 * Under the requester's lock, in the transaction that writes a grant: they hold no live grant of this level on
 * the database, and fewer than its limit in all. Checked when access is given, not only when it was asked for.
 */
async function assertRoomFor(tx: StateStore, db: DatabaseEntry, requester: Actor, level: string, who: string): Promise<void> {
  await tx.lockPerson(personKey(requester));
  const live = await tx.listGrants({ statuses: LIVE_GRANT_STATUSES, database: db.name, heldBy: requester });
  // A grant being revoked is on its way out: the same level may be given again (it still counts toward the limit).
  const same = live.find((g) => g.level === level && g.status !== 'revoking');
  const holds = who === 'you' ? 'you already hold' : `${who} already holds`;
  if (same) {
    throw new BrokerError('FORBIDDEN', `${holds} ${level} on ${db.name} (grant #${same.id}): a second grant of the same level is not given; extend that one instead`);
  }
  if (live.length >= db.limits.activeGrantsPerPerson) {
    throw new BrokerError('FORBIDDEN', `${holds} ${live.length} live grant(s) on ${db.name} (the limit is ${db.limits.activeGrantsPerPerson}); one must end first`);
  }
}

/** Redis down must not lose an approval: the grant row exists and the sweeper re-enqueues stale provisioning. */
async function enqueueProvision(deps: CoreDeps, grantId: number): Promise<void> {
  try {
    await deps.scheduler.provision(grantId);
  } catch (err) {
    deps.logger.warn({ grantId, err: String(err) }, 'could not enqueue provisioning; the sweeper will retry');
  }
}

export async function deny(deps: CoreDeps, requestId: number, approver: Actor, reason: string, act?: ActionContext): Promise<AccessRequest> {
  return auditingRefusals(deps, approver, { action: 'deny', requestId }, () => recordDeny(deps, requestId, approver, reason, act), act);
}

async function recordDeny(deps: CoreDeps, requestId: number, approver: Actor, reason: string, act?: ActionContext): Promise<AccessRequest> {
  const text = cleanText(reason).trim();
  if (!text) throw new BrokerError('INVALID_INPUT', 'a reason is required to deny', { field: 'reason' });
  const now = deps.clock.now();
  const decidedAt = act?.receivedAt ?? now;
  const checked = await pendingRequest(deps, requestId, decidedAt);
  await assertMayDecide(deps, checked, approver, act);
  const note = `denied by ${approver.name ?? approver.email ?? approver.id}: ${text}`;
  const denied = await deps.store.transaction(async (tx) => {
    if (!(await tx.decideRequest(requestId, 'denied', decidedAt, note))) throw await notDecidable(tx, requestId, decidedAt);
    await tx.recordApproval({ requestId, approver, decision: 'deny', at: decidedAt, note: text });
    await tx.appendAudit([
      { at: now, type: 'request.denied', actor: approver, requestId, database: checked.database, level: checked.level, detail: { reason: text, ...receivedDetail(act) } },
    ]);
    await finishAction(tx, act, `request #${requestId} denied`, now);
    return { ...checked, status: 'denied' as const, decidedAt, decisionNote: note };
  });
  await notify(deps, requestId, (v) => deps.notifier.requestChanged(v));
  return denied;
}

/** Pending requests past their approval deadline expire (the sweeper calls this). Returns how many. */
export async function expireUndecided(deps: CoreDeps): Promise<number> {
  const now = deps.clock.now();
  let n = 0;
  const due = await deps.store.listRequests({ statuses: ['pending'], decideByOrBefore: now });
  // A decision received before the deadline and not yet processed (a crash, a slow replica) still counts: the request
  // waits for it (the sweeper recovers unfinished actions first; a live lease means one is being processed now).
  const waiting = due.length ? new Set((await deps.store.listInboxActions({ statuses: ['pending'], requestIds: due.map((r) => r.id) })).map((a) => a.requestId)) : new Set();
  for (const req of due) {
    if (waiting.has(req.id)) continue;
    const note = `expired: nobody decided by ${new Date(req.decideBy ?? now).toISOString()}`;
    const expired = await deps.store.transaction(async (tx) => {
      if (!(await tx.decideRequest(req.id, 'expired', now, note))) return false;
      await tx.appendAudit([
        { at: now, type: 'request.expired', actor: { platform: 'system', id: 'db-access' }, requestId: req.id, database: req.database, level: req.level, detail: { decideBy: req.decideBy ?? null } },
      ]);
      return true;
    });
    if (expired) {
      n++;
      await notify(deps, req.id, (v) => deps.notifier.requestChanged(v));
    }
  }
  return n;
}

/**
 * An administrator issues access directly (runbooks, automation): request, approval and grant row in one
 * transaction, audited as an admin grant. The caller provisions inline and hands the credentials over once.
 */
export async function createAdminGrant(
  deps: CoreDeps,
  admin: Actor,
  grantee: Actor,
  input: RequestInput,
): Promise<{ request: AccessRequest; grant: Grant }> {
  const valid = validateRequest(deps, input);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const note = `issued by administrator ${admin.name ?? admin.id}`;
    const request = await tx.createRequest({
      ...valid,
      requester: grantee,
      status: 'approved',
      requiredApprovals: 0,
      createdAt: now,
      decidedAt: now,
      decisionNote: note,
      approvers: [],
    });
    await tx.recordApproval({ requestId: request.id, approver: admin, decision: 'approve', at: now, note });
    const grant = await tx.createGrant(grantRowFor(request, now));
    await tx.appendAudit([
      {
        at: now,
        type: 'grant.admin_issued',
        actor: admin,
        requestId: request.id,
        grantId: grant.id,
        database: valid.database,
        level: valid.level,
        detail: {
          grantee: grantee.email ?? grantee.id,
          durationMs: valid.durationMs,
          reason: valid.reason,
          ticket: valid.ticket ?? null,
          username: grant.username,
          expiresAt: grant.expiresAt,
        },
      },
    ]);
    return { request, grant };
  });
}
