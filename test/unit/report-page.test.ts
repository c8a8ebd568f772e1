/**
 * The report page's data and rendering, from literal rows: the person and database filters, self-extensions and
 * activity attached by grant id, break-glass marked; hostile text escaped in the HTML and neutralised in the CSV.
 */
import { describe, expect, it } from 'vitest';
import type { AccessRow } from '../../src/audit/report.js';
import {
  pageActivity,
  reportPageCsv,
  reportPageData,
  type GrantActivityMap,
  type ReportSource,
} from '../../src/audit/report-page.js';
import { reportPage } from '../../src/http/report-html.js';
import { rid, gid } from '../support/ids.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const HOSTILE = '</script><script>alert(1)</script> =HYPERLINK("https://evil.example")';

function row(grantId: number, over: Partial<AccessRow>): AccessRow {
  return {
    grantId: gid(grantId),
    requestId: rid(grantId),
    database: 'orders-prod',
    level: 'read',
    who: 'alice@example.com',
    username: `jit_alice_${grantId}`,
    from: T0 + grantId * H,
    to: T0 + grantId * H + H,
    durationMs: H,
    approvedBy: 'bob@example.com',
    reason: 'checking stuck orders',
    breakGlass: false,
    ...over,
  };
}

const source: ReportSource = {
  rows: [
    row(1, {}),
    row(2, { who: 'carol@example.com', breakGlass: true, approvedBy: 'break-glass (no approval)' }),
    row(3, { database: 'billing', reason: HOSTILE, ticket: '@SUM(A1)' }),
    row(4, { who: 'Alice@Example.com', to: undefined, durationMs: 2 * H }),
  ],
  selfExtended: new Map([[4, [T0 + 5 * H, T0 + 4.5 * H]]]),
};
const filter = { since: T0, until: T0 + 24 * H };
const activity: GrantActivityMap = new Map([
  [1, { sessions: 2, firstSeen: T0 + H + 60_000, lastSeen: T0 + H + 600_000, clients: ['10.0.0.7'], statements: 17 }],
  [4, { sessions: 1, clients: [], statements: null }],
]);

describe('report page data', () => {
  it('filters by person (case-insensitive, exact) and database, and offers every person and database in range', () => {
    const alice = reportPageData(source, { ...filter, person: 'alice@example.com' });
    expect(alice.rows.map((r) => r.grantId)).toEqual([1, 3, 4]);
    expect(reportPageData(source, { ...filter, person: 'alice' }).rows).toEqual([]);
    expect(reportPageData(source, { ...filter, database: 'billing' }).rows.map((r) => r.grantId)).toEqual([3]);
    expect(alice.people).toEqual(['alice@example.com', 'Alice@Example.com', 'carol@example.com']);
    expect(alice.databases).toEqual(['billing', 'orders-prod']);
  });

  it('attaches activity and self-extensions by grant id (sorted), and nothing to grants without', () => {
    const rows = reportPageData(source, filter, activity).rows;
    expect(rows.find((r) => r.grantId === 1)!.activity).toEqual(activity.get(1));
    expect(rows.find((r) => r.grantId === 2)!.activity).toBeUndefined();
    expect(rows.find((r) => r.grantId === 4)!.selfExtendedAt).toEqual([T0 + 4.5 * H, T0 + 5 * H]);
    expect(reportPageData(source, filter).rows.every((r) => r.activity === undefined)).toBe(true);
  });

  it('CSV: the same rows, activity and marks included, formulas neutralised', () => {
    const csv = reportPageCsv(reportPageData(source, filter, activity).rows).split('\n');
    expect(csv).toHaveLength(5);
    expect(csv[0]).toMatch(/^grant_id,database,level,who,.*,break_glass,.*,sessions,statements,clients,/);
    expect(csv[1]).toContain(',no,,,2,17,10.0.0.7,');
    expect(csv[2]).toContain(',yes,');
    expect(csv[3]).toContain(`"'@SUM(A1)"`);
    expect(csv.join('\n')).not.toMatch(/(^|,)[=+\-@]/m);
    expect(csv[4]).toContain(',1,,,'); // statements not audited: empty, not 0
  });

  it('HTML: every value escaped, break-glass and self-extension marked, chart data inert, no inline script', () => {
    const html = reportPage(reportPageData(source, filter, activity), { via: 'admin-token' }, T0 + 30 * H);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    // The JSON block cannot be closed early by a value (none of its values comes from people today; kept so).
    const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect(json).not.toContain('<');
    // Scripts only by src, from this broker (the CSP allows 'self' only).
    expect([...html.matchAll(/<script(?![^>]*(src="report\/assets\/|type="application\/json"))/g)]).toEqual([]);
    expect(html).toMatch(/<tr data-grant="2" class="break-glass">/);
    expect(html).toContain('break-glass, not reviewed');
    expect(html).toMatch(/<tr data-grant="4" class="self-extended">/);
    expect(html).toContain('self-extended 2026-11-30 13:30');
    expect(html).toContain('2 sessions<br>17 statements<br>from 10.0.0.7');
    expect(html).toContain('statements counted when the access ends'); // grant 4 is live: read when it ends
  });

  it('HTML: why a grant has no statement count — the server, a live grant, or not audited', () => {
    const why = 'pg_stat_statements is not installed in database <appdb3>';
    const shown = (a: GrantActivityMap) => reportPage(reportPageData(source, filter, a), { via: 'admin-token' }, T0);
    const html = shown(
      new Map([
        [2, { sessions: 0, clients: [], statements: null }],
        [3, { sessions: 1, clients: [], statements: null, statementsWhy: why }],
        [4, { sessions: 1, clients: [], statements: null }],
      ]),
    );
    const cell = (id: number) =>
      new RegExp(`<tr data-grant="${id}"[^]*?data-label="Activity"><div>(.*?)</div>`).exec(html)![1];
    expect(cell(2)).toBe('0 sessions<br>statements not audited');
    expect(cell(3)).toBe(
      '1 session<br>statements not available: pg_stat_statements is not installed in database &lt;appdb3&gt;',
    );
    expect(cell(4)).toBe('1 session<br>statements counted when the access ends');
  });

  it('CSV: several clients are told apart ("; "), each "address (application)" keeping its own space', () => {
    const two: GrantActivityMap = new Map([[1, { sessions: 3, clients: ['10.0.0.7 (psql)', 'local'], statements: 4 }]]);
    expect(reportPageCsv(reportPageData(source, filter, two).rows).split('\n')[1]).toContain(
      ',3,4,10.0.0.7 (psql); local,',
    );
  });

  it('HTML for a link keeps the link in the form and the CSV link, escaped', () => {
    const params = { for: 'bob@example.com', exp: '1796000000', sig: 'x'.repeat(43) };
    const html = reportPage(
      reportPageData(source, { ...filter, person: 'carol@example.com' }),
      { via: 'link', issuedTo: 'bob@example.com', expiresAt: 1_796_000_000_000, params },
      T0,
    );
    expect(html).toContain('<input type="hidden" name="sig" value="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx">');
    expect(html).toMatch(
      /href="report\.csv\?person=carol%40example\.com&amp;from=2026-11-30&amp;to=2026-12-01&amp;for=bob%40example\.com&amp;exp=1796000000&amp;sig=x{43}"/,
    );
    expect(html).toContain('<option value="carol@example.com" selected>');
    expect(html).toContain('Link for bob@example.com');
  });

  it("reads the store's record of a grant: sessions counted (dropped ones too), first and last seen, clients, calls", () => {
    const recorded = new Map([
      [
        gid(1),
        {
          sessions: [
            {
              clientAddress: '10.0.0.7',
              application: 'psql',
              count: 2,
              firstSeenAt: T0,
              lastSeenAt: T0 + H,
              endedByRevocation: 1,
            },
            { clientAddress: 'local', count: 1, firstSeenAt: T0 - H, lastSeenAt: T0, endedByRevocation: 0 },
          ],
          sessionsDropped: 3,
          statements: {
            available: true as const,
            source: 'pg_stat_statements' as const,
            calls: 17,
            totalMs: 3,
            rows: 40,
            byKind: { SELECT: 17 },
            top: [],
          },
        },
      ],
      [gid(2), { sessions: [], sessionsDropped: 0, statements: { available: false as const, why: 'not installed' } }],
    ]);
    expect(pageActivity(recorded)).toEqual(
      new Map([
        [
          1,
          { sessions: 6, firstSeen: T0 - H, lastSeen: T0 + H, clients: ['10.0.0.7 (psql)', 'local'], statements: 17 },
        ],
        [2, { sessions: 0, clients: [], statements: null, statementsWhy: 'not installed' }],
      ]),
    );
  });
});
