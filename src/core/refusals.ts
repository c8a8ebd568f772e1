/**
 * Every refusal is audited: who asked for what, and why not. A refusal changes nothing else — the audit row is
 * written on its own, after the use case's transaction (if any) rolled back (with, for a chat action from the
 * inbox, its inbox row's "done").
 */
import { ActionRefused, AlreadyProcessed, refusedOutcome, type ActionContext } from './action-context.js';
import type { CoreDeps } from './deps.js';
import { BrokerError, describeError } from './errors.js';
import type { Actor, AuditEvent, GrantId, RequestId } from './model.js';

/** What the refused person was trying to do, for the audit row. */
export interface RefusedAction {
  /** "request", "approve", "deny", "extend", "revoke", "reveal", "review", "command", "click" … */
  action: string;
  requestId?: RequestId;
  grantId?: GrantId;
  database?: string;
  level?: string;
  /** The entry point ("slack", "teams", "cli", "api") when it is not the actor's platform. */
  via?: string;
}

/** Codes that are a rule saying no (audited). Malformed input and unknown names are answered, not audited. */
const REFUSAL_CODES: ReadonlySet<string> = new Set([
  'FORBIDDEN',
  'SELF_APPROVAL',
  'ALREADY_DECIDED',
  'DURATION_TOO_LONG',
  'RATE_LIMITED',
]);

export function isRefusal(err: unknown): err is BrokerError {
  return err instanceof BrokerError && REFUSAL_CODES.has(err.code);
}

function refusalEvent(
  at: number,
  actor: Actor,
  what: RefusedAction,
  code: string,
  reason: string,
  receivedAt?: number,
): AuditEvent {
  const { action, requestId, grantId, database, level, via } = what;
  return {
    at,
    type: 'access.refused',
    actor,
    ...(requestId !== undefined && { requestId }),
    ...(grantId !== undefined && { grantId }),
    ...(database !== undefined && { database }),
    ...(level !== undefined && { level }),
    detail: {
      action,
      code,
      reason,
      ...(via !== undefined && { via }),
      ...(receivedAt !== undefined && { receivedAt }),
    },
  };
}

/** Appends one `access.refused` event. Never throws: an audit failure is logged (the refusal stands either way). */
export async function recordRefusal(
  deps: Pick<CoreDeps, 'store' | 'clock' | 'logger'>,
  actor: Actor,
  what: RefusedAction,
  code: string,
  reason: string,
): Promise<void> {
  try {
    await deps.store.appendAudit([refusalEvent(deps.clock.now(), actor, what, code, reason)]);
  } catch (err) {
    deps.logger.error(
      { err: err instanceof Error ? err.message : String(err), action: what.action, code },
      'could not audit a refusal',
    );
  }
}

/**
 * Runs a use case; a refusal it throws is audited (then rethrown for the edge to explain). For a chat action from
 * the inbox (`act`), any BrokerError is that action's outcome: the inbox row is finished with it and a rule's
 * refusal audited, in one transaction — unless another processing of the same action finished it first (a
 * processing that outlived its lease, a second replica): then its "refusal" is only that processing's effect seen
 * from here, and nothing is audited (AlreadyProcessed is thrown instead).
 */
export async function auditingRefusals<T>(
  deps: Pick<CoreDeps, 'store' | 'clock' | 'logger'>,
  actor: Actor,
  what: RefusedAction,
  fn: () => Promise<T>,
  act?: ActionContext,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (act && err instanceof BrokerError) throw await refuseAction(deps, act, actor, what, err);
    if (isRefusal(err)) await recordRefusal(deps, actor, what, err.code, err.message);
    throw err;
  }
}

/** What to throw for a chat action's refusal: ActionRefused (row finished, refusal audited), AlreadyProcessed, or the
 *  refusal itself when the state DB could not take either (the inbox then finishes the row as it can). */
async function refuseAction(
  deps: Pick<CoreDeps, 'store' | 'clock' | 'logger'>,
  act: ActionContext,
  actor: Actor,
  what: RefusedAction,
  err: BrokerError,
): Promise<Error> {
  const now = deps.clock.now();
  try {
    const finished = await deps.store.transaction(async (tx) => {
      if (!(await tx.finishInboxAction(act.inboxId, refusedOutcome(err), now))) return false;
      if (isRefusal(err)) await tx.appendAudit([refusalEvent(now, actor, what, err.code, err.message, act.receivedAt)]);
      return true;
    });
    return finished ? new ActionRefused(err) : new AlreadyProcessed(act.inboxId);
  } catch (e) {
    deps.logger.error(
      { inboxId: act.inboxId, action: what.action, code: err.code, err: describeError(e) },
      'could not record the refusal of a chat action',
    );
    return err;
  }
}
