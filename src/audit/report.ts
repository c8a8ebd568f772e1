/**
 * The access report: per database, who held which level, from when to when, for how long, approved by whom and
 * why — built from the state DB. As a table, CSV, or Slack text (posted by `db-access report --post`, which a
 * cron job or Kubernetes CronJob runs on a schedule).
 */
import { formatDuration } from '../core/duration.js';
import { groupBy } from '../core/group-by.js';
import type { AccessRequest, Approval, Grant, GrantId, RequestId } from '../core/model.js';
import type { StateStore } from '../core/ports.js';

export interface AccessRow {
  grantId: GrantId;
  requestId: RequestId;
  database: string;
  level: string;
  who: string;
  username: string;
  from: number;
  /** When access ended (revoked/failed), or undefined while live. */
  to?: number;
  durationMs: number;
  approvedBy: string;
  reason: string;
  ticket?: string;
  endReason?: string;
  /** Granted at once by a break-glass user (audited as request.break_glass), to be reviewed afterwards. */
  breakGlass: boolean;
  /** When an approver reviewed that break-glass access. */
  reviewedAt?: number;
}

/** Requests and approvals are read for this many grants at a time (one statement each). */
const READ_CHUNK = 500;

/** Grants whose access overlapped [since, until) (of one database, if given). Ordered by database, then start. */
export async function accessReport(
  store: StateStore,
  since: number,
  until: number,
  opts: { database?: string } = {},
): Promise<AccessRow[]> {
  const grants = await store.listGrants({
    heldDuring: { since, until },
    ...(opts.database !== undefined && { database: opts.database }),
  });
  const rows: AccessRow[] = [];
  for (let i = 0; i < grants.length; i += READ_CHUNK) {
    const chunk = grants.slice(i, i + READ_CHUNK);
    const ids = chunk.map((g) => g.requestId);
    const [requests, approvals] = await Promise.all([store.listRequests({ ids }), store.listApprovalsFor(ids)]);
    const requestOf = new Map(requests.map((r) => [r.id, r]));
    const approvedBy = groupBy(
      approvals.filter((a) => a.decision === 'approve'),
      (a) => String(a.requestId),
    );
    for (const g of chunk)
      rows.push(
        accessRow(g, requestOf.get(g.requestId), (approvedBy.get(String(g.requestId)) ?? []).map(approverName), until),
      );
  }
  return rows.sort((a, b) => a.database.localeCompare(b.database) || a.from - b.from);
}

const approverName = (a: Approval): string => a.approver.email ?? a.approver.name ?? a.approver.id;

function accessRow(g: Grant, req: AccessRequest | undefined, approvers: readonly string[], until: number): AccessRow {
  const from = g.activatedAt!;
  const to = g.revokedAt;
  return {
    grantId: g.id,
    requestId: g.requestId,
    database: g.database,
    level: g.level,
    who: g.requester.email ?? g.requester.name ?? g.requester.id,
    username: g.username,
    from,
    ...(to !== undefined && { to }),
    durationMs: (to ?? until) - from,
    approvedBy: approvers.join(', ') || (req?.breakGlass ? 'break-glass (no approval)' : (req?.decisionNote ?? '')),
    reason: req?.reason ?? '',
    ...(req?.ticket && { ticket: req.ticket }),
    ...(g.endReason && { endReason: g.endReason }),
    breakGlass: req?.breakGlass ?? false,
    ...(req?.reviewedAt !== undefined && { reviewedAt: req.reviewedAt }),
  };
}

const iso = (ms: number | undefined) =>
  ms === undefined ? 'still active' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

export function reportTable(rows: readonly AccessRow[]): string {
  if (rows.length === 0) return 'No access was held in this period.';
  const header = ['DATABASE', 'LEVEL', 'WHO', 'FROM', 'TO', 'HELD', 'APPROVED BY', 'REASON'];
  const body = rows.map((r) => [
    r.database,
    r.level,
    r.who,
    iso(r.from),
    iso(r.to),
    formatDuration(r.durationMs),
    r.approvedBy,
    r.ticket ? `${r.ticket} ${r.reason}` : r.reason,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => Math.min(60, b[i]!.length))));
  return [header, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.slice(0, 60).padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One CSV cell: quoted when it must be, and a leading = + - @ (a spreadsheet formula) neutralised with a quote. */
export function csvCell(v: string | number | undefined): string {
  const s = v === undefined ? '' : String(v);
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function reportCsv(rows: readonly AccessRow[]): string {
  const header = 'database,level,who,username,from,to,held_seconds,approved_by,reason,ticket,end_reason';
  return [
    header,
    ...rows.map((r) =>
      [
        r.database,
        r.level,
        r.who,
        r.username,
        new Date(r.from).toISOString(),
        r.to === undefined ? '' : new Date(r.to).toISOString(),
        Math.round(r.durationMs / 1000),
        r.approvedBy,
        r.reason,
        r.ticket,
        r.endReason,
      ]
        .map(csvCell)
        .join(','),
    ),
  ].join('\n');
}
