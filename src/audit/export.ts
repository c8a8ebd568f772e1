/** Audit export (CLI and GET /api/v1/audit): the log as CSV or JSON Lines, for SIEMs and spreadsheets. */
import type { AuditEvent } from '../core/model.js';
import type { AuditFilter, StateStore } from '../core/ports.js';
import { parseDuration } from '../core/duration.js';
import { BrokerError } from '../core/errors.js';

export const AUDIT_CSV_COLUMNS = [
  'id',
  'at',
  'time',
  'type',
  'actor_platform',
  'actor_id',
  'actor_email',
  'actor_name',
  'request_id',
  'grant_id',
  'database',
  'level',
  'detail',
] as const;

/** "2026-11-01", an ISO time, or a relative "30d" / "12h" before now. */
export function parseWhen(text: string | undefined, field: string, now: number): number | undefined {
  if (text === undefined || text === '') return undefined;
  const rel = parseDuration(text);
  if (rel !== undefined) return now - rel;
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new BrokerError('INVALID_INPUT', `"${text}" is not a date (2026-11-01, an ISO time, or 30d)`, { field });
  return ms;
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // Quote every cell that needs it; neutralise spreadsheet formulas (=, +, -, @) from user text.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditCsvRow(e: AuditEvent): string {
  return [
    e.id,
    e.at,
    new Date(e.at).toISOString(),
    e.type,
    e.actor.platform,
    e.actor.id,
    e.actor.email,
    e.actor.name,
    e.requestId,
    e.grantId,
    e.database,
    e.level,
    e.detail,
  ]
    .map(csvCell)
    .join(',');
}

/** Streams the matching events page by page, in order, as CSV (with a header) or JSON Lines. */
export async function* exportAudit(
  store: StateStore,
  filter: AuditFilter,
  format: 'csv' | 'jsonl',
): AsyncGenerator<string> {
  if (format === 'csv') yield AUDIT_CSV_COLUMNS.join(',');
  let afterId = 0;
  for (;;) {
    const page = await store.listAudit({ ...filter, afterId, limit: 1000 });
    for (const e of page) yield format === 'csv' ? auditCsvRow(e) : JSON.stringify(e);
    if (page.length < 1000) return;
    afterId = page.at(-1)!.id!;
  }
}
