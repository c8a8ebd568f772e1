/**
 * The access report page in a real browser (Debian's chromium, driven by playwright-core) against the real broker
 * (`db-access all` in-process: HTTP server + worker) on a PostgreSQL state DB and a real PostgreSQL target. Grants
 * are made through the product's own paths: a request approved by an approver, a break-glass request, an
 * administrator's grant, one of them revoked. An approver opens the page from a signed link, filters to one person,
 * finds the grant in the table, sees the timeline drawn on the canvas, downloads the CSV; forged and expired links
 * are refused with a page saying so; each view is audited. Screenshots (desktop and phone) go to
 * CI_ARTIFACTS_DIR (default: the OS temp dir) and their paths are printed.
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) the file is skipped with a warning — except under CI=true, where it
 * fails: CI installs chromium (.ci/run), so its absence there is a broken setup, not a reason to pass.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportLinkKey, reportLinkUrl, REPORT_LINK_TTL_MS } from '../../src/audit/report-link.js';
import { createAdminGrant, requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { provision, revoke } from '../../src/core/lifecycle.js';
import type { Actor, AuditEvent, AuditType } from '../../src/core/model.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { DEFAULT_TEST_APPROVERS, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster } from '../support/pg-cluster.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { gid } from '../support/ids.js';
import { CHROMIUM, HAVE_CHROMIUM, openPage as open, warnIfNoChromium } from '../support/report-browser.js';

warnIfNoChromium('report page browser test');

const TOKEN = 'report-admin-token-5e1f';
const ARTIFACTS = process.env.CI_ARTIFACTS_DIR ?? tmpdir();

const alice: Actor = { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com', name: 'alice' };
const carol: Actor = { platform: 'slack', id: 'U0CAROL', email: 'carol@example.com', name: 'carol' };
const dave: Actor = { platform: 'cli', id: 'email:dave@example.com', email: 'dave@example.com' };
const bob: Actor = { platform: 'slack', id: 'U0BOB', email: 'bob@example.com', name: 'bob' };
const ADMIN: Actor = { platform: 'cli', id: 'cli:ops', name: 'ops' };

describe.skipIf(!HAVE_CHROMIUM)('the access report page in a browser', () => {
  let cluster: PgCluster;
  let broker: TestBroker;
  let browser: Browser;
  const stateDb = `dbaccess_report_${process.pid}_${Date.now() % 100000}`;
  const grants: Record<'alice' | 'aliceEnded' | 'carol' | 'dave', number> = {} as never;
  let db: string;

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
    cluster = await startScramCluster();
    const target = await setupPgTarget(cluster);
    db = target.entry.name;
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: {
          approvers: DEFAULT_TEST_APPROVERS,
          required: 1,
          breakGlass: { users: ['carol@example.com'], maxDuration: '30m' },
        },
      }),
    });
    broker = await startBroker({
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${stateDb}`,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('report'),
      ADMIN_API_TOKEN: TOKEN,
      HOST: '127.0.0.1',
    });
    const deps = broker.app.deps;
    // Approved by a person: alice twice (one ended early), through request → approval → the worker's provisioning.
    for (const key of ['aliceEnded', 'alice'] as const) {
      const req = await requestAccess(deps, alice, {
        database: db,
        level: 'read',
        duration: '1h',
        reason: `report ${key}`,
      });
      const res = await approve(deps, req.id, bob);
      if (res.status !== 'approved') throw new Error(`not approved: ${JSON.stringify(res)}`);
      grants[key] = res.grant.id;
      await waitFor(
        `grant ${res.grant.id} active`,
        async () => (await deps.store.getGrant(res.grant.id))?.status === 'active',
        {
          timeoutMs: 30_000,
        },
      );
      if (key === 'aliceEnded') await revoke(deps, res.grant.id, bob, 'done early', 'revoked_early');
    }
    // Break-glass: granted at once, to be reviewed.
    const glass = await requestAccess(
      deps,
      carol,
      { database: db, level: 'read', duration: '20m', reason: 'prod down <b>now</b>' },
      { breakGlass: true },
    );
    grants.carol = (await deps.store.getGrantByRequest(glass.id))!.id;
    // An administrator's grant (the CLI's path), provisioned directly.
    const admin = await createAdminGrant(deps, ADMIN, dave, {
      database: db,
      level: 'read',
      duration: '30m',
      reason: 'migration check',
    });
    grants.dave = admin.grant.id;
    expect((await provision(deps, admin.grant.id)).outcome).toBe('active');
    await waitFor(
      'every live grant active',
      async () => {
        const live = await deps.store.listGrants({ ids: [grants.alice, grants.carol, grants.dave] });
        return live.every((g) => g.status === 'active');
      },
      { timeoutMs: 30_000 },
    );
    // The holder's own extension, as the self-extension feature audits it (the page renders whatever is there).
    await deps.store.appendAudit([
      {
        at: Date.now(),
        type: 'grant.self_extended' as AuditType,
        actor: alice,
        grantId: gid(grants.alice),
        database: db,
        level: 'read',
        detail: { durationMs: 900_000 },
      },
    ]);
    browser = await chromium.launch({ executablePath: CHROMIUM });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
    await cluster?.stop();
    await superuser((c) => c.query(`DROP DATABASE IF EXISTS ${stateDb} WITH (FORCE)`));
  }, 60_000);

  const linkFor = (who: string, now = Date.now()) => reportLinkUrl(broker.baseUrl, reportLinkKey(TOKEN), who, now);
  const audit = async (type: string) => (await broker.app.deps.store.listAudit({ type })) as AuditEvent[];

  it('an approver opens a signed link, filters to one person, finds the grant, sees the chart, downloads the CSV', async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const { response, problems } = await open(page, linkFor('bob@example.com'));
    expect(response.status()).toBe(200);
    const csp = response.headers()['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await page.locator('header').innerText()).toContain('Link for bob@example.com');
    // Everyone's grants on the first view, break-glass marked, its reason escaped (shown as typed, not as markup).
    for (const id of Object.values(grants)) await page.locator(`tr[data-grant="${id}"]`).waitFor();
    expect(await page.locator(`tr[data-grant="${grants.carol}"]`).getAttribute('class')).toMatch(/break-glass/);
    expect(await page.locator(`tr[data-grant="${grants.carol}"]`).innerText()).toContain('prod down <b>now</b>');
    expect(await page.locator(`tr[data-grant="${grants.alice}"]`).getAttribute('class')).toMatch(/self-extended/);

    // Filter to alice with the form (a plain GET: the link's parameters ride along as hidden fields).
    await page.selectOption('select[name="person"]', 'alice@example.com');
    await Promise.all([page.waitForURL(/person=alice%40example\.com/), page.click('button[type="submit"]')]);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    const ended = page.locator(`tr[data-grant="${grants.aliceEnded}"]`);
    expect(await ended.innerText()).toContain('bob@example.com'); // approved by
    expect(await ended.innerText()).toContain('done early'); // why it ended
    expect(await page.locator(`tr[data-grant="${grants.alice}"]`).innerText()).toContain('still active');
    expect(await page.locator(`tr[data-grant="${grants.carol}"]`).count()).toBe(0);

    // The timeline: Chart.js drew on the canvas (pixels of the approved colour, #2563eb).
    // (Browser-side code as a string: the project's types have no DOM.)
    const drawn = (await page.evaluate(`(() => {
      const canvas = document.querySelector('canvas');
      const { width, height } = canvas;
      const px = canvas.getContext('2d').getImageData(0, 0, width, height).data;
      let painted = 0;
      let approved = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 0) painted++;
        if (px[i] === 0x25 && px[i + 1] === 0x63 && px[i + 2] === 0xeb) approved++;
      }
      return { chart: window.Chart.getChart(canvas) !== undefined, width, height, painted, approved };
    })()`)) as { chart: boolean; width: number; height: number; painted: number; approved: number };
    expect(drawn.chart).toBe(true);
    expect(drawn.width).toBeGreaterThan(100);
    expect(drawn.painted).toBeGreaterThan(1000);
    expect(drawn.approved).toBeGreaterThan(50);

    // The CSV of the same rows.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download CSV')]);
    const csv = readFileSync((await download.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toMatch(/^grant_id,database,level,who,/);
    expect(
      csv
        .slice(1)
        .map((l) => Number(l.split(',')[0]))
        .sort(),
    ).toEqual([grants.aliceEnded, grants.alice].sort());
    expect(csv.slice(1).every((l) => l.includes(',alice@example.com,'))).toBe(true);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'report-page-desktop.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`report page screenshot: ${shot}`);
    expect(problems).toEqual([]);
    await context.close();

    // Audited: who opened it, how, with which filter; the download too.
    const views = (await audit('report.viewed')).filter((e) => e.detail.issuedTo === 'bob@example.com');
    expect(views.map((e) => [e.detail.format, e.detail.person])).toEqual([
      ['html', null],
      ['html', 'alice@example.com'],
      ['csv', 'alice@example.com'],
    ]);
    expect(views[0]!.actor).toEqual({ platform: 'system', id: 'report-link', name: 'bob@example.com' });
  });

  it('reads on a phone: rows become cards, nothing wider than the screen, the chart still drawn', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    const { response, problems } = await open(page, linkFor('bob@example.com'));
    expect(response.status()).toBe(200);
    await page.locator(`tr[data-grant="${grants.carol}"]`).waitFor();
    const layout = (await page.evaluate(`({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      rowDisplay: getComputedStyle(document.querySelector('tbody tr')).display,
      label: getComputedStyle(document.querySelector('tbody td'), '::before').content,
      canvasWidth: document.querySelector('canvas').getBoundingClientRect().width,
    })`)) as { overflow: number; rowDisplay: string; label: string; canvasWidth: number };
    expect(layout.overflow).toBeLessThanOrEqual(0);
    expect(layout.rowDisplay).toBe('block');
    expect(layout.label).toBe('"Grant"');
    expect(layout.canvasWidth).toBeGreaterThan(300);
    const shot = join(ARTIFACTS, 'report-page-mobile.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`report page mobile screenshot: ${shot}`);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('refuses a forged link and an expired one with a page saying why; no link at all asks for one', async () => {
    const page = await browser.newPage();
    const good = new URL(linkFor('bob@example.com'));
    const forged = new URL(good);
    forged.searchParams.set('for', 'mallory@example.com');
    const res = await page.goto(forged.toString());
    expect(res!.status()).toBe(403);
    expect(await page.locator('h1').innerText()).toBe('This link is not valid');
    expect(await page.locator('body').innerText()).not.toContain('alice@example.com');

    const expired = linkFor('erin@example.com', Date.now() - REPORT_LINK_TTL_MS - 60_000);
    const old = await page.goto(expired);
    expect(old!.status()).toBe(403);
    expect(await page.locator('h1').innerText()).toBe('This link has expired');
    expect(await page.locator('body').innerText()).toContain('issued to erin@example.com');
    expect((await page.reload())!.status()).toBe(403); // reloading it adds no second audit row (below)

    const bare = await page.goto(`${broker.baseUrl}/report`);
    expect(bare!.status()).toBe(401);
    expect(await page.locator('h1').innerText()).toBe('A link is needed');
    const csv = await fetch(`${broker.baseUrl}/report.csv?${forged.searchParams}`);
    expect(csv.status).toBe(403);
    await page.close();

    // The expired link's holder is known (we signed it): audited. The forged one is not ours to record.
    const refused = (await audit('access.refused')).filter((e) => e.detail.action === 'report.view');
    expect(refused.map((e) => [e.detail.code, e.detail.issuedTo])).toEqual([['LINK_EXPIRED', 'erin@example.com']]);
    expect((await audit('report.viewed')).some((e) => e.detail.issuedTo === 'mallory@example.com')).toBe(false);
  });

  it('the admin token opens it too; the wrong token does not; Chart.js is served with a year-long cache', async () => {
    const ok = await fetch(`${broker.baseUrl}/report?format=csv&database=${db}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-disposition')).toMatch(/^attachment; filename="db-access-report-/);
    expect((await ok.text()).trim().split('\n')).toHaveLength(5);
    const wrong = await fetch(`${broker.baseUrl}/report`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const admin = (await audit('report.viewed')).filter((e) => e.detail.access === 'admin-token');
    expect(admin.map((e) => [e.actor.id, e.detail.format, e.detail.database])).toEqual([['admin-api', 'csv', db]]);
    const bad = await fetch(`${broker.baseUrl}/report?from=yesterday`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('&quot;from&quot; must be a date such as 2026-11-01');
    const asset = await fetch(`${broker.baseUrl}/report/assets/chart.umd.min.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toContain('Chart.js');
  });
});
