/** Changes to an active grant: extend its expiry, reveal fresh credentials by rotating the password. */
import { finishAction, type ActionContext } from './action-context.js';
import { auditingRefusals } from './refusals.js';
import { buildCredentials, type Credentials } from './credentials.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { formatDuration } from './duration.js';
import { BrokerError } from './errors.js';
import { getGrant } from './grant-access.js';
import { generatePassword } from './identifiers.js';
import type { Actor, Grant, GrantId } from './model.js';
import { isRequester, matchApprover } from './policy.js';
import { revoke, type RevokeResult } from './revocation.js';
import { notify } from './view.js';

/** Moves the expiry later by `extraMs`; the new total remaining may not exceed the database's maxDuration. */
export async function extend(deps: CoreDeps, grantId: GrantId, extraMs: number, actor: Actor): Promise<Grant> {
  const grant = await getGrant(deps, grantId);
  if (grant.status !== 'active')
    throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} is ${grant.status}, not active`);
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
    const moved = await tx.transitionGrant(grantId, ['active'], { expiresAt: newExpiresAt, remindedAt: null });
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
    deps.logger.warn(
      { grantId, err: String(err) },
      'could not move the revoke job; it re-checks the expiry when it fires',
    );
  });
  await notify(deps, grant.requestId, (v) => deps.notifier.requestChanged(v));
  return getGrant(deps, grantId);
}

/** Fresh credentials, and the grant they are for (as read to issue them: callers need not read it again). */
export interface Revealed {
  credentials: Credentials;
  grant: Grant;
}

/** Rotates the password and returns fresh credentials: the only way a password leaves the broker after creation. */
export async function revealCredentials(deps: CoreDeps, grantId: GrantId, actor: Actor): Promise<Revealed> {
  return auditingRefusals(deps, actor, { action: 'reveal', grantId }, () => rotateAndReveal(deps, grantId, actor));
}

async function rotateAndReveal(deps: CoreDeps, grantId: GrantId, actor: Actor): Promise<Revealed> {
  const grant = await getGrant(deps, grantId);
  if (actor.platform !== 'cli' && !isRequester(actor, grant)) {
    throw new BrokerError('FORBIDDEN', 'only the person this access is for can see these credentials');
  }
  if (grant.status !== 'active')
    throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} is ${grant.status}, not active`);
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
  return { credentials: buildCredentials(db, grant.username, password, grant.expiresAt), grant };
}

/** Early revocation from chat: the requester ("I'm done") or an eligible approver of the database may end it. */
export async function revokeAsUser(
  deps: CoreDeps,
  grantId: GrantId,
  actor: Actor,
  reason?: string,
  act?: ActionContext,
): Promise<RevokeResult> {
  return auditingRefusals(
    deps,
    actor,
    { action: 'revoke', grantId },
    () => endEarly(deps, grantId, actor, reason, act),
    act,
  );
}

async function endEarly(
  deps: CoreDeps,
  grantId: GrantId,
  actor: Actor,
  reason?: string,
  act?: ActionContext,
): Promise<RevokeResult> {
  const grant = await getGrant(deps, grantId);
  const requester = isRequester(actor, grant);
  if (!requester) {
    const { approvers } = await deps.approvers.resolve(databaseOf(deps.catalog, grant.database));
    if (!matchApprover(actor, approvers))
      throw new BrokerError(
        'FORBIDDEN',
        `you can't revoke grant #${grantId}: it is not yours and you are not an approver for ${grant.database}`,
      );
  }
  const who = actor.name ?? actor.email ?? actor.id;
  const why = reason ? `revoked by ${who}: ${reason}` : requester ? `ended early by ${who}` : `revoked by ${who}`;
  if (act) await startRevoking(deps, grant, actor, why, act);
  return revoke(deps, grantId, actor, why, 'revoked_early');
}

/**
 * A chat action's effect is the grant's move to `revoking` (with who and why), committed with its inbox row: from
 * there revocation finishes whatever happens to this process (revoke() below, else the sweeper retries `revoking`
 * grants). A grant already ending or ended is left as it is, and the action is done all the same.
 */
async function startRevoking(
  deps: CoreDeps,
  grant: Grant,
  actor: Actor,
  why: string,
  act: ActionContext,
): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    const moved = await tx.transitionGrant(grant.id, ['provisioning', 'active'], {
      status: 'revoking',
      revokeStartedAt: now,
      endReason: why,
      endKind: 'revoked_early',
    });
    if (moved) {
      await tx.appendAudit([
        {
          at: now,
          type: 'grant.revoke_requested',
          actor,
          requestId: grant.requestId,
          grantId: grant.id,
          database: grant.database,
          level: grant.level,
          detail: { reason: why, receivedAt: act.receivedAt },
        },
      ]);
    }
    await finishAction(
      tx,
      act,
      moved ? `grant #${grant.id} revoking` : `grant #${grant.id} was already ${grant.status}`,
      now,
    );
  });
}
