/** What asking and deciding both do when access is given: the grant row, the room check under the person's lock,
 *  handing the grant to provisioning. */
import { type CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import { generateUsername } from './identifiers.js';
import type { DatabaseEntry } from './catalog.js';
import { LIVE_GRANT_STATUSES, type AccessRequest, type Actor } from './model.js';
import { personKey } from './policy.js';
import type { NewGrant, StateStore } from './ports.js';
import type { GrantId } from './model.js';

/** The grant row of an approved request: user name and expiry are fixed here, before any DDL. */
export function grantRowFor(req: AccessRequest, now: number): NewGrant {
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

/**
 * Under the requester's lock, in the transaction that writes a grant: they hold no live grant of this level on
 * the database, and fewer than its limit in all. Checked when access is given, not only when it was asked for.
 */
export async function assertRoomFor(
  tx: StateStore,
  db: DatabaseEntry,
  requester: Actor,
  level: string,
  who: string,
): Promise<void> {
  await tx.lockPerson(personKey(requester));
  const live = await tx.listGrants({ statuses: LIVE_GRANT_STATUSES, database: db.name, heldBy: requester });
  // A grant being revoked is on its way out: the same level may be given again (it still counts toward the limit).
  const same = live.find((g) => g.level === level && g.status !== 'revoking');
  const holds = who === 'you' ? 'you already hold' : `${who} already holds`;
  if (same) {
    throw new BrokerError(
      'FORBIDDEN',
      `${holds} ${level} on ${db.name} (grant #${same.id}): a second grant of the same level is not given; extend that one instead`,
    );
  }
  if (live.length >= db.limits.activeGrantsPerPerson) {
    throw new BrokerError(
      'FORBIDDEN',
      `${holds} ${live.length} live grant(s) on ${db.name} (the limit is ${db.limits.activeGrantsPerPerson}); one must end first`,
    );
  }
}

/** Redis down must not lose an approval: the grant row exists and the sweeper re-enqueues stale provisioning. */
export async function enqueueProvision(deps: CoreDeps, grantId: GrantId): Promise<void> {
  try {
    await deps.scheduler.provision(grantId);
  } catch (err) {
    deps.logger.warn({ grantId, err: String(err) }, 'could not enqueue provisioning; the sweeper will retry');
  }
}
