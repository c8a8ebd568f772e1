/**
 * What was done with the access, from the target servers' own statistics (no proxy): the sweeper samples each
 * server once per pass for the sessions of every live grant's user (sampleSessions), and the revocation reads the
 * users' statement statistics before dropping them (readStatements). The facts go to the state store
 * (grant_sessions / grant_activity), the `session.seen` and `grant.revoked` audit rows and the receipt.
 */
import { serverKey } from './catalog.js';
import type { CoreDeps } from './deps.js';
import { describeError } from './errors.js';
import type { AuditEvent, Grant, GrantId, SessionGroup, StatementSummary } from './model.js';
import { SYSTEM_ACTOR } from './model.js';
import type { DatabaseEngine, ObservedSession, SeenSession } from './ports.js';
import { cleanLine } from './text.js';

/** Characters kept of a session's key, address and application (the store's column widths). */
const MAX_FIELD = 64;

export interface SampleReport {
  /** Servers asked (one query each). */
  servers: number;
  sessionsSeen: number;
  /** Sessions seen for the first time (each audited as `session.seen`). */
  firstSeen: number;
  /** Catalog databases whose server could not be asked. */
  unreachable: string[];
}

/**
 * The sweeper's sample: every active grant's user, grouped by target server (serverKey), asked about in ONE
 * observeSessions call per server whatever the number of grants; the answers recorded in one store transaction
 * with a `session.seen` audit row for each session seen for the first time. A server that cannot be asked is
 * skipped (its grants' sessions are left as they were) and named in the report.
 */
export async function sampleSessions(deps: CoreDeps): Promise<SampleReport> {
  const { store, engines, catalog, clock, logger } = deps;
  const report: SampleReport = { servers: 0, sessionsSeen: 0, firstSeen: 0, unreachable: [] };
  const live = await store.listGrants({ statuses: ['active'] });
  const servers = new Map<string, { database: string; grants: Grant[] }>();
  for (const g of live) {
    const db = catalog.databases.get(g.database);
    if (!db) continue;
    const key = serverKey(db);
    const entry = servers.get(key) ?? { database: g.database, grants: [] };
    entry.grants.push(g);
    servers.set(key, entry);
  }
  if (servers.size === 0) return report;
  const at = clock.now();
  const sampled: GrantId[] = [];
  const seen: SeenSession[] = [];
  const byId = new Map(live.map((g) => [g.id, g]));
  await Promise.all(
    [...servers.values()].map(async ({ database, grants }) => {
      report.servers++;
      let observed: ObservedSession[];
      try {
        observed = await engines.get(database).observeSessions(grants.map((g) => g.username));
      } catch (err) {
        report.unreachable.push(database);
        logger.warn({ database, error: describeError(err) }, 'sweeper: cannot sample sessions');
        return;
      }
      for (const g of grants) sampled.push(g.id);
      seen.push(...seenOf(grants, observed));
    }),
  );
  report.sessionsSeen = seen.length;
  const fresh = await store.transaction(async (tx) => {
    const kept = await tx.recordSessions(at, sampled, seen);
    await tx.appendAudit(kept.map((s) => seenEvent(byId.get(s.grantId)!, s, at)));
    return kept;
  });
  report.firstSeen = fresh.length;
  return report;
}

/**
 * At revocation, before the users are disabled: their sessions now (one observeSessions call), so sessions that
 * started since the last sweep are on the receipt too. Never throws: a failure only leaves them out (logged).
 */
export async function sampleBeforeRevoke(
  deps: CoreDeps,
  engine: DatabaseEngine,
  grants: readonly Grant[],
): Promise<void> {
  const { store, clock, logger } = deps;
  try {
    const observed = await engine.observeSessions(grants.map((g) => g.username));
    if (observed.length === 0) return;
    const at = clock.now();
    const byId = new Map(grants.map((g) => [g.id, g]));
    await store.transaction(async (tx) => {
      const kept = await tx.recordSessions(at, [], seenOf(grants, observed));
      await tx.appendAudit(kept.map((s) => seenEvent(byId.get(s.grantId)!, s, at)));
    });
  } catch (err) {
    logger.warn({ grants: grants.length, error: describeError(err) }, 'revocation: cannot sample sessions');
  }
}

/**
 * The users' statement statistics, read after their sessions ended and before they are dropped. Never throws: a
 * failure is "not available" with the reason, for every user.
 */
export async function readStatements(
  deps: CoreDeps,
  engine: DatabaseEngine,
  usernames: readonly string[],
): Promise<Map<string, StatementSummary>> {
  try {
    return await engine.statementSummaries(usernames);
  } catch (err) {
    const error = describeError(err);
    deps.logger.warn({ users: usernames.length, error }, 'revocation: cannot read statement statistics');
    return new Map(usernames.map((u) => [u, { available: false, why: `could not be read: ${error}` }]));
  }
}

/** Observed sessions → the store's shape: tied to their grant by user name, text cleaned and cut. */
function seenOf(grants: readonly Grant[], observed: readonly ObservedSession[]): SeenSession[] {
  const byUser = new Map(grants.map((g) => [g.username, g.id]));
  const out: SeenSession[] = [];
  for (const o of observed) {
    const grantId = byUser.get(o.username);
    if (grantId === undefined) continue;
    const s: SeenSession = { grantId, sessionKey: o.sessionKey.slice(0, MAX_FIELD) };
    if (o.startedAt !== undefined && Number.isFinite(o.startedAt)) s.startedAt = Math.round(o.startedAt);
    const address = o.clientAddress === undefined ? '' : cleanLine(o.clientAddress).trim().slice(0, MAX_FIELD);
    if (address) s.clientAddress = address;
    const application = o.application === undefined ? '' : cleanLine(o.application).trim().slice(0, MAX_FIELD);
    if (application) s.application = application;
    out.push(s);
  }
  return out;
}

function seenEvent(grant: Grant, s: SeenSession, at: number): AuditEvent {
  return {
    at,
    type: 'session.seen',
    actor: SYSTEM_ACTOR,
    requestId: grant.requestId,
    grantId: grant.id,
    database: grant.database,
    level: grant.level,
    detail: {
      username: grant.username,
      session: s.sessionKey,
      ...(s.startedAt !== undefined && { startedAt: s.startedAt }),
      ...(s.clientAddress !== undefined && { clientAddress: s.clientAddress }),
      ...(s.application !== undefined && { application: s.application }),
    },
  };
}

/** One stored session, as the groups need it. */
export interface StoredSession {
  clientAddress?: string;
  application?: string;
  startedAt?: number;
  firstSeenAt: number;
  lastSeenAt: number;
  ended?: 'closed' | 'revoked';
}

/**
 * Adds a session to its (clientAddress, application) group; the group's first seen is the earliest session start
 * the server reported, else when the sweep first saw it. Shared by the store and its in-memory fake, so both group
 * alike. Keeps `groups` in order of first seen.
 */
export function addToGroups(groups: SessionGroup[], s: StoredSession): void {
  const first = s.startedAt !== undefined ? Math.min(s.startedAt, s.firstSeenAt) : s.firstSeenAt;
  const g = groups.find((x) => x.clientAddress === s.clientAddress && x.application === s.application);
  if (g) {
    g.count++;
    g.firstSeenAt = Math.min(g.firstSeenAt, first);
    g.lastSeenAt = Math.max(g.lastSeenAt, s.lastSeenAt);
    if (s.ended === 'revoked') g.endedByRevocation++;
  } else {
    groups.push({
      ...(s.clientAddress !== undefined && { clientAddress: s.clientAddress }),
      ...(s.application !== undefined && { application: s.application }),
      count: 1,
      firstSeenAt: first,
      lastSeenAt: s.lastSeenAt,
      endedByRevocation: s.ended === 'revoked' ? 1 : 0,
    });
  }
  groups.sort((a, b) => a.firstSeenAt - b.firstSeenAt);
}
