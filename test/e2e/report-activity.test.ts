/**
 * What was done with a grant, end to end, as far as the report page in a real browser: the real broker
 * (`db-access all` in-process, its own sweeper every second) on a PostgreSQL state DB and a scram PostgreSQL target
 * with pg_stat_statements preloaded. alice asks, bob approves, the worker creates the user, alice reveals her
 * credentials and connects from 127.0.0.1 as application `orders-report`, twice, running a known number of
 * statements, some with a distinctive literal; the broker's sweep samples the sessions; alice ends the access. Then
 * the receipt, the audit export (admin API, JSON Lines and CSV), the page (opened by bob from a signed link,
 * filtered to alice) and its CSV all say "2 sessions from 127.0.0.1 (orders-report)" and 5 statements — and the
 * literal is in none of them. A second person's session whose application name is markup is shown as text: no
 * element, no script, no CSP violation.
 */
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportLinkKey, reportLinkUrl } from '../../src/audit/report-link.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { revealCredentials, revokeAsUser } from '../../src/core/lifecycle.js';
import type { Actor, AuditEvent, GrantId, RequestId } from '../../src/core/model.js';
import { loadRequestView } from '../../src/core/view.js';
import { revocationReceipt } from '../../src/chat/slack/blocks/receipt.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { DEFAULT_TEST_APPROVERS, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster } from '../support/pg-cluster.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { CHROMIUM, HAVE_CHROMIUM, openPage, warnIfNoChromium } from '../support/report-browser.js';
import { waitFor } from '../support/wait.js';

warnIfNoChromium('report activity browser test');

const TOKEN = 'report-activity-token-7c2a';
const LITERAL = 'secret-literal-42';
const APP = 'orders-report';
const CLIENT = `127.0.0.1 (${APP})`;
const MARKUP_APP = '<img src=x onerror=alert(1)>';
const STATEMENTS = 5; // all SELECTs: 3 in the first session, 2 in the second; 4 carry the literal

const alice: Actor = { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com', name: 'alice' };
const erin: Actor = { platform: 'slack', id: 'U0ERIN', email: 'erin@example.com', name: 'erin' };
const bob: Actor = { platform: 'slack', id: 'U0BOB', email: 'bob@example.com', name: 'bob' };

/** RFC 4180 CSV → rows of cells (quoted cells may hold commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const endCell = () => {
    row.push(cell);
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') cell += text[++i];
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') endCell();
    else if (c === '\n') {
      endCell();
      rows.push(row);
      row = [];
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    endCell();
    rows.push(row);
  }
  return rows;
}

/** The CSV's row for `grantId`, as column → value. */
function csvRecord(text: string, grantId: number): Record<string, string> {
  const [header, ...rows] = parseCsv(text.trim());
  const row = rows.find((r) => Number(r[0]) === grantId);
  if (!row) throw new Error(`no CSV row for grant ${grantId}: ${text}`);
  return Object.fromEntries(header!.map((h, i) => [h, row[i]!]));
}

describe.skipIf(!HAVE_CHROMIUM)('what was done with a grant, on the report page', () => {
  let cluster: PgCluster;
  let broker: TestBroker;
  let browser: Browser;
  let db: string;
  const stateDb = `dbaccess_reportact_${process.pid}_${Date.now() % 100000}`;
  const clients: pg.Client[] = [];

  const superuser = async <T>(f: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    await superuser((c) => c.query(`CREATE DATABASE ${stateDb}`));
    cluster = await startScramCluster(undefined, { preload: ['pg_stat_statements'] });
    const target = await setupPgTarget(cluster);
    // What `check` asks the DBA for, so the revocation can read the user's statement statistics.
    await cluster.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], 'appdb');
    await cluster.query('GRANT pg_read_all_stats TO jit_admin');
    db = target.entry.name;
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({ approval: { approvers: DEFAULT_TEST_APPROVERS, required: 1 } }),
    });
    broker = await startBroker({
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${stateDb}`,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('reportact'),
      ADMIN_API_TOKEN: TOKEN,
      HOST: '127.0.0.1',
      SWEEP_INTERVAL: '1s',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await browser?.close();
    await broker?.stop();
    await cluster?.stop();
    await superuser((c) => c.query(`DROP DATABASE IF EXISTS ${stateDb} WITH (FORCE)`));
  }, 60_000);

  /** `who` asks, bob approves, the worker creates the user, `who` reveals the credentials: the product's path. */
  async function grantFor(who: Actor, reason: string) {
    const deps = broker.app.deps;
    const req = await requestAccess(deps, who, { database: db, level: 'read', duration: '1h', reason });
    const res = await approve(deps, req.id, bob);
    if (res.status !== 'approved') throw new Error(`not approved: ${JSON.stringify(res)}`);
    const grantId = res.grant.id;
    await waitFor(`grant ${grantId} active`, async () => (await deps.store.getGrant(grantId))?.status === 'active', {
      timeoutMs: 30_000,
    });
    const { credentials: creds } = await revealCredentials(deps, grantId, who);
    return { grantId, requestId: req.id as RequestId, creds };
  }

  /** A session of the grant's user from 127.0.0.1, named `application`. */
  async function connect(creds: { username: string; password: string }, application: string) {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: creds.username,
      password: creds.password,
      database: 'appdb',
      application_name: application,
    });
    c.on('error', () => undefined); // terminated at revocation
    await c.connect();
    clients.push(c);
    return c;
  }

  const sessionsSeen = async (grantId: GrantId, n: number) =>
    waitFor(
      `the broker's sweep to see ${n} session(s) of grant ${grantId}`,
      async () => {
        const seen = await broker.app.deps.store.listAudit({ grantId, type: 'session.seen' });
        return seen.length >= n ? seen : undefined;
      },
      { timeoutMs: 30_000 },
    );

  const linkFor = (who: string) => reportLinkUrl(broker.baseUrl, reportLinkKey(TOKEN), who, Date.now());

  /** bob's view of the page filtered to `person` through the form, and the downloaded CSV of that view. */
  async function pageFor(person: string): Promise<{ page: Page; problems: string[]; html: string; csv: string }> {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const { response, problems } = await openPage(page, linkFor('bob@example.com'));
    expect(response.status()).toBe(200);
    await page.selectOption('select[name="person"]', person);
    await Promise.all([
      page.waitForURL(new RegExp(`person=${encodeURIComponent(person)}`)),
      page.click('button[type="submit"]'),
    ]);
    const html = await page.content();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download CSV')]);
    const csv = readFileSync((await download.path())!, 'utf8');
    return { page, problems, html, csv };
  }

  it('a session from orders-report at 127.0.0.1 is in the receipt, the audit export, the page and its CSV; the literal in none', async () => {
    const deps = broker.app.deps;
    const { grantId, requestId, creds } = await grantFor(alice, 'orders report');
    const s1 = await connect(creds, APP);
    const s2 = await connect(creds, APP);
    const withLiteral = `SELECT name FROM items WHERE name = '${LITERAL}'`;
    for (let i = 0; i < 3; i++) await s1.query(withLiteral);
    await s2.query(withLiteral);
    await s2.query('SELECT count(*) FROM items');

    // The broker's own sweep samples both sessions (audited once each, with where they came from).
    const seen = await sessionsSeen(grantId, 2);
    expect(seen).toHaveLength(2);
    for (const e of seen) {
      expect(e.detail).toMatchObject({ clientAddress: '127.0.0.1', application: APP, username: creds.username });
    }

    // alice ends it ("I'm done"): her two sessions are terminated, the statements read before the drop.
    const ended = await revokeAsUser(deps, grantId, alice, 'done');
    expect(ended.receipt?.sessionsTerminated).toBe(2);
    expect(ended.receipt?.activity?.sessions).toEqual([
      expect.objectContaining({ clientAddress: '127.0.0.1', application: APP, count: 2, endedByRevocation: 2 }),
    ]);
    expect(ended.receipt?.activity?.statements).toMatchObject({ available: true, calls: STATEMENTS });

    // The receipt as the approval thread shows it.
    const receipt = JSON.stringify(revocationReceipt(await loadRequestView(deps, requestId)));
    expect(receipt).toContain(`2 sessions from ${CLIENT}`);
    expect(receipt).toContain(`${STATEMENTS} statements, ${STATEMENTS} SELECT`);

    // The audit export (admin API): the sessions seen and the revocation's activity, as JSON Lines and CSV.
    const exported = async (format: 'jsonl' | 'csv') => {
      const res = await fetch(`${broker.baseUrl}/api/v1/audit?format=${format}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(200);
      return res.text();
    };
    const jsonl = await exported('jsonl');
    const events = jsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.grantId === grantId);
    expect(events.filter((e) => e.type === 'session.seen').map((e) => e.detail.application)).toEqual([APP, APP]);
    const revoked = events.find((e) => e.type === 'grant.revoked')!;
    expect(revoked.detail.activity).toMatchObject({
      sessions: [{ clientAddress: '127.0.0.1', application: APP, count: 2 }],
      statements: { available: true, calls: STATEMENTS },
    });
    const auditCsv = await exported('csv');
    expect(auditCsv).toContain(APP);

    // The page, as bob opens it from his link and filters to alice; then its CSV.
    const { page, problems, html, csv } = await pageFor('alice@example.com');
    const cell = page.locator(`tr[data-grant="${grantId}"] td[data-label="Activity"]`);
    const shown = await cell.innerText();
    expect(shown).toContain('2 sessions');
    expect(shown).toContain(`${STATEMENTS} statements`);
    expect(shown).toContain(`from ${CLIENT}`);
    const row = csvRecord(csv, grantId);
    expect(row).toMatchObject({ sessions: '2', statements: String(STATEMENTS), clients: CLIENT });
    expect(row.first_seen).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(problems).toEqual([]);
    await page.context().close();

    for (const [where, text] of [
      ['receipt', receipt],
      ['audit jsonl', jsonl],
      ['audit csv', auditCsv],
      ['page', html],
      ['page csv', csv],
    ] as const) {
      expect(text.includes(LITERAL), where).toBe(false);
    }
  }, 120_000);

  it('an application name that is markup is shown as text: no element, no script run, no CSP violation', async () => {
    const { grantId, creds } = await grantFor(erin, 'markup in application_name');
    const s = await connect(creds, MARKUP_APP);
    await s.query('SELECT 1');
    await sessionsSeen(grantId, 1);

    const { page, problems, html, csv } = await pageFor('erin@example.com');
    const row = page.locator(`tr[data-grant="${grantId}"]`);
    const shown = await row.locator('td[data-label="Activity"]').innerText();
    expect(shown).toContain(`from 127.0.0.1 (${MARKUP_APP})`);
    // Still live: its statements are read when it ends, which is not "not audited" (they are, on this server).
    expect(shown).toContain('statements counted when the access ends');
    expect(await page.locator('img').count()).toBe(0);
    expect(html).not.toContain(MARKUP_APP);
    expect(html).toContain('127.0.0.1 (&lt;img src=x onerror=alert(1)&gt;)');
    expect(problems).toEqual([]); // no alert dialog, no CSP report of a blocked inline handler
    expect(csvRecord(csv, grantId)).toMatchObject({ sessions: '1', clients: `127.0.0.1 (${MARKUP_APP})` });
    await page.context().close();
  }, 120_000);
});
