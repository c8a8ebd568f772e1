/**
 * A grant's life after approval: provision → active → (extend) → revoke. Every step is idempotent and safe to
 * run twice, concurrently, or after a crash at any point; the state DB row is the source of truth.
 */
import { buildCredentials, type Credentials } from './credentials.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { formatDuration } from './duration.js';
import { BrokerError, TargetError, describeError } from './errors.js';
import { generatePassword } from './identifiers.js';
import { SYSTEM_ACTOR, type Actor, type Grant, type RevocationReceipt } from './model.js';

/** Retryable provisioning failures are retried this many times (≈ 2 minutes with the job backoff), then fail. */
export const MAX_PROVISION_ATTEMPTS = 5;

const inFlight = new Map<number, Promise<unknown>>();

/** One revocation or provisioning of a grant at a time in this process (the sweeper and a job may race). */
async function exclusive<T>(grantId: number, fn: () => Promise<T>): Promise<T> {
  while (inFlight.has(grantId)) await inFlight.get(grantId)!.catch(() => undefined);
  const p = fn();
  inFlight.set(grantId, p);
  try {
    return await p;
  } finally {
    inFlight.delete(grantId);
  }
}

export async function getGrant(deps: CoreDeps, grantId: number): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) throw new BrokerError('NOT_FOUND', `grant #${grantId} does not exist`);
  return grant;
}

export type ProvisionResult =
  | { outcome: 'active'; grant: Grant; credentials: Credentials; user: 'created' | 'adopted' }
  | { outcome: 'skipped'; grant: Grant };

/**
 * Creates (or adopts) the user of a `provisioning` grant and marks it active. Returns the credentials for an
 * inline caller (CLI); the job path passes nothing on and the requester reveals them later by rotation.
 * Throws on a retryable failure while attempts remain; otherwise the grant ends `failed`, cleaned up.
 */
export function provision(deps: CoreDeps, grantId: number): Promise<ProvisionResult> {
  return exclusive(grantId, async () => {
    const grant = await getGrant(deps, grantId);
    if (grant.status !== 'provisioning') return { outcome: 'skipped', grant };
    if (deps.clock.now() >= grant.expiresAt) {
      await endGrant(deps, grant, SYSTEM_ACTOR, 'expired before it could be provisioned', 'failed');
      return { outcome: 'skipped', grant: await getGrant(deps, grantId) };
    }
    const db = databaseOf(deps.catalog, grant.database);
    const level = db.levels.get(grant.level);
    if (!level) throw new BrokerError('UNKNOWN_LEVEL', `level "${grant.level}" is no longer in the catalog`);
    const engine = deps.engines.get(grant.database);
    const password = generatePassword();
    const log = deps.logger.child({ grantId, database: grant.database, username: grant.username });
    let user: 'created' | 'adopted';
    try {
      ({ outcome: user } = await engine.newUser({
        grantId,
        username: grant.username,
        password,
        expiresAt: grant.expiresAt,
        level,
      }));
    } catch (err) {
      await provisionFailed(deps, grant, err);
      throw err;
    }
    deps.failpoint('provision.after-create-user');
    const now = deps.clock.now();
    const activated = await deps.store.transaction(async (tx) => {
      const ok = await tx.transitionGrant(grantId, ['provisioning'], {
        status: 'active',
        activatedAt: now,
        provisionAttempts: grant.provisionAttempts + 1,
        lastError: null,
      });
      if (ok) {
        await tx.appendAudit([
          {
            at: now,
            type: 'grant.provisioned',
            actor: SYSTEM_ACTOR,
            requestId: grant.requestId,
            grantId,
            database: grant.database,
            level: grant.level,
            detail: { username: grant.username, user, expiresAt: grant.expiresAt },
          },
        ]);
      }
      return ok;
    });
    const current = await getGrant(deps, grantId);
    if (!activated) {
      // Revoked while we were creating the user: make sure what we just created does not outlive the grant.
      log.warn({ status: current.status }, 'grant ended during provisioning; removing the user just created');
      await engine.disableUser(grant.username);
      await engine.deleteUser(grant.username);
      return { outcome: 'skipped', grant: current };
    }
    log.info({ user, expiresAt: grant.expiresAt }, 'grant active');
    try {
      await deps.scheduler.revokeAt(grantId, grant.expiresAt);
    } catch (err) {
      log.warn({ err: String(err) }, 'could not schedule the revoke job; the sweeper will revoke at expiry');
    }
    await deps.notifier.grantActivated(current).catch((err: unknown) => log.warn({ err: String(err) }, 'notify failed'));
    return { outcome: 'active', grant: current, credentials: buildCredentials(db, grant.username, password, grant.expiresAt), user };
  });
}

async function provisionFailed(deps: CoreDeps, grant: Grant, err: unknown): Promise<void> {
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
  await deps.notifier.provisionFailed(grant, error, willRetry).catch(() => undefined);
  if (!willRetry) {
    // A user that is not ours (conflict) is never touched; anything else we may have half-made is removed.
    if (err instanceof TargetError && err.kind === 'conflict') {
      await deps.store.transitionGrant(grant.id, ['provisioning'], {
        status: 'failed',
        endReason: `provisioning failed: ${error}`,
        revokedAt: now,
      });
    } else {
      await endGrant(deps, grant, SYSTEM_ACTOR, `provisioning failed: ${error}`, 'failed');
    }
  }
}

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

async function endGrant(
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
    if (ok) {
      await tx.appendAudit([
        {
          at: receipt.at,
          type: 'grant.revoked',
          actor,
          requestId: grant.requestId,
          grantId: grant.id,
          database: grant.database,
          level: grant.level,
          detail: {
            reason: current.endReason ?? reason,
            username: grant.username,
            sessionsTerminated: receipt.sessionsTerminated,
            user: receipt.userOutcome,
            expiresAt: grant.expiresAt,
            lateMs: Math.max(0, receipt.at - grant.expiresAt),
          },
        },
      ]);
    }
    return ok;
  });
  const ended = await getGrant(deps, grant.id);
  if (!won) return { grant: ended };
  deps.logger.info({ grantId: grant.id, ...receipt, reason }, 'grant ended');
  if (receipt.at < grant.expiresAt) {
    await deps.scheduler.cancelRevoke(grant.id).catch(() => undefined);
  }
  await deps.notifier.grantEnded(ended, receipt).catch(() => undefined);
  return { grant: ended, receipt };
}

async function revokeFailed(deps: CoreDeps, grant: Grant, err: unknown): Promise<void> {
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
    await deps.notifier.revocationStuck(grant, error).catch(() => undefined);
  }
}

export type DueCheck = { due: false; dueAt: number } | { due: true; result?: RevokeResult };

/** The revoke job's entry: never revokes before expiresAt (re-read from the state DB, which extensions move). */
export async function revokeIfDue(deps: CoreDeps, grantId: number): Promise<DueCheck> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) return { due: true };
  if (grant.status === 'revoked' || grant.status === 'failed') return { due: true, result: { grant } };
  if (grant.status !== 'revoking' && deps.clock.now() < grant.expiresAt) return { due: false, dueAt: grant.expiresAt };
  return { due: true, result: await revoke(deps, grantId, SYSTEM_ACTOR, 'expired') };
}

/** Moves the expiry later by `extraMs`; the new total remaining may not exceed the database's maxDuration. */
export async function extend(deps: CoreDeps, grantId: number, extraMs: number, actor: Actor): Promise<Grant> {
  const grant = await getGrant(deps, grantId);
  if (grant.status !== 'active') throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} is ${grant.status}, not active`);
  const db = databaseOf(deps.catalog, grant.database);
  const now = deps.clock.now();
  const newExpiresAt = Math.max(grant.expiresAt, now) + extraMs;
  if (extraMs <= 0) throw new BrokerError('INVALID_INPUT', 'the extension must be positive', { field: 'duration' });
  if (newExpiresAt - now > db.maxDuration) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `that would leave ${formatDuration(newExpiresAt - now)}, more than ${db.name}'s maximum of ${formatDuration(db.maxDuration)}`,
      { field: 'duration' },
    );
  }
  // The target's backstop moves first: were the state DB update to fail, the backstop would only be late.
  await deps.engines.get(grant.database).updateUser({ grantId, username: grant.username, newExpiresAt });
  const ok = await deps.store.transaction(async (tx) => {
    const moved = await tx.transitionGrant(grantId, ['active'], { expiresAt: newExpiresAt });
    if (moved) {
      await tx.appendAudit([
        {
          at: now,
          type: 'grant.extended',
          actor,
          requestId: grant.requestId,
          grantId,
          database: grant.database,
          level: grant.level,
          detail: { from: grant.expiresAt, to: newExpiresAt, extraMs },
        },
      ]);
    }
    return moved;
  });
  if (!ok) throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} ended while being extended`);
  await deps.scheduler.revokeAt(grantId, newExpiresAt).catch((err: unknown) => {
    deps.logger.warn({ grantId, err: String(err) }, 'could not move the revoke job; it re-checks the expiry when it fires');
  });
  return getGrant(deps, grantId);
}

/** Rotates the password and returns fresh credentials: the only way a password leaves the broker after creation. */
export async function revealCredentials(deps: CoreDeps, grantId: number, actor: Actor): Promise<Credentials> {
  const grant = await getGrant(deps, grantId);
  if (actor.platform !== 'cli' && (actor.platform !== grant.requester.platform || actor.id !== grant.requester.id)) {
    throw new BrokerError('FORBIDDEN', 'only the requester can see these credentials');
  }
  if (grant.status !== 'active') throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} is ${grant.status}, not active`);
  const db = databaseOf(deps.catalog, grant.database);
  const password = generatePassword();
  await deps.engines.get(grant.database).updateUser({ grantId, username: grant.username, newPassword: password });
  await deps.store.appendAudit([
    {
      at: deps.clock.now(),
      type: 'grant.credentials_issued',
      actor,
      requestId: grant.requestId,
      grantId,
      database: grant.database,
      level: grant.level,
      detail: { username: grant.username },
    },
  ]);
  return buildCredentials(db, grant.username, password, grant.expiresAt);
}
