/**
 * Every refusal is audited: who asked for what, and why not. A refusal changes nothing else — the audit row is
 * written on its own, after the use case's transaction (if any) rolled back.
 */
import type { CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import type { Actor } from './model.js';

/** What the refused person was trying to do, for the audit row. */
export interface RefusedAction {
  /** "request", "approve", "deny", "extend", "revoke", "reveal", "review", "command", "click" … */
  action: string;
  requestId?: number;
  grantId?: number;
  database?: string;
  level?: string;
  /** The entry point ("slack", "teams", "cli", "api") when it is not the actor's platform. */
  via?: string;
}

/** Codes that are a rule saying no (audited). Malformed input and unknown names are answered, not audited. */
const REFUSAL_CODES = new Set(['FORBIDDEN', 'SELF_APPROVAL', 'ALREADY_DECIDED', 'DURATION_TOO_LONG', 'RATE_LIMITED']);

export function isRefusal(err: unknown): err is BrokerError {
  return err instanceof BrokerError && REFUSAL_CODES.has(err.code);
}

/** Appends one `access.refused` event. Never throws: an audit failure is logged (the refusal stands either way). */
export async function recordRefusal(
  deps: Pick<CoreDeps, 'store' | 'clock' | 'logger'>,
  actor: Actor,
  what: RefusedAction,
  code: string,
  reason: string,
): Promise<void> {
  const { action, requestId, grantId, database, level, via } = what;
  try {
    await deps.store.appendAudit([
      {
        at: deps.clock.now(),
        type: 'access.refused',
        actor,
        ...(requestId !== undefined && { requestId }),
        ...(grantId !== undefined && { grantId }),
        ...(database !== undefined && { database }),
        ...(level !== undefined && { level }),
        detail: { action, code, reason, ...(via !== undefined && { via }) },
      },
    ]);
  } catch (err) {
    deps.logger.error({ err: err instanceof Error ? err.message : String(err), action, code }, 'could not audit a refusal');
  }
}

/** Runs a use case; a refusal it throws is audited (then rethrown for the edge to explain). */
export async function auditingRefusals<T>(
  deps: Pick<CoreDeps, 'store' | 'clock' | 'logger'>,
  actor: Actor,
  what: RefusedAction,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isRefusal(err)) await recordRefusal(deps, actor, what, err.code, err.message);
    throw err;
  }
}
