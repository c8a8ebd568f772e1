/**
 * Revocation: lock → kill sessions → drop, idempotent, retried without a cap by its callers (revoke job, sweeper).
 * Only the caller whose conditional update wins writes the audit row.
 */
import type { CoreDeps } from './deps.js';
import { describeError } from './errors.js';
import { exclusive, getGrant } from './grant-access.js';
import { SYSTEM_ACTOR, type Actor, type AuditEvent, type Grant, type RevocationReceipt } from './model.js';
import { revokeDue } from './revoke-batch.js';
import { notify } from './view.js';

export interface RevokeResult {
  grant: Grant;
  /** Undefined when the grant had already ended (nothing was done). */
  receipt?: RevocationReceipt;
}

/**
 * Lock → kill sessions → drop, then mark the grant ended. Idempotent: an ended grant is returned as is; a user
 * already gone is success ("already_absent"); only the caller whose conditional update wins writes the audit
 * row. A failure is recorded (attempts, error, failing-since; flagged after the alert threshold) and rethrown.
 */
export function revoke(deps: CoreDeps, grantId: number, actor: Actor = SYSTEM_ACTOR, reason = 'expired'): Promise<RevokeResult> {
  return exclusive(grantId, async () => {
    const grant = await getGrant(deps, grantId);
    if (grant.status === 'revoked' || grant.status === 'failed') return { grant };
    return endGrant(deps, grant, actor, reason, 'revoked');
  });
}

export async function endGrant(
  deps: CoreDeps,
  grant: Grant,
  actor: Actor,
  reason: string,
  finalStatus: 'revoked' | 'failed',
): Promise<RevokeResult> {
  const now = deps.clock.now();
  if (grant.status !== 'revoking') {
    await deps.store.transitionGrant(grant.id, ['provisioning', 'active'], {
      status: 'revoking',
      revokeStartedAt: now,
      endReason: reason,
    });
  }
  const current = await getGrant(deps, grant.id);
  if (current.status !== 'revoking') return { grant: current };
  const engine = deps.engines.get(grant.database);
  let receipt: RevocationReceipt;
  try {
    const disabled = await engine.disableUser(grant.username);
    deps.failpoint('revoke.after-disable');
    const deleted = await engine.deleteUser(grant.username);
    deps.failpoint('revoke.after-delete');
    receipt = {
      sessionsTerminated: disabled.sessionsTerminated,
      userOutcome: disabled.existed ? deleted.outcome : 'already_absent',
      at: deps.clock.now(),
    };
  } catch (err) {
    await revokeFailed(deps, current, err);
    throw err;
  }
  // A failed provisioning stays `failed` even when its cleanup is finished later by the sweeper.
  const status = finalStatus === 'failed' || current.endReason?.startsWith('provisioning failed') ? 'failed' : 'revoked';
  const won = await deps.store.transaction(async (tx) => {
    const ok = await tx.transitionGrant(grant.id, ['revoking'], {
      status,
      revokedAt: receipt.at,
      revokeAttempts: current.revokeAttempts + 1,
      revokeFailingSince: null,
      lastError: null,
    });
    if (ok) await tx.appendAudit([revokedEvent(grant, actor, current.endReason ?? reason, receipt)]);
    return ok;
  });
  const ended = await getGrant(deps, grant.id);
  if (!won) return { grant: ended };
  deps.logger.info({ grantId: grant.id, ...receipt, reason }, 'grant ended');
  if (receipt.at < grant.expiresAt) {
    await deps.scheduler.cancelRevoke(grant.id).catch(() => undefined);
  }
  await notify(deps, grant.requestId, (v) => deps.notifier.grantEnded(v));
  return { grant: ended, receipt };
}

/** The audit row of a finished revocation. */
export function revokedEvent(grant: Grant, actor: Actor, reason: string, receipt: RevocationReceipt): AuditEvent {
  return {
    at: receipt.at,
    type: 'grant.revoked',
    actor,
    requestId: grant.requestId,
    grantId: grant.id,
    database: grant.database,
    level: grant.level,
    detail: {
      reason,
      username: grant.username,
      sessionsTerminated: receipt.sessionsTerminated,
      user: receipt.userOutcome,
      expiresAt: grant.expiresAt,
      lateMs: Math.max(0, receipt.at - grant.expiresAt),
    },
  };
}

/** Records a failed attempt on a `revoking` grant (attempts, error, failing-since; flagged after the threshold). */
export async function revokeFailed(deps: CoreDeps, grant: Grant, err: unknown): Promise<void> {
  const now = deps.clock.now();
  const error = describeError(err);
  const failingSince = grant.revokeFailingSince ?? now;
  const flag = !grant.flaggedAt && now - failingSince >= deps.revokeAlertAfterMs;
  deps.logger.error({ grantId: grant.id, attempts: grant.revokeAttempts + 1, error }, 'revocation failed; will retry');
  await deps.store.transaction(async (tx) => {
    await tx.transitionGrant(grant.id, ['revoking'], {
      revokeAttempts: grant.revokeAttempts + 1,
      lastError: error,
      revokeFailingSince: failingSince,
      ...(flag && { flaggedAt: now }),
    });
    const base = { actor: SYSTEM_ACTOR, requestId: grant.requestId, grantId: grant.id, database: grant.database, level: grant.level };
    await tx.appendAudit([
      { ...base, at: now, type: 'grant.revoke_failed', detail: { error, attempts: grant.revokeAttempts + 1 } },
      ...(flag
        ? [{ ...base, at: now, type: 'grant.revoke_flagged' as const, detail: { error, failingForMs: now - failingSince } }]
        : []),
    ]);
  });
  if (flag) {
    deps.logger.error({ grantId: grant.id, failingForMs: now - failingSince }, 'revocation keeps failing: flagged');
    await notify(deps, grant.requestId, (v) => deps.notifier.revocationStuck(v, error));
  }
}

export type DueCheck = { due: false; dueAt: number } | { due: true; result?: RevokeResult };

/** The revoke job's entry: never revokes before expiresAt (re-read from the state DB, which extensions move). */
export async function revokeIfDue(deps: CoreDeps, grantId: number): Promise<DueCheck> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) return { due: true };
  if (grant.status === 'revoked' || grant.status === 'failed') return { due: true, result: { grant } };
  if (grant.status !== 'revoking' && deps.clock.now() < grant.expiresAt) return { due: false, dueAt: grant.expiresAt };
  // Batched with every other due grant of its database (revoke-batch.ts): a burst of expiries is a few statements.
  return { due: true, result: await revokeDue(deps, grant, 'expired') };
}

