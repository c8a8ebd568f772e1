/**
 * A holder extends their own live grant without approval, as the database's policy allows: at most
 * `limits.selfExtensions` times, each by at most the grant's original duration, never past `limits.maxLifetime`
 * from activation (the extension is held to what is left). Anything else goes to the approvers as before.
 * The count and the lifetime are enforced by the state DB's conditional update that applies the extension, so two
 * concurrent clicks on two replicas cannot both take the last one.
 */
import { finishAction, receivedDetail, type ActionContext } from './action-context.js';
import type { DatabaseEntry } from './catalog.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { formatDuration } from './duration.js';
import { getGrant } from './grant-access.js';
import type { AccessRequest, Actor, Grant, GrantId, SelfExtension } from './model.js';
import { notify } from './view.js';

/** A database's self-extension policy, with its defaults: none, and a lifetime of 3 × maxDuration. */
export function selfExtensionLimits(db: DatabaseEntry): { count: number; maxLifetimeMs: number } {
  return { count: db.limits.selfExtensions ?? 0, maxLifetimeMs: db.limits.maxLifetime ?? 3 * db.maxDuration };
}

/** Tries before giving up to the approvers when other changes to the grant keep winning the race. */
const ATTEMPTS = 3;

/**
 * Applies the holder's extension at once when the policy allows it, recorded as an extension request approved by
 * policy (so every surface shows it like an approved one). Returns undefined when it must go to the approvers:
 * no self-extensions allowed or left, or no lifetime left. The caller has checked that the grant is the actor's.
 */
export async function trySelfExtension(
  deps: CoreDeps,
  actor: Actor,
  grantId: GrantId,
  askedMs: number,
  reason: string,
  act?: ActionContext,
): Promise<AccessRequest | undefined> {
  const first = await getGrant(deps, grantId);
  const db = databaseOf(deps.catalog, first.database);
  const limits = selfExtensionLimits(db);
  if (limits.count === 0) return undefined;
  const original = await deps.store.getRequest(first.requestId);
  if (!original) return undefined;
  let moved = false;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const grant = attempt === 0 ? first : await getGrant(deps, grantId);
    const used = grant.selfExtensions ?? 0;
    const now = deps.clock.now();
    const base = Math.max(grant.expiresAt, now);
    const extraMs = Math.min(askedMs, original.durationMs, (grant.activatedAt ?? 0) + limits.maxLifetimeMs - base);
    if (grant.status !== 'active' || grant.activatedAt === undefined || used >= limits.count || extraMs <= 0) {
      if (moved) await restoreBackstop(deps, grant);
      return undefined;
    }
    const to = base + extraMs;
    // The target's backstop moves first: should the state DB not apply it, the backstop is only late.
    await deps.engines.get(grant.database).updateUser({ grantId, username: grant.username, newExpiresAt: to });
    moved = true;
    const ext: SelfExtension = {
      by: actor,
      from: grant.expiresAt,
      to,
      count: used + 1,
      of: limits.count,
      capped: extraMs < askedMs,
    };
    const applied = await deps.store.transaction(async (tx) => {
      const c = { from: grant.expiresAt, to, below: limits.count, maxLifetimeMs: limits.maxLifetimeMs };
      if (!(await tx.selfExtendGrant(grantId, c))) return undefined;
      // The count as the update left it (the same as read, since the expiry it matched has not moved since).
      ext.count = (await tx.getGrant(grantId))?.selfExtensions ?? ext.count;
      const request = await tx.createRequest({
        requester: actor,
        database: grant.database,
        level: grant.level,
        durationMs: extraMs,
        reason,
        ...(original.ticket !== undefined && { ticket: original.ticket }),
        extendsGrantId: grantId,
        status: 'approved',
        requiredApprovals: 0,
        createdAt: now,
        decidedAt: now,
        decisionNote: noteOf(ext, extraMs),
        approvers: [],
      });
      await tx.appendAudit([
        {
          at: now,
          type: 'grant.self_extended',
          actor,
          requestId: request.id,
          grantId,
          database: grant.database,
          level: grant.level,
          detail: {
            by: actor.email ?? actor.id,
            from: ext.from,
            to: ext.to,
            count: ext.count,
            of: ext.of,
            askedMs,
            extraMs,
            capped: ext.capped,
            maxLifetimeMs: limits.maxLifetimeMs,
            grantRequestId: grant.requestId,
            ...receivedDetail(act),
          },
        },
      ]);
      await finishAction(tx, act, `grant #${grantId} self-extended (${ext.count} of ${ext.of})`, now);
      return request;
    });
    if (!applied) continue;
    await afterSelfExtension(deps, grant, ext);
    return applied;
  }
  await restoreBackstop(deps, await getGrant(deps, grantId));
  return undefined;
}

/**
 * After a backstop move that the state DB did not apply (another change to the grant won): the backstop goes back
 * to the grant's expiry as it now stands, which a concurrent extension may have moved past the value just set.
 */
async function restoreBackstop(deps: CoreDeps, grant: Grant): Promise<void> {
  if (grant.status !== 'active') return;
  await deps.engines
    .get(grant.database)
    .updateUser({ grantId: grant.id, username: grant.username, newExpiresAt: grant.expiresAt })
    .catch((err: unknown) =>
      deps.logger.warn({ grantId: grant.id, err: String(err) }, 'could not put the backstop back to the expiry'),
    );
}

function noteOf(ext: SelfExtension, extraMs: number): string {
  const who = ext.by.name ?? ext.by.email ?? ext.by.id;
  return `self-extended by ${who} (${ext.count} of ${ext.of})${ext.capped ? `: held to ${formatDuration(extraMs)}` : ''}`;
}

/** The revoke job follows the new expiry; the grant's approval message and its thread say what happened. */
async function afterSelfExtension(deps: CoreDeps, grant: Grant, ext: SelfExtension): Promise<void> {
  await deps.scheduler.revokeAt(grant.id, ext.to).catch((err: unknown) => {
    deps.logger.warn(
      { grantId: grant.id, err: String(err) },
      'could not move the revoke job; it re-checks the expiry when it fires',
    );
  });
  await notify(deps, grant.requestId, async (v) => {
    await deps.notifier.requestChanged(v);
    await deps.notifier.grantSelfExtended(v, ext);
  });
}
