/** The audit log: `audit verify` catches edits and deletions by row; export round-trips; the admin API needs its token. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import { loadSettings } from '../../src/config/settings.js';
import type { AuditEvent } from '../../src/core/model.js';
import { startServices, type Services } from '../../src/app.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { runCli } from '../support/processes.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const DAY = 86_400_000;
const HOSTILE = '=HYPERLINK("https://evil.example"), "quoted"\nnew line';

describe('audit log', () => {
  let url: string;
  let store: OpenStateStore;
  let env: Record<string, string>;

  beforeAll(async () => {
    url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    const actor = { platform: 'slack' as const, id: 'U0ALICE', email: 'alice@example.com', name: 'alice' };
    for (let i = 0; i < 6; i++) {
      await store.appendAudit([
        {
          at: T0 + i * DAY,
          type: 'request.created',
          actor,
          database: 'orders',
          level: 'read',
          detail: { i, reason: i === 3 ? HOSTILE : `r${i}` },
        },
      ]);
    }
    env = { DATABASE_URL: url };
  });

  afterAll(async () => {
    await store?.close();
  });

  it('exports every event as JSON Lines that round-trip, and as CSV with formulas neutralised', async () => {
    const jsonl = await runCli(['audit', 'export', '--format', 'jsonl'], env);
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const events = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(events).toEqual(await store.listAudit({}));
    const csv = await runCli(['audit', 'export', '--format', 'csv'], env);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.split('\n')[0]).toBe(
      'id,at,time,type,actor_platform,actor_id,actor_email,actor_name,request_id,grant_id,database,level,detail',
    );
    expect(csv.stdout).not.toMatch(/(^|,)=HYPERLINK/m);
    expect(csv.stdout).toContain(`"{""i"":3,""reason"":""=HYPERLINK`);
    const window = await runCli(
      [
        'audit',
        'export',
        '--since',
        new Date(T0 + 2 * DAY).toISOString(),
        '--until',
        new Date(T0 + 4 * DAY).toISOString(),
      ],
      env,
    );
    expect(
      window.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditEvent).detail.i),
    ).toEqual([2, 3]);
  });

  it('the admin API serves the same export only with the right bearer token', async () => {
    const { logger } = capturingLogger();
    const catalog = parseCatalog(
      'databases:\n  - { name: orders, engine: postgres, host: 127.0.0.1, database: postgres, admin: { user: postgres, password: x }, levels: { read: { roles: [r] } } }\n',
      {},
    );
    const start = (token?: string) =>
      startServices(
        {
          settings: loadSettings({
            DATABASE_URL: url,
            REDIS_URL: sharedRedisUrl,
            QUEUE_PREFIX: uniquePrefix('audit'),
            PORT: '0',
            ...(token && { ADMIN_API_TOKEN: token }),
          }),
          catalog,
          logger,
        },
        { http: true, worker: false },
      );
    const on: Services = await start('s3cret-admin-token');
    try {
      const base = `http://127.0.0.1:${on.port}/api/v1/audit`;
      expect((await fetch(base)).status).toBe(401);
      expect((await fetch(base, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(base, { headers: { authorization: 's3cret-admin-token' } })).status).toBe(401);
      const ok = await fetch(
        `${base}?since=${T0 + DAY}&format=jsonl`.replace(String(T0 + DAY), new Date(T0 + DAY).toISOString()),
        {
          headers: { authorization: 'Bearer s3cret-admin-token' },
        },
      );
      expect(ok.status).toBe(200);
      const lines = (await ok.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEvent);
      expect(lines).toEqual((await store.listAudit({})).filter((e) => e.at >= T0 + DAY));
      expect(
        (await fetch(`${base}?since=yesterday-ish`, { headers: { authorization: 'Bearer s3cret-admin-token' } }))
          .status,
      ).toBe(400);
    } finally {
      await on.stop();
    }
    const off = await start();
    try {
      expect(
        (await fetch(`http://127.0.0.1:${off.port}/api/v1/audit`, { headers: { authorization: 'Bearer anything' } }))
          .status,
      ).toBe(404);
    } finally {
      await off.stop();
    }
  });

  it('audit verify passes on an intact log and names a modified and a deleted row', async () => {
    const ok = await runCli(['audit', 'verify'], env);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Audit log intact: \d+ event\(s\)/);
    const rows = (await store.knex('audit_events').orderBy('seq', 'asc').select('id')) as Array<{ id: number }>;
    const modified = rows[1]!.id;
    const deleted = rows[3]!.id;
    const afterDeleted = rows[4]!.id;
    await store.knex('audit_events').where({ id: modified }).update({ detail: '{"i":1,"reason":"nothing to see"}' });
    await store.knex('audit_events').where({ id: deleted }).delete();
    const bad = await runCli(['audit', 'verify'], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('Audit log TAMPERED');
    expect(bad.stdout).toContain(`row ${modified} was modified`);
    expect(bad.stdout).toContain(`are missing before row ${afterDeleted} (deleted)`);
  });
});
