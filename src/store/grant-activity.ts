/**
 * The state store's part of "what was done with the access": sessions the sweeper saw (grant_sessions) and the
 * per-grant counts and statement summary (grant_activity), on SQLite, PostgreSQL and MySQL/MariaDB (migration
 * 0014). Every function here runs on the knex it is given: a transaction's where the contract needs one.
 */
import type { Knex } from 'knex';
import { addToGroups, type StoredSession } from '../core/activity.js';
import type { GrantActivity, GrantId, StatementSummary } from '../core/model.js';
import { MAX_SESSIONS_PER_GRANT, type SeenSession } from '../core/ports.js';
import { grantIdOf, num, type Row } from './rows.js';
import type { StoreDialect } from './url.js';

export const SESSIONS_TABLE = 'grant_sessions';
export const ACTIVITY_TABLE = 'grant_activity';

/** Ids per IN list: well under every dialect's bound-parameter limit. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * StateStore.recordSessions inside a transaction (`trx`). The grant_activity rows of the grants with sessions are
 * created if missing and locked (in grant order) before the existing sessions are read, so two sweepers recording
 * the same sample serialise per grant: the second sees the first's rows and reports nothing new, and the cap holds.
 */
export async function recordSessionsIn(
  trx: Knex,
  dialect: StoreDialect,
  at: number,
  sampledGrantIds: readonly GrantId[],
  seen: readonly SeenSession[],
): Promise<SeenSession[]> {
  const grantIds = [...new Set(seen.map((s) => s.grantId))].sort((a, b) => a - b);
  const kept = new Map<number, number>();
  const lastSample = new Map<number, number>();
  const existing = new Map<string, number>(); // `${grantId} ${sessionKey}` → row id
  for (const ids of chunks(grantIds)) {
    await trx(ACTIVITY_TABLE)
      .insert(ids.map((id) => ({ grant_id: id, sessions_kept: 0, sessions_dropped: 0 })))
      .onConflict('grant_id')
      .ignore();
    const q = trx(ACTIVITY_TABLE)
      .select('grant_id', 'sessions_kept', 'last_sample_at')
      .whereIn('grant_id', ids)
      .orderBy('grant_id');
    for (const r of (await (dialect === 'sqlite' ? q : q.forUpdate())) as Row[]) {
      kept.set(num(r.grant_id, 'grant_id'), num(r.sessions_kept, 'sessions_kept'));
      if (r.last_sample_at !== null)
        lastSample.set(num(r.grant_id, 'grant_id'), num(r.last_sample_at, 'last_sample_at'));
    }
    const rows = (await trx(SESSIONS_TABLE).select('id', 'grant_id', 'session_key').whereIn('grant_id', ids)) as Row[];
    for (const r of rows) existing.set(`${num(r.grant_id, 'grant_id')} ${String(r.session_key)}`, num(r.id, 'id'));
  }

  const again: number[] = [];
  const fresh: SeenSession[] = [];
  const dropped = new Map<number, number>();
  const added = new Map<number, number>();
  const inSample = new Set<string>();
  for (const s of seen) {
    const key = `${s.grantId} ${s.sessionKey}`;
    if (inSample.has(key)) continue;
    inSample.add(key);
    const id = existing.get(key);
    if (id !== undefined) {
      again.push(id);
      continue;
    }
    const n = (kept.get(s.grantId) ?? 0) + (added.get(s.grantId) ?? 0);
    if (n >= MAX_SESSIONS_PER_GRANT) {
      if (startedSince(s, lastSample.get(s.grantId))) dropped.set(s.grantId, (dropped.get(s.grantId) ?? 0) + 1);
    } else {
      added.set(s.grantId, (added.get(s.grantId) ?? 0) + 1);
      fresh.push(s);
    }
  }

  for (const ids of chunks(again))
    await trx(SESSIONS_TABLE).whereIn('id', ids).update({ last_seen_at: at, ended: null });
  for (const part of chunks(fresh)) {
    await trx(SESSIONS_TABLE).insert(
      part.map((s) => ({
        grant_id: s.grantId,
        session_key: s.sessionKey,
        started_at: s.startedAt ?? null,
        client_address: s.clientAddress ?? null,
        application: s.application ?? null,
        first_seen_at: at,
        last_seen_at: at,
        ended: null,
      })),
    );
  }
  for (const id of new Set([...added.keys(), ...dropped.keys()])) {
    await trx(ACTIVITY_TABLE)
      .where({ grant_id: id })
      .update({
        sessions_kept: (kept.get(id) ?? 0) + (added.get(id) ?? 0),
        sessions_dropped: trx.raw('sessions_dropped + ?', [dropped.get(id) ?? 0]),
      });
  }
  for (const ids of chunks(grantIds)) await trx(ACTIVITY_TABLE).whereIn('grant_id', ids).update({ last_sample_at: at });
  // Open sessions of a sampled grant that this sample did not see have ended (every one seen now has last_seen_at = at).
  for (const ids of chunks(sampledGrantIds)) {
    await trx(SESSIONS_TABLE)
      .whereIn('grant_id', ids)
      .whereNull('ended')
      .where('last_seen_at', '<', at)
      .update({ ended: 'closed' });
  }
  return fresh;
}

/**
 * A session past the cap is counted as dropped when it cannot have been counted before: it started after the
 * grant's previous sample (or there was none). One whose start is unknown is counted only at the first sample.
 */
export function startedSince(s: Pick<SeenSession, 'startedAt'>, lastSampleAt: number | undefined): boolean {
  if (lastSampleAt === undefined) return true;
  return s.startedAt !== undefined && s.startedAt > lastSampleAt;
}

/**
 * StateStore.closeGrantActivity inside a transaction. Like recordSessionsIn, the grant_activity rows are locked (in
 * grant order) before the sessions are touched, so a sweep recording the same grants waits instead of deadlocking.
 * Grants with the same summary (typically "not available") are written by one statement.
 */
export async function closeGrantActivityIn(
  trx: Knex,
  dialect: StoreDialect,
  ended: ReadonlyArray<{ grantId: GrantId; statements: StatementSummary }>,
): Promise<void> {
  if (ended.length === 0) return;
  const ids = [...new Set(ended.map((e) => e.grantId))].sort((a, b) => a - b);
  for (const part of chunks(ids)) {
    await trx(ACTIVITY_TABLE)
      .insert(part.map((id) => ({ grant_id: id, sessions_kept: 0, sessions_dropped: 0 })))
      .onConflict('grant_id')
      .ignore();
    if (dialect !== 'sqlite')
      await trx(ACTIVITY_TABLE).select('grant_id').whereIn('grant_id', part).orderBy('grant_id').forUpdate();
    await trx(SESSIONS_TABLE).whereIn('grant_id', part).whereNull('ended').update({ ended: 'revoked' });
  }
  const bySummary = new Map<string, number[]>();
  for (const e of ended) {
    const json = JSON.stringify(e.statements);
    bySummary.set(json, [...(bySummary.get(json) ?? []), e.grantId]);
  }
  for (const [json, grantIds] of bySummary)
    for (const part of chunks(grantIds))
      await trx(ACTIVITY_TABLE).whereIn('grant_id', part).update({ statements: json });
}

/** StateStore.grantActivity: two reads per 500 ids. */
export async function readGrantActivity(
  knex: Knex,
  grantIds: readonly GrantId[],
): Promise<Map<GrantId, GrantActivity>> {
  const out = new Map<GrantId, GrantActivity>();
  for (const ids of chunks([...new Set(grantIds)])) {
    const grants = (await knex('grants').select('id').whereIn('id', ids)) as Row[];
    for (const g of grants) out.set(grantIdOf(g.id, 'id'), { sessions: [], sessionsDropped: 0 });
    const activity = (await knex(ACTIVITY_TABLE).select('*').whereIn('grant_id', ids)) as Row[];
    for (const a of activity) {
      const entry = out.get(grantIdOf(a.grant_id, 'grant_id'));
      if (!entry) continue;
      entry.sessionsDropped = num(a.sessions_dropped, 'sessions_dropped');
      if (typeof a.statements === 'string') entry.statements = JSON.parse(a.statements) as StatementSummary;
    }
    const sessions = (await knex(SESSIONS_TABLE)
      .select('grant_id', 'client_address', 'application', 'started_at', 'first_seen_at', 'last_seen_at', 'ended')
      .whereIn('grant_id', ids)
      .orderBy([{ column: 'grant_id' }, { column: 'first_seen_at' }, { column: 'id' }])) as Row[];
    for (const s of sessions) {
      const entry = out.get(grantIdOf(s.grant_id, 'grant_id'));
      if (entry) addToGroups(entry.sessions, sessionOf(s));
    }
  }
  return out;
}

/** One stored session row, as the grouping reads it (the in-memory store reads its rows with it too). */
export function sessionOf(r: Row): StoredSession {
  const s: StoredSession = {
    firstSeenAt: num(r.first_seen_at, 'first_seen_at'),
    lastSeenAt: num(r.last_seen_at, 'last_seen_at'),
  };
  if (typeof r.client_address === 'string') s.clientAddress = r.client_address;
  if (typeof r.application === 'string') s.application = r.application;
  if (r.started_at !== null && r.started_at !== undefined) s.startedAt = num(r.started_at, 'started_at');
  if (r.ended === 'closed' || r.ended === 'revoked') s.ended = r.ended;
  return s;
}
