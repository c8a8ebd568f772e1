/** What happens to a grant whose provisioning did not succeed: recorded, retried while it may be, else cleaned up. */
import type { CoreDeps } from './deps.js';
import { TargetError, describeError } from './errors.js';
import { SYSTEM_ACTOR, type Grant } from './model.js';
import { dropUsers, revokeNow } from './revocation.js';
import { notify } from './view.js';

/** Retryable provisioning failures are retried this many times (≈ 1 minute with the job backoff), then fail. */
export const MAX_PROVISION_ATTEMPTS = 5;

/**
 * Records a failed attempt (audit + the people told). A retryable failure with attempts left leaves the grant
 * `provisioning` for the job's retry; otherwise the grant ends `failed`: a user that is not ours (conflict) is
 * never touched, anything else we may have half-made is removed.
 */
export async function provisionFailed(deps: CoreDeps, grant: Grant, err: unknown): Promise<void> {
  const attempts = grant.provisionAttempts + 1;
  const error = describeError(err);
  const retryable = err instanceof TargetError && err.kind === 'retryable';
  const willRetry = retryable && attempts < MAX_PROVISION_ATTEMPTS;
  const now = deps.clock.now();
  deps.logger.warn({ grantId: grant.id, attempts, error, willRetry }, 'provisioning failed');
  await deps.store.transaction(async (tx) => {
    await tx.transitionGrant(grant.id, ['provisioning'], { provisionAttempts: attempts, lastError: error });
    await tx.appendAudit([
      {
        at: now,
        type: 'grant.provision_failed',
        actor: SYSTEM_ACTOR,
        requestId: grant.requestId,
        grantId: grant.id,
        database: grant.database,
        level: grant.level,
        detail: { error, attempts, willRetry },
      },
    ]);
  });
  await notify(deps, grant.requestId, (v) => deps.notifier.provisionFailed(v, error, willRetry));
  if (willRetry) return;
  if (err instanceof TargetError && err.kind === 'conflict') {
    await deps.store.transitionGrant(grant.id, ['provisioning'], {
      status: 'failed',
      endReason: `provisioning failed: ${error}`,
      endKind: 'provision_failed',
      revokedAt: now,
    });
  } else {
    await revokeNow(deps, grant, { kind: 'provision_failed', reason: `provisioning failed: ${error}` });
  }
}

/** A grant that expired before its user could be made: ended `failed`, whatever was made removed. */
export async function expiredBeforeProvisioning(deps: CoreDeps, grant: Grant): Promise<Grant> {
  await revokeNow(deps, grant, { kind: 'provision_failed', reason: 'expired before it could be provisioned' });
  return (await deps.store.getGrant(grant.id)) ?? grant;
}

/**
 * A user made for a grant that ended meanwhile (revoked during provisioning) must not outlive it. A grant another
 * process activated meanwhile (a CLI's inline provisioning beside a re-enqueued job) keeps its user: it is live.
 */
export async function removeUnwanted(deps: CoreDeps, grant: Grant): Promise<Grant> {
  const current = (await deps.store.getGrant(grant.id)) ?? grant;
  if (current.status === 'active') return current;
  deps.logger.warn(
    { grantId: grant.id, username: grant.username, status: current.status },
    'grant ended during provisioning; removing the user just created',
  );
  const res = (await dropUsers(deps.engines.get(grant.database), [grant.username])).get(grant.username);
  if (res instanceof Error) throw res;
  return current;
}
