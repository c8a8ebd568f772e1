/** The broker refuses to start against a Redis that may evict keys (scheduled revocations would vanish). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import { loadSettings } from '../../src/config/settings.js';
import { startServices } from '../../src/app.js';
import { migrateLatest } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { runCli } from '../support/processes.js';
import { startPrivateRedis, type PrivateRedis } from '../support/redis.js';

describe('Redis eviction policy', () => {
  let evicting: PrivateRedis;
  let safe: PrivateRedis;
  let dbUrl: string;
  const catalogText =
    'databases:\n  - { name: orders, engine: postgres, host: 127.0.0.1, database: postgres, admin: { user: postgres, password: x }, levels: { read: { roles: [r] } } }\n';

  beforeAll(async () => {
    evicting = await startPrivateRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    safe = await startPrivateRedis();
    dbUrl = tempSqliteUrl();
    await migrateLatest(dbUrl);
  });
  afterAll(async () => {
    await evicting?.stop();
    await safe?.stop();
  });

  const start = (redisUrl: string) =>
    startServices(
      {
        settings: loadSettings({ DATABASE_URL: dbUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: 'policy' }),
        catalog: parseCatalog(catalogText, {}),
        logger: capturingLogger().logger,
      },
      { http: false, worker: true },
    );

  it('refuses an evicting Redis with a clear reason, and starts against noeviction', async () => {
    await expect(start(evicting.url)).rejects.toThrow('Redis maxmemory-policy is "allkeys-lru"');
    const ok = await start(safe.url);
    await ok.stop();
  });

  it('db-access worker exits non-zero and says why', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'db-access-cat-')), 'catalog.yaml');
    writeFileSync(path, catalogText);
    const r = await runCli(['worker'], { DATABASE_URL: dbUrl, REDIS_URL: evicting.url, CATALOG_PATH: path }, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Set maxmemory-policy noeviction');
  });
});
