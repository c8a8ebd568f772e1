/**
 * The access report page, rendered on the server: a filter form (GET), then per database a timeline (a canvas the
 * page's script draws; see report-assets.ts) and a table of every grant — the table alone is the whole report, on a
 * phone too (rows become cards) and without JavaScript. Every value is escaped (html.ts); the page loads only this
 * broker's own files, as its Content-Security-Policy says.
 */
import { formatDuration } from '../core/duration.js';
import type { GrantActivity, ReportPageData, ReportPageRow } from '../audit/report-page.js';
import { escapeHtml as h, jsonForScript } from './html.js';
import { REPORT_ASSETS } from './report-assets.js';

/** Everything the page may load: its own scripts and stylesheet, nothing inline, nothing from elsewhere. */
export const REPORT_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** How the reader got in: shown in the header, and kept by the form so filtering keeps access. */
export type ReportAccess =
  | { via: 'admin-token' }
  | { via: 'link'; issuedTo: string; expiresAt: number; params: { for: string; exp: string; sig: string } };

/** A time in the table, whose headers say UTC. */
const at = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const utc = (ms: number) => `${at(ms)} UTC`;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const asset = (name: string) => `report/assets/${name}?v=${REPORT_ASSETS[name]!().version}`;

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return q.toString();
}

/** The query string of this view (filters and link), for the CSV download. */
function viewQuery(data: ReportPageData, access: ReportAccess): Record<string, string | undefined> {
  const f = data.filter;
  return {
    person: f.person,
    database: f.database,
    from: day(f.since),
    to: day(f.until - 1),
    ...(access.via === 'link' && access.params),
  };
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${h(title)}</title>
<link rel="stylesheet" href="${asset('report.css')}">
</head>
<body>
${body}
</body>
</html>
`;
}

/** A refusal or an error, as a page that says what happened and what to do. */
export function messagePage(title: string, sentences: string[]): string {
  return page(
    title,
    `<div class="refused" role="alert"><h1>${h(title)}</h1>${sentences.map((s) => `<p>${h(s)}</p>`).join('')}</div>`,
  );
}

function options(values: string[], selected: string | undefined, everyone: string): string {
  const chosen = selected?.toLowerCase();
  const list = selected && !values.some((v) => v.toLowerCase() === chosen) ? [...values, selected] : values;
  return [
    `<option value="">${h(everyone)}</option>`,
    ...list.map((v) => `<option value="${h(v)}"${v.toLowerCase() === chosen ? ' selected' : ''}>${h(v)}</option>`),
  ].join('');
}

function filterForm(data: ReportPageData, access: ReportAccess): string {
  const f = data.filter;
  const hidden =
    access.via === 'link'
      ? Object.entries(access.params)
          .map(([k, v]) => `<input type="hidden" name="${k}" value="${h(v)}">`)
          .join('')
      : '';
  return `<form class="filters" method="get" action="report">
${hidden}
<label>Person<select name="person">${options(data.people, f.person, 'Everyone')}</select></label>
<label>Database<select name="database">${options(data.databases, f.database, 'All databases')}</select></label>
<label>From<input type="date" name="from" value="${day(f.since)}"></label>
<label>To<input type="date" name="to" value="${day(f.until - 1)}"></label>
<div class="actions"><button type="submit">Show</button>
<a class="button secondary" href="report.csv?${h(query(viewQuery(data, access)))}" download>Download CSV</a></div>
</form>`;
}

function tags(r: ReportPageRow): string {
  const out: string[] = [];
  if (r.breakGlass)
    out.push(
      `<span class="tag glass">break-glass${r.reviewedAt !== undefined ? `, reviewed ${h(at(r.reviewedAt))}` : ', not reviewed'}</span>`,
    );
  for (const t of r.selfExtendedAt) out.push(`<span class="tag self">self-extended ${h(at(t))}</span>`);
  if (r.to === undefined) out.push('<span class="tag live">active</span>');
  return out.join('');
}

/** The statement count, or why there is none: the server's reason, or a live grant's (read when it ends). */
function statements(r: ReportPageRow, a: GrantActivity): string {
  if (a.statements !== null) return `${a.statements} statement${a.statements === 1 ? '' : 's'}`;
  if (a.statementsWhy !== undefined) return `statements not available: ${a.statementsWhy}`;
  return r.to === undefined ? 'statements counted when the access ends' : 'statements not audited';
}

function activity(r: ReportPageRow): string {
  const a = r.activity;
  if (!a) return '<span class="muted">—</span>';
  const parts = [`${a.sessions} session${a.sessions === 1 ? '' : 's'}`, statements(r, a)];
  if (a.clients.length) parts.push(`from ${a.clients.join(', ')}`);
  if (a.firstSeen !== undefined) parts.push(`${at(a.firstSeen)} → ${a.lastSeen !== undefined ? at(a.lastSeen) : '…'}`);
  return parts.map(h).join('<br>');
}

const TIMES = new Set(['From', 'To']);

function rowHtml(r: ReportPageRow): string {
  const cls = [r.breakGlass && 'break-glass', r.selfExtendedAt.length > 0 && 'self-extended'].filter(Boolean).join(' ');
  const cells: Array<[string, string]> = [
    ['Grant', `#${h(r.grantId)}`],
    ['Who', h(r.who)],
    ['Level', h(r.level)],
    ['From', h(at(r.from))],
    ['To', r.to === undefined ? 'still active' : h(at(r.to))],
    ['Held', h(formatDuration(r.durationMs))],
    ['Approved by', h(r.approvedBy)],
    ['Reason', `${r.ticket ? `<strong>${h(r.ticket)}</strong> ` : ''}${h(r.reason)}`],
    ['Marks', tags(r) || '<span class="muted">—</span>'],
    ['Activity', activity(r)],
    ['Ended', h(r.endReason ?? '')],
  ];
  // One element per cell: on a phone each cell is a two-column grid (its label, then this).
  return `<tr data-grant="${h(r.grantId)}"${cls ? ` class="${cls}"` : ''}>${cells
    .map(
      ([label, html]) => `<td data-label="${h(label)}"${TIMES.has(label) ? ' class="t"' : ''}><div>${html}</div></td>`,
    )
    .join('')}</tr>`;
}

interface ChartBar {
  label: string;
  from: number;
  to: number;
  live: boolean;
  kind: 'normal' | 'glass' | 'self';
  note: string;
}

function bar(r: ReportPageRow, data: ReportPageData, now: number): ChartBar {
  const end = r.to ?? Math.min(now, data.filter.until);
  return {
    label: `${r.who} · ${r.level} · #${r.grantId}`,
    from: Math.max(r.from, data.filter.since),
    to: Math.min(end, data.filter.until),
    live: r.to === undefined,
    kind: r.breakGlass ? 'glass' : r.selfExtendedAt.length > 0 ? 'self' : 'normal',
    note: r.breakGlass ? 'break-glass' : `approved by ${r.approvedBy || '—'}`,
  };
}

/** The whole page for `data`, as `access` reads it, at `now`. */
export function reportPage(data: ReportPageData, access: ReportAccess, now: number): string {
  const f = data.filter;
  const byDb = new Map<string, ReportPageRow[]>();
  for (const r of data.rows) byDb.set(r.database, [...(byDb.get(r.database) ?? []), r]);
  const dbs = [...byDb.keys()].sort((a, b) => a.localeCompare(b));
  const charts = dbs.map((db, i) => ({ canvas: `chart-${i}`, bars: byDb.get(db)!.map((r) => bar(r, data, now)) }));
  const who =
    access.via === 'link'
      ? `Link for ${h(access.issuedTo)}, valid until ${h(utc(access.expiresAt))}.`
      : 'Opened with the admin token.';
  const sections = dbs
    .map(
      (db, i) => `<section aria-labelledby="db-${i}">
<h2 id="db-${i}">${h(db)} <span class="muted">· ${byDb.get(db)!.length} grant(s)</span></h2>
<div class="chart"><canvas id="chart-${i}" role="img" aria-label="${h(`Timeline of access to ${db}`)}"></canvas></div>
<div class="table-wrap"><table>
<thead><tr><th>Grant</th><th>Who</th><th>Level</th><th>From (UTC)</th><th>To (UTC)</th><th>Held</th><th>Approved by</th><th>Reason</th><th>Marks</th><th>Activity</th><th>Ended</th></tr></thead>
<tbody>${byDb.get(db)!.map(rowHtml).join('\n')}</tbody>
</table></div>
</section>`,
    )
    .join('\n');
  const body = `<header>
<h1>Database access</h1>
<p class="muted">${h(utc(f.since))} → ${h(utc(f.until))} · ${data.rows.length} grant(s). ${who}</p>
${filterForm(data, access)}
<div class="legend"><span><span class="swatch"></span>approved</span><span><span class="swatch glass"></span>break-glass</span><span><span class="swatch self"></span>self-extended</span></div>
</header>
<main>
${sections || '<p class="empty">No access was held in this period with these filters.</p>'}
</main>
<footer class="muted">Times in UTC. Generated ${h(utc(now))} by db-access.</footer>
<script type="application/json" id="report-data">${jsonForScript({ since: f.since, until: f.until, charts })}</script>
<script src="${asset('chart.umd.min.js')}"></script>
<script src="${asset('report.js')}"></script>`;
  return page('Database access report', body);
}
