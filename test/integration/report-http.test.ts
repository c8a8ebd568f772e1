/**
 * GET /report over HTTP (createHttpApp on a real SQLite state store and Redis): the activity seam
 * (`HttpDeps.reportActivity`) is asked for exactly the grants shown and its figures reach the page and the CSV;
 * without ADMIN_API_TOKEN the page is off. The browser journey is test/e2e/report-page.test.ts.
 */
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportLinkKey, reportLinkUrl } from '../../src/audit/report-link.js';
import type { GrantActivityMap } from '../../src/audit/report-page.js';
import { generateUsername } from '../../src/core/identifiers.js';
import { createHttpApp, finishHttpApp, listen } from '../../src/http/server.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { sharedRedisUrl } from '../support/redis.js';

const TOKEN = 'report-http-token';
const MIN = 60_000;

describe('GET /report over HTTP', () => {
  let store: OpenStateStore;
  let redis: Redis;
  const servers: Server[] = [];
  const grantIds: number[] = [];
  const asked: number[][] = [];
  const { logger } = capturingLogger();

  async function serve(opts: { adminToken?: string; activity?: GrantActivityMap }): Promise<string> {
    const app = createHttpApp({
      store,
      redis,
      logger,
      ...(opts.adminToken && { adminToken: opts.adminToken }),
      ...(opts.activity && {
        reportActivity: async (ids: number[]) => {
          asked.push(ids);
          return opts.activity!;
        },
      }),
    });
    finishHttpApp(app, logger);
    const server = await listen(app, 0, '127.0.0.1');
    servers.push(server);
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    return `http://127.0.0.1:${address.port}`;
  }

  beforeAll(async () => {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    redis = new Redis(sharedRedisUrl, { maxRetriesPerRequest: 1 });
    const now = Date.now();
    for (const [who, startedAgo] of [
      ['ada@example.com', 50 * MIN],
      ['ben@example.com', 20 * MIN],
    ] as const) {
      const requester = { platform: 'slack' as const, id: `U${who.slice(0, 3).toUpperCase()}`, email: who };
      const req = await store.createRequest({
        requester,
        database: 'orders-prod',
        level: 'read',
        durationMs: 60 * MIN,
        reason: 'report seam',
        status: 'approved',
        requiredApprovals: 0,
        createdAt: now - startedAgo,
        approvers: [],
        tier: 0,
        breakGlass: false,
      });
      const g = await store.createGrant({
        requestId: req.id,
        requester,
        database: 'orders-prod',
        level: 'read',
        username: generateUsername(who),
        createdAt: now - startedAgo,
        expiresAt: now - startedAgo + 60 * MIN,
      });
      expect(
        await store.transitionGrant(g.id, ['provisioning'], { status: 'active', activatedAt: now - startedAgo }),
      ).toBe(true);
      grantIds.push(g.id);
    }
  });

  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    redis?.disconnect();
    await store?.close();
  });

  it('asks the activity seam for the grants shown and shows its figures on the page and in the CSV', async () => {
    const [ada, ben] = grantIds as [number, number];
    const activity: GrantActivityMap = new Map([
      [ada, { sessions: 3, clients: ['10.1.2.3', 'psql'], statements: 42, firstSeen: Date.now() - 40 * MIN }],
    ]);
    const base = await serve({ adminToken: TOKEN, activity });
    const link = new URL(reportLinkUrl(base, reportLinkKey(TOKEN), 'ops@example.com', Date.now()));
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(asked.at(-1)).toEqual([ada, ben]); // in the report's order: by database, then start
    const row = (id: number) => new RegExp(`<tr data-grant="${id}"[^]*?</tr>`).exec(html)![0];
    expect(row(ada)).toContain('3 sessions<br>42 statements<br>from 10.1.2.3, psql');
    expect(row(ben)).toContain('<td data-label="Activity"><div><span class="muted">—</span>');

    link.pathname = '/report.csv';
    link.searchParams.set('person', 'ada@example.com');
    const csv = await fetch(link);
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).trim().split('\n');
    expect(asked.at(-1)).toEqual([ada, ben]); // asked for the range; the person filter applies after
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(new RegExp(`^${ada},orders-prod,read,ada@example.com,.*,no,,,3,42,10\\.1\\.2\\.3; psql,`));
  });

  it('is off without ADMIN_API_TOKEN, links and tokens alike', async () => {
    const base = await serve({});
    const link = reportLinkUrl(base, reportLinkKey(TOKEN), 'ops@example.com', Date.now());
    const res = await fetch(link);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('The access report is off');
    expect((await fetch(`${base}/report`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });
});
