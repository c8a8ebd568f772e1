/**
 * The data behind the access report page (`GET /report`): the access report's rows (report.ts) for a date range,
 * narrowed to a person and/or a database, each marked with what a reviewer looks for — break-glass access and
 * extensions people gave themselves — and, when known, what was done with the grant (sessions, statements).
 * Pure apart from `reportPageRows`, which reads the state DB.
 */
import type { GrantActivity as RecordedActivity } from '../core/model.js';
import type { StateStore } from '../core/ports.js';
import { accessReport, csvCell, type AccessRow } from './report.js';

/** What a grant's user did on the target, as the statement-audit read reports it per grant. */
export interface GrantActivity {
  sessions: number;
  firstSeen?: number;
  lastSeen?: number;
  clients: string[];
  /** null when there is no count: not audited, not available on the server, or not read yet (a live grant's
   *  statements are read when it ends). */
  statements: number | null;
  /** Why the server could not give the count, in plain words (the statement statistics' own reason). */
  statementsWhy?: string;
}

/** Activity per grant id; grants absent from the map show no activity figures. */
export type GrantActivityMap = Map<number, GrantActivity>;

/** The page's figures from what the store recorded (StateStore.grantActivity): sessions, when, from where, statements. */
export function pageActivity(recorded: ReadonlyMap<number, RecordedActivity>): GrantActivityMap {
  const out: GrantActivityMap = new Map();
  for (const [id, a] of recorded) {
    const groups = a.sessions;
    out.set(id, {
      sessions: groups.reduce((n, g) => n + g.count, 0) + a.sessionsDropped,
      ...(groups.length > 0 && {
        firstSeen: Math.min(...groups.map((g) => g.firstSeenAt)),
        lastSeen: Math.max(...groups.map((g) => g.lastSeenAt)),
      }),
      clients: [
        ...new Set(groups.map((g) => `${g.clientAddress ?? '?'}${g.application ? ` (${g.application})` : ''}`)),
      ],
      statements: a.statements?.available ? a.statements.calls : null,
      ...(a.statements?.available === false && { statementsWhy: a.statements.why }),
    });
  }
  return out;
}

export interface ReportFilter {
  since: number;
  /** Exclusive. */
  until: number;
  /** Who held the access, exactly as the report names them (email, else name, else id), case-insensitive. */
  person?: string;
  database?: string;
}

export interface ReportPageRow extends AccessRow {
  /** When the holder extended the grant themselves (audit `grant.self_extended`), oldest first. */
  selfExtendedAt: number[];
  activity?: GrantActivity;
}

export interface ReportPageData {
  filter: ReportFilter;
  rows: ReportPageRow[];
  /** Databases and people with access in the range (before the person/database filter): the form's choices. */
  databases: string[];
  people: string[];
}

/** Audit type of an extension the holder gave themselves without an approval (within the catalog's limits). */
export const SELF_EXTENDED = 'grant.self_extended';

export interface ReportSource {
  rows: AccessRow[];
  /** Self-extension times per grant id. */
  selfExtended: Map<number, number[]>;
}

/** Reads what the page shows for `filter`'s date range from the state DB (the person filter is applied later).
 *  A range reaching past `now` is read up to `now`: no access starts later, and live grants are held until now. */
export async function reportPageRows(store: StateStore, filter: ReportFilter, now: number): Promise<ReportSource> {
  const rows = await accessReport(store, filter.since, Math.min(filter.until, now));
  const selfExtended = new Map<number, number[]>();
  // An extension happens while its grant is live, so before `until`; it may precede `since` for a long grant.
  for (const e of await store.listAudit({ type: SELF_EXTENDED, until: filter.until })) {
    if (e.grantId === undefined) continue;
    selfExtended.set(e.grantId, [...(selfExtended.get(e.grantId) ?? []), e.at]);
  }
  return { rows, selfExtended };
}

/**
 * The page's data: `source` narrowed by `filter`, with self-extensions and `activity` attached. Activity comes from
 * the caller (the HTTP server's `reportActivity` seam) for the grant ids of `source.rows`.
 */
export function reportPageData(
  source: ReportSource,
  filter: ReportFilter,
  activity: GrantActivityMap = new Map(),
): ReportPageData {
  const person = filter.person?.toLowerCase();
  const rows = source.rows
    .filter(
      (r) =>
        (person === undefined || r.who.toLowerCase() === person) &&
        (!filter.database || r.database === filter.database),
    )
    .map((r): ReportPageRow => {
      const a = activity.get(r.grantId);
      return {
        ...r,
        selfExtendedAt: [...(source.selfExtended.get(r.grantId) ?? [])].sort((x, y) => x - y),
        ...(a && { activity: a }),
      };
    });
  const unique = (xs: string[]) => [...new Set(xs)].sort((a, b) => a.localeCompare(b));
  return {
    filter,
    rows,
    databases: unique(source.rows.map((r) => r.database)),
    people: unique(source.rows.map((r) => r.who)),
  };
}

const isoOrEmpty = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

/** The page's rows as CSV: the access report's columns, then the review marks and the activity. */
export function reportPageCsv(rows: readonly ReportPageRow[]): string {
  const header =
    'grant_id,database,level,who,username,from,to,held_seconds,approved_by,reason,ticket,end_reason,break_glass,' +
    'break_glass_reviewed_at,self_extended_at,sessions,statements,clients,first_seen,last_seen';
  return [
    header,
    ...rows.map((r) =>
      [
        r.grantId,
        r.database,
        r.level,
        r.who,
        r.username,
        isoOrEmpty(r.from),
        isoOrEmpty(r.to),
        Math.round(r.durationMs / 1000),
        r.approvedBy,
        r.reason,
        r.ticket,
        r.endReason,
        r.breakGlass ? 'yes' : 'no',
        isoOrEmpty(r.reviewedAt),
        r.selfExtendedAt.map((t) => new Date(t).toISOString()).join(' '),
        r.activity?.sessions,
        r.activity?.statements ?? undefined,
        r.activity?.clients.join('; '),
        isoOrEmpty(r.activity?.firstSeen),
        isoOrEmpty(r.activity?.lastSeen),
      ]
        .map(csvCell)
        .join(','),
    ),
  ].join('\n');
}
