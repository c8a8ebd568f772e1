/** Use cases up to the decision: validate, request, approve / deny, and an administrator's direct grant. */
import { databaseOf, type CoreDeps } from './deps.js';
import { formatDuration, parseDuration } from './duration.js';
import { BrokerError } from './errors.js';
import { generateUsername } from './identifiers.js';
import type { AccessRequest, Actor, Grant } from './model.js';
import type { NewGrant } from './ports.js';

export interface RequestInput {
  database: string;
  level: string;
  /** "1h", "30m" … or milliseconds. */
  duration: string | number;
  reason: string;
  ticket?: string;
}

export interface ValidRequest {
  database: string;
  level: string;
  durationMs: number;
  reason: string;
  ticket?: string;
}

export const MAX_REASON_LENGTH = 500;
export const MAX_TICKET_LENGTH = 200;

/** Checks a request against the catalog. Throws a BrokerError naming the field; touches nothing. */
export function validateRequest(deps: Pick<CoreDeps, 'catalog'>, input: RequestInput): ValidRequest {
  const db = databaseOf(deps.catalog, input.database);
  if (!db.levels.has(input.level)) {
    throw new BrokerError('UNKNOWN_LEVEL', `unknown level "${input.level}" for ${db.name}`, {
      field: 'level',
      valid: [...db.levels.keys()],
    });
  }
  const durationMs = typeof input.duration === 'number' ? input.duration : parseDuration(input.duration);
  if (durationMs === undefined || !Number.isFinite(durationMs) || durationMs <= 0) {
    throw new BrokerError('INVALID_INPUT', `duration "${String(input.duration)}" is not a duration such as 30m or 2h`, {
      field: 'duration',
    });
  }
  if (durationMs > db.maxDuration) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `duration ${formatDuration(durationMs)} is longer than ${db.name}'s maximum of ${formatDuration(db.maxDuration)}`,
      { field: 'duration' },
    );
  }
  const reason = input.reason.trim();
  if (!reason) throw new BrokerError('INVALID_INPUT', 'a reason is required', { field: 'reason' });
  if (reason.length > MAX_REASON_LENGTH) {
    throw new BrokerError('INVALID_INPUT', `the reason is longer than ${MAX_REASON_LENGTH} characters`, { field: 'reason' });
  }
  const ticket = input.ticket?.trim() || undefined;
  if (ticket && ticket.length > MAX_TICKET_LENGTH) {
    throw new BrokerError('INVALID_INPUT', `the ticket is longer than ${MAX_TICKET_LENGTH} characters`, { field: 'ticket' });
  }
  return { database: db.name, level: input.level, durationMs, reason, ...(ticket && { ticket }) };
}

export async function requestAccess(deps: CoreDeps, requester: Actor, input: RequestInput): Promise<AccessRequest> {
  const valid = validateRequest(deps, input);
  const db = databaseOf(deps.catalog, valid.database);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const req = await tx.createRequest({
      ...valid,
      requester,
      status: 'pending',
      requiredApprovals: db.approval.required,
      createdAt: now,
    });
    await tx.appendAudit([
      {
        at: now,
        type: 'request.created',
        actor: requester,
        requestId: req.id,
        database: req.database,
        level: req.level,
        detail: { durationMs: req.durationMs, reason: req.reason, ticket: req.ticket ?? null },
      },
    ]);
    return req;
  });
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
  | { status: 'pending'; request: AccessRequest; approvals: number; required: number };

/**
 * Records one approval; the last required one approves the request and writes the grant row (username and
 * expiry chosen here, before any DDL) in the same transaction, then enqueues provisioning. Exactly one grant
 * results however many clicks race: the request's pending → approved update is conditional.
 */
export async function approve(deps: CoreDeps, requestId: number, approver: Actor, note?: string): Promise<ApproveResult> {
  const now = deps.clock.now();
  const result = await deps.store.transaction(async (tx): Promise<ApproveResult> => {
    const req = await tx.getRequest(requestId);
    if (!req) throw new BrokerError('NOT_FOUND', `request #${requestId} does not exist`);
    if (req.status !== 'pending') throw new BrokerError('ALREADY_DECIDED', `request #${requestId} is already ${req.status}`);
    if (approver.platform === req.requester.platform && approver.id === req.requester.id) {
      throw new BrokerError('SELF_APPROVAL', 'you cannot approve your own request');
    }
    const recorded = await tx.recordApproval({ requestId, approver, decision: 'approve', at: now, ...(note && { note }) });
    if (!recorded) throw new BrokerError('ALREADY_DECIDED', `you have already decided request #${requestId}`);
    await tx.appendAudit([
      { at: now, type: 'approval.recorded', actor: approver, requestId, database: req.database, level: req.level, detail: {} },
    ]);
    const approvals = (await tx.listApprovals(requestId)).filter(
      (a) => a.decision === 'approve' && !(a.approver.platform === req.requester.platform && a.approver.id === req.requester.id),
    );
    const distinct = new Set(approvals.map((a) => `${a.approver.platform}:${a.approver.id}`)).size;
    if (distinct < req.requiredApprovals) {
      return { status: 'pending', request: req, approvals: distinct, required: req.requiredApprovals };
    }
    const decisionNote = `approved by ${approvals.map((a) => a.approver.name ?? a.approver.email ?? a.approver.id).join(', ')}`;
    if (!(await tx.decideRequest(requestId, 'approved', now, decisionNote))) {
      throw new BrokerError('ALREADY_DECIDED', `request #${requestId} was decided by someone else`);
    }
    const grant = await tx.createGrant(grantRowFor(req, now));
    await tx.appendAudit([
      {
        at: now,
        type: 'request.approved',
        actor: approver,
        requestId,
        grantId: grant.id,
        database: req.database,
        level: req.level,
        detail: { note: decisionNote, username: grant.username, expiresAt: grant.expiresAt },
      },
    ]);
    return { status: 'approved', request: { ...req, status: 'approved', decidedAt: now, decisionNote }, grant };
  });
  if (result.status === 'approved') await enqueueProvision(deps, result.grant.id);
  return result;
}

/** Redis down must not lose an approval: the grant row exists and the sweeper re-enqueues stale provisioning. */
async function enqueueProvision(deps: CoreDeps, grantId: number): Promise<void> {
  try {
    await deps.scheduler.provision(grantId);
  } catch (err) {
    deps.logger.warn({ grantId, err: String(err) }, 'could not enqueue provisioning; the sweeper will retry');
  }
}

export async function deny(deps: CoreDeps, requestId: number, approver: Actor, reason: string): Promise<AccessRequest> {
  const now = deps.clock.now();
  const text = reason.trim();
  if (!text) throw new BrokerError('INVALID_INPUT', 'a reason is required to deny', { field: 'reason' });
  return deps.store.transaction(async (tx) => {
    const req = await tx.getRequest(requestId);
    if (!req) throw new BrokerError('NOT_FOUND', `request #${requestId} does not exist`);
    if (approver.platform === req.requester.platform && approver.id === req.requester.id) {
      throw new BrokerError('SELF_APPROVAL', 'you cannot decide your own request');
    }
    const note = `denied by ${approver.name ?? approver.email ?? approver.id}: ${text}`;
    if (!(await tx.decideRequest(requestId, 'denied', now, note))) {
      throw new BrokerError('ALREADY_DECIDED', `request #${requestId} is already ${req.status}`);
    }
    await tx.recordApproval({ requestId, approver, decision: 'deny', at: now, note: text });
    await tx.appendAudit([
      { at: now, type: 'request.denied', actor: approver, requestId, database: req.database, level: req.level, detail: { reason: text } },
    ]);
    return { ...req, status: 'denied', decidedAt: now, decisionNote: note };
  });
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
