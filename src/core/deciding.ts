/** Use cases that decide a request: approve (one of N or the last), deny, review a break-glass grant, expire
 *  undecided requests. */
import { finishAction, receivedDetail, tierWhenReceived, type ActionContext } from './action-context.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import { extend } from './grant-changes.js';
import { type AccessRequest, type Actor, type Approval, type AuditEvent, type Grant } from './model.js';
import { isAsker, isPartyTo, isRequester, matchApprover, personKey } from './policy.js';
import type { StateStore } from './ports.js';
import { auditingRefusals } from './refusals.js';
import { cleanText } from './text.js';
import { loadRequestView, notify, type RequestView } from './view.js';
import { assertRoomFor, enqueueProvision, grantRowFor } from './granting.js';
import { openMemberGrants } from './bundles.js';
import { approvalScopeOf } from './catalog.js';
import type { RequestId } from './model.js';

/** An approver confirms they reviewed a break-glass grant. The first review counts; later ones are told so. Returns
 *  the request's view as reviewed (the one the chat messages were updated with). */
export async function reviewBreakGlass(
  deps: CoreDeps,
  requestId: RequestId,
  reviewer: Actor,
  act?: ActionContext,
): Promise<RequestView> {
  return auditingRefusals(
    deps,
    reviewer,
    { action: 'review', requestId },
    () => review(deps, requestId, reviewer, act),
    act,
  );
}

async function review(
  deps: CoreDeps,
  requestId: RequestId,
  reviewer: Actor,
  act?: ActionContext,
): Promise<RequestView> {
  const req = await deps.store.getRequest(requestId);
  if (!req || !req.breakGlass) throw new BrokerError('NOT_FOUND', `request #${requestId} is not a break-glass request`);
  if (isRequester(reviewer, req))
    throw new BrokerError('SELF_APPROVAL', 'you cannot review your own break-glass access');
  const { approvers } = await deps.approvers.resolve(
    databaseOf(deps.catalog, req.database),
    deps.catalog.databases.get(req.database)?.approval.escalation.length ?? 0,
  );
  if (!matchApprover(reviewer, approvers))
    throw new BrokerError('FORBIDDEN', `you can't review this: you are not an approver for ${req.database}`);
  const now = deps.clock.now();
  const reviewedAt = act?.receivedAt ?? now;
  await deps.store.transaction(async (tx) => {
    if (!(await tx.markReview(requestId, 'reviewedAt', reviewedAt)))
      throw new BrokerError('ALREADY_DECIDED', `request #${requestId} was already reviewed`);
    await tx.appendAudit([
      {
        at: now,
        type: 'break_glass.reviewed',
        actor: reviewer,
        requestId,
        database: req.database,
        level: req.level,
        detail: {
          reviewBy: req.reviewBy ?? null,
          late: req.reviewBy !== undefined && reviewedAt > req.reviewBy,
          ...receivedDetail(act),
        },
      },
    ]);
    await finishAction(tx, act, 'reviewed', now);
  });
  const view = await notify(deps, requestId, (v) => deps.notifier.requestChanged(v));
  return view ?? loadRequestView(deps, requestId);
}

export type ApproveResult =
  /** `grants`: a bundle's, one per member (`grant` is the first). */
  (
    | { status: 'approved'; request: AccessRequest; grant: Grant; grants?: Grant[] }
    | { status: 'extended'; request: AccessRequest; grant: Grant }
    | { status: 'pending'; request: AccessRequest; approvals: number; required: number }
  ) & {
    /** The request's view the chat messages were updated with; absent when it could not be built. */
    view?: RequestView;
  };

/** The clicker must be an eligible approver (re-resolved, not trusted from the button) and neither the requester nor
 *  whoever asked on their behalf. A chat action is judged at the escalation tier the request had, and against who
 *  was on call, when it was received (see action-context.ts for what else is, and is not, known as of receipt);
 *  anything else as of now. */
async function assertMayDecide(deps: CoreDeps, req: AccessRequest, actor: Actor, act?: ActionContext): Promise<void> {
  if (isRequester(actor, req)) throw new BrokerError('SELF_APPROVAL', 'you cannot decide your own request');
  if (isAsker(actor, req))
    throw new BrokerError('SELF_APPROVAL', 'you cannot decide a request you made for someone else');
  const scope = approvalScopeOf(deps.catalog, req.database);
  if (!scope) throw new BrokerError('UNKNOWN_DATABASE', `${req.database} is no longer in the catalog`);
  const { approvers } = await deps.approvers.resolve(
    scope,
    await tierWhenReceived(deps.store, req, act),
    act?.receivedAt,
  );
  if (!matchApprover(actor, approvers)) {
    throw new BrokerError('FORBIDDEN', `you can't approve this: you are not an approver for ${req.database}`);
  }
}

/** Throws the reason `actor` may not decide request `requestId` now (not pending, their own, not an approver). */
export async function mayDecide(deps: CoreDeps, requestId: RequestId, actor: Actor, action = 'deny'): Promise<void> {
  await auditingRefusals(deps, actor, { action, requestId }, async () =>
    assertMayDecide(deps, await pendingRequest(deps, requestId), actor),
  );
}

/** `at`: when the decision was made (a chat action's receivedAt; now otherwise). */
async function pendingRequest(deps: CoreDeps, requestId: RequestId, at = deps.clock.now()): Promise<AccessRequest> {
  const req = await deps.store.getRequest(requestId);
  if (!req) throw new BrokerError('NOT_FOUND', `request #${requestId} does not exist`);
  if (req.status !== 'pending')
    throw new BrokerError('ALREADY_DECIDED', `request #${requestId} is already ${req.status}`);
  assertBeforeDeadline(req, at);
  return req;
}

/**
 * Records one approval; the last required one approves the request and writes the grant row (username and
 * expiry chosen here, before any DDL) in the same transaction, then enqueues provisioning. Exactly one grant
 * results however many clicks race: the request's pending → approved update is conditional.
 */
export async function approve(
  deps: CoreDeps,
  requestId: RequestId,
  approver: Actor,
  note?: string,
  act?: ActionContext,
): Promise<ApproveResult> {
  return auditingRefusals(
    deps,
    approver,
    { action: 'approve', requestId },
    () => recordApprove(deps, requestId, approver, note, act),
    act,
  );
}

/** A chat action is decided as of when it was received (`decidedAt`: the deadline, the approval's time); the grant's
 *  expiry counts from now, when access is actually given. */
async function recordApprove(
  deps: CoreDeps,
  requestId: RequestId,
  approver: Actor,
  note?: string,
  act?: ActionContext,
): Promise<ApproveResult> {
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
    if (!req || req.status !== 'pending')
      throw new BrokerError('ALREADY_DECIDED', `request #${requestId} is already ${req?.status}`);
    assertBeforeDeadline(req, decidedAt);
    // Appended once, with what the decision adds, at the end of the transaction (one audit-head lock, not two).
    const recordedEvent: AuditEvent = {
      at: now,
      type: 'approval.recorded',
      actor: approver,
      requestId,
      database: req.database,
      level: req.level,
      detail: { ...receivedDetail(act) },
    };
    let decisionNote: string;
    if (req.requiredApprovals <= 1 && !isPartyTo(approver, req)) {
      // This approval decides the request by itself (the requester cannot approve): recorded and decided in one step,
      // no approvals read back.
      decisionNote = approvedBy([mine]);
      const { recorded, decided } = await tx.recordDecidingApproval(mine, decisionNote);
      if (!recorded) throw await alreadyDecided(tx, requestId, approver);
      if (!decided) throw await notDecidable(tx, requestId, decidedAt);
    } else {
      if (!(await tx.recordApproval(mine))) throw await alreadyDecided(tx, requestId, approver);
      decisions = await tx.listApprovals(requestId);
      const approvals = decisions.filter((a) => a.decision === 'approve' && !isPartyTo(a.approver, req));
      const distinct = new Set(approvals.map((a) => personKey(a.approver))).size;
      if (distinct < req.requiredApprovals) {
        await tx.appendAudit([recordedEvent]);
        await finishAction(tx, act, `approval ${distinct} of ${req.requiredApprovals} recorded`, now);
        return { status: 'pending', request: req, approvals: distinct, required: req.requiredApprovals };
      }
      decisionNote = approvedBy(approvals);
      if (!(await tx.decideRequest(requestId, 'approved', decidedAt, decisionNote)))
        throw await notDecidable(tx, requestId, decidedAt);
    }
    const decided = { ...req, status: 'approved' as const, decidedAt, decisionNote };
    if (req.extendsGrantId !== undefined) {
      await tx.appendAudit([
        recordedEvent,
        {
          at: now,
          type: 'request.approved',
          actor: approver,
          requestId,
          grantId: req.extendsGrantId,
          database: req.database,
          level: req.level,
          detail: { note: decisionNote, extendsGrantId: req.extendsGrantId, ...receivedDetail(act) },
        },
      ]);
      await finishAction(tx, act, `request #${requestId} approved (extension)`, now);
      return { status: 'extended', request: decided, grant: (await tx.getGrant(req.extendsGrantId))! };
    }
    const bundle = deps.catalog.bundles?.get(req.database);
    if (bundle) {
      const who = req.requester.name ?? req.requester.email ?? 'the requester';
      const grants = await openMemberGrants(tx, deps.catalog, bundle, req, decidedAt, now, who);
      await tx.appendAudit([
        recordedEvent,
        {
          at: now,
          type: 'request.approved',
          actor: approver,
          requestId,
          database: req.database,
          level: req.level,
          detail: {
            note: decisionNote,
            bundle: bundle.name,
            members: grants.map((g) => ({
              database: g.database,
              level: g.level,
              requestId: g.requestId,
              grantId: g.id,
              username: g.username,
            })),
            ...receivedDetail(act),
          },
        },
      ]);
      await finishAction(
        tx,
        act,
        `request #${requestId} approved: grants ${grants.map((g) => `#${g.id}`).join(', ')}`,
        now,
      );
      return { status: 'approved', request: decided, grant: grants[0]!, grants };
    }
    await assertRoomFor(
      tx,
      databaseOf(deps.catalog, req.database),
      req.requester,
      req.level,
      req.requester.name ?? req.requester.email ?? 'the requester',
    );
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
  // A bundle's message and DM are there before any member is provisioned (its members edit them).
  const bundleView =
    result.status === 'approved' && result.grants
      ? await notify(deps, requestId, (v) => deps.notifier.requestChanged(v), { grant: null })
      : undefined;
  if (result.status === 'approved') for (const g of result.grants ?? [result.grant]) await enqueueProvision(deps, g.id);
  if (bundleView) return { ...result, view: bundleView };
  if (result.status === 'extended') {
    const grant = await extend(deps, result.grant.id, result.request.durationMs, approver);
    const view = await notify(deps, requestId, (v) => deps.notifier.requestChanged(v));
    return { ...result, grant, ...(view && { view }) };
  }
  // The transaction's own results: the request as decided (or still pending), its decisions, its new grant.
  const view = await notify(deps, requestId, (v) => deps.notifier.requestChanged(v), {
    grant: result.status === 'approved' && !result.grants ? result.grant : null,
    ahead: Promise.resolve([result.request, decisions]),
  });
  return view ? { ...result, view } : result;
}

/** The request's decision note: who approved it. */
function approvedBy(approvals: readonly Approval[]): string {
  return `approved by ${approvals.map((a) => a.approver.name ?? a.approver.email ?? a.approver.id).join(', ')}`;
}

/** Nobody decides a request once its approval deadline has passed (whether or not the sweeper has expired it). */
function assertBeforeDeadline(req: AccessRequest, now: number): void {
  if (req.decideBy !== undefined && req.decideBy <= now) {
    throw new BrokerError(
      'FORBIDDEN',
      `request #${req.id} can no longer be decided: its approval deadline passed at ${new Date(req.decideBy).toISOString()}; ask again`,
    );
  }
}

/** Why a conditional decision changed nothing: decided by someone else, no longer pending, or past its deadline. */
async function notDecidable(tx: StateStore, requestId: RequestId, now: number): Promise<BrokerError> {
  const req = await tx.getRequest(requestId);
  if (req?.status === 'pending') {
    assertBeforeDeadline(req, now);
    return new BrokerError('ALREADY_DECIDED', `request #${requestId} changed while you decided; try again`);
  }
  return new BrokerError(
    'ALREADY_DECIDED',
    req?.status === 'approved'
      ? `request #${requestId} was decided by someone else`
      : `request #${requestId} is already ${req?.status}`,
  );
}

/** The approval the store refused: this account's own earlier decision, or the same person's from another account. */
async function alreadyDecided(tx: StateStore, requestId: RequestId, approver: Actor): Promise<BrokerError> {
  const key = personKey(approver);
  const earlier = (await tx.listApprovals(requestId)).find(
    (a) =>
      personKey(a.approver) === key || (a.approver.platform === approver.platform && a.approver.id === approver.id),
  );
  if (earlier && (earlier.approver.platform !== approver.platform || earlier.approver.id !== approver.id)) {
    return new BrokerError(
      'FORBIDDEN',
      `you have already decided request #${requestId} from ${earlier.approver.platform}; one person counts once`,
    );
  }
  return new BrokerError('ALREADY_DECIDED', `you have already decided request #${requestId}`);
}

/** The denied request, and the view the approvers were sent (absent only when it could not be built). */
export interface DenyResult {
  request: AccessRequest;
  view?: RequestView;
}

export async function deny(
  deps: CoreDeps,
  requestId: RequestId,
  approver: Actor,
  reason: string,
  act?: ActionContext,
): Promise<DenyResult> {
  return auditingRefusals(
    deps,
    approver,
    { action: 'deny', requestId },
    () => recordDeny(deps, requestId, approver, reason, act),
    act,
  );
}

async function recordDeny(
  deps: CoreDeps,
  requestId: RequestId,
  approver: Actor,
  reason: string,
  act?: ActionContext,
): Promise<DenyResult> {
  const text = cleanText(reason).trim();
  if (!text) throw new BrokerError('INVALID_INPUT', 'a reason is required to deny', { field: 'reason' });
  const now = deps.clock.now();
  const decidedAt = act?.receivedAt ?? now;
  const checked = await pendingRequest(deps, requestId, decidedAt);
  await assertMayDecide(deps, checked, approver, act);
  const note = `denied by ${approver.name ?? approver.email ?? approver.id}: ${text}`;
  const denied = await deps.store.transaction(async (tx) => {
    if (!(await tx.decideRequest(requestId, 'denied', decidedAt, note)))
      throw await notDecidable(tx, requestId, decidedAt);
    await tx.recordApproval({ requestId, approver, decision: 'deny', at: decidedAt, note: text });
    await tx.appendAudit([
      {
        at: now,
        type: 'request.denied',
        actor: approver,
        requestId,
        database: checked.database,
        level: checked.level,
        detail: { reason: text, ...receivedDetail(act) },
      },
    ]);
    await finishAction(tx, act, `request #${requestId} denied`, now);
    return { ...checked, status: 'denied' as const, decidedAt, decisionNote: note };
  });
  const view = await notify(deps, requestId, (v) => deps.notifier.requestChanged(v));
  return { request: denied, ...(view && { view }) };
}

/** Pending requests past their approval deadline expire (the sweeper calls this). Returns how many. */
export async function expireUndecided(deps: CoreDeps): Promise<number> {
  const now = deps.clock.now();
  let n = 0;
  const due = await deps.store.listRequests({ statuses: ['pending'], decideByOrBefore: now });
  // A decision received before the deadline and not yet processed (a crash, a slow replica) still counts: the request
  // waits for it (the sweeper recovers unfinished actions first; a live lease means one is being processed now).
  const waiting = due.length
    ? new Set(
        (await deps.store.listInboxActions({ statuses: ['pending'], requestIds: due.map((r) => r.id) })).map(
          (a) => a.requestId,
        ),
      )
    : new Set();
  for (const req of due) {
    if (waiting.has(req.id)) continue;
    const note = `expired: nobody decided by ${new Date(req.decideBy ?? now).toISOString()}`;
    const expired = await deps.store.transaction(async (tx) => {
      if (!(await tx.decideRequest(req.id, 'expired', now, note))) return false;
      await tx.appendAudit([
        {
          at: now,
          type: 'request.expired',
          actor: { platform: 'system', id: 'db-access' },
          requestId: req.id,
          database: req.database,
          level: req.level,
          detail: { decideBy: req.decideBy ?? null },
        },
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
