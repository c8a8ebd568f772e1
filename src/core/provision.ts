/**
 * Provisioning: create (or adopt) the user of a `provisioning` grant, then mark it active. Idempotent: the grant
 * row (username, expiry) was written before any DDL, so a retry after a crash adopts the same user.
 */
import { buildCredentials, type Credentials } from './credentials.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { BrokerError, TargetError, describeError } from './errors.js';
import { exclusive, getGrant } from './grant-access.js';
import { generatePassword } from './identifiers.js';
import { SYSTEM_ACTOR, type Grant } from './model.js';
import { endGrant } from './revocation.js';
import { notify, readAhead } from './view.js';

/** Retryable provisioning failures are retried this many times (≈ 1 minute with the job backoff), then fail. */
export const MAX_PROVISION_ATTEMPTS = 5;

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
    // The person's message needs the request and its approvals: read while the user is being created.
    const ahead = readAhead(deps, grant.requestId);
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
    if (!activated) {
      // Revoked while we were creating the user: make sure what we just created does not outlive the grant.
      const current = await getGrant(deps, grantId);
      log.warn({ status: current.status }, 'grant ended during provisioning; removing the user just created');
      await engine.disableUser(grant.username);
      await engine.deleteUser(grant.username);
      return { outcome: 'skipped', grant: current };
    }
    log.info({ user, expiresAt: grant.expiresAt }, 'grant active');
    const credentials = buildCredentials(db, grant.username, password, grant.expiresAt);
    // What the transition above wrote (no need to read it back).
    const { lastError: _cleared, ...rest } = grant;
    const active: Grant = { ...rest, status: 'active', activatedAt: now, provisionAttempts: grant.provisionAttempts + 1 };
    // The person is told while the revoke job is scheduled: neither waits for the other (the sweeper backs the job).
    // The message starts first: it is what the person is waiting for.
    const told = notify(deps, grant.requestId, (v) => deps.notifier.grantActivated(v, db.delivery === 'message' ? credentials : undefined), {
      grant: active,
      ahead,
    });
    const scheduled = deps.scheduler.revokeAt(grantId, grant.expiresAt).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'could not schedule the revoke job; the sweeper will revoke at expiry');
    });
    await Promise.all([told, scheduled]);
    return { outcome: 'active', grant: active, credentials, user };
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
  await notify(deps, grant.requestId, (v) => deps.notifier.provisionFailed(v, error, willRetry));
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

