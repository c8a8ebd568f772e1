/** Bundles: several databases asked for in one request, decided once, then one grant per member database. */
import { validateRequest, type RequestInput, type ValidRequest } from './asking.js';
import type { Bundle, Catalog } from './catalog.js';
import { formatDuration } from './duration.js';
import { databaseOf } from './deps.js';
import { BrokerError } from './errors.js';
import { assertRoomFor, grantRowFor } from './granting.js';
import type { AccessRequest, Actor, Grant } from './model.js';
import type { StateStore } from './ports.js';

/**
 * Checks a bundle request against the catalog: the duration fits every member (the smallest maxDuration), and each
 * member is a request the catalog accepts. Returns the bundle request's own fields (its `database` is the bundle's
 * name, its `level` empty: the levels are the members'). Touches nothing.
 */
export function validateBundleRequest(catalog: Catalog, bundle: Bundle, input: RequestInput): ValidRequest {
  if (input.level !== '')
    throw new BrokerError(
      'INVALID_INPUT',
      `${bundle.name} is a bundle: it takes no level (its members have theirs); ask for \`${bundle.name} <duration> <reason>\``,
      { field: 'level' },
    );
  const members = bundle.members.map((m) =>
    validateRequest({ catalog }, { ...input, database: m.database, level: m.level }),
  );
  const first = members[0]!;
  if (first.durationMs > bundle.maxDuration)
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `duration ${formatDuration(first.durationMs)} is longer than ${bundle.name}'s maximum of ${formatDuration(bundle.maxDuration)} (its shortest member's)`,
      { field: 'duration' },
    );
  return { ...first, database: bundle.name, level: '' };
}

/** A person may have as many bundle requests waiting as the strictest of its members allows requests. */
export function bundlePendingLimit(catalog: Catalog, bundle: Bundle): number {
  return Math.min(...bundle.members.map((m) => databaseOf(catalog, m.database).limits.pendingRequestsPerPerson));
}

/** Under the requester's lock, each member as assertRoomFor checks a single grant (same level held, the limit). */
export async function assertRoomForMembers(
  tx: StateStore,
  catalog: Catalog,
  bundle: Bundle,
  requester: Actor,
  who: string,
): Promise<void> {
  for (const m of bundle.members) await assertRoomFor(tx, databaseOf(catalog, m.database), requester, m.level, who);
}

/**
 * In the transaction that approves bundle request `req`: one approved request per member (linked by `partOf`) and
 * its grant row, every member checked against the person's limits under their lock first (assertRoomFor). Any
 * member that cannot be given refuses the whole approval: nothing is written.
 */
export async function openMemberGrants(
  tx: StateStore,
  catalog: Catalog,
  bundle: Bundle,
  req: AccessRequest,
  decidedAt: number,
  now: number,
  who: string,
): Promise<Grant[]> {
  await assertRoomForMembers(tx, catalog, bundle, req.requester, who);
  const grants: Grant[] = [];
  for (const m of bundle.members) {
    const db = databaseOf(catalog, m.database);
    if (!db.levels.has(m.level) || req.durationMs > db.maxDuration)
      throw new BrokerError('FORBIDDEN', `${bundle.name} no longer fits ${db.name}'s catalog entry; ask again`);
    const member = await tx.createRequest({
      requester: req.requester,
      ...(req.askedBy && { askedBy: req.askedBy }),
      database: m.database,
      level: m.level,
      durationMs: req.durationMs,
      reason: req.reason,
      ...(req.ticket !== undefined && { ticket: req.ticket }),
      status: 'approved',
      requiredApprovals: 0,
      createdAt: now,
      decidedAt,
      decisionNote: `part of ${bundle.name} (request #${req.id})`,
      approvers: [],
      partOf: req.id,
    });
    grants.push(await tx.createGrant(grantRowFor(member, now)));
  }
  return grants;
}
