/** The SIEM webhook: every audit event exactly once, in order, signed, through failures and a restart. */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import { loadSettings } from '../../src/config/settings.js';
import { startServices, type Services } from '../../src/app.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'webhook-secret';

describe('audit webhook', () => {
  let receiver: Server;
  let url: string;
  let dbUrl: string;
  let store: OpenStateStore;
  const received: Array<{ id: number; body: string; signature: string | undefined }> = [];
  let failNext = 0;

  const catalog = parseCatalog(
    'databases:\n  - { name: orders, engine: postgres, host: 127.0.0.1, database: postgres, admin: { user: postgres, password: x }, levels: { read: { roles: [r] } } }\n',
    {},
  );
  const prefix = uniquePrefix('webhook');
  const start = (): Promise<Services> =>
    startServices(
      {
        settings: loadSettings({
          DATABASE_URL: dbUrl,
          REDIS_URL: sharedRedisUrl,
          QUEUE_PREFIX: prefix,
          AUDIT_WEBHOOK_URL: url,
          AUDIT_WEBHOOK_SECRET: SECRET,
        }),
        catalog,
        logger: capturingLogger().logger,
      },
      { http: false, worker: true },
    );
  const append = (n: number, tag: string) =>
    store.appendAudit(
      Array.from({ length: n }, (_, i) => ({
        at: Date.now(),
        type: 'request.created' as const,
        actor: { platform: 'cli' as const, id: 'cli:test' },
        detail: { tag, i },
      })),
    );
  const allIds = async () => (await store.listAudit({})).map((e) => e.id!);

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end();
          return;
        }
        received.push({
          id: Number(req.headers['x-dbaccess-event-id']),
          body,
          signature: req.headers['x-dbaccess-signature'] as string | undefined,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const addr = receiver.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/siem`;
    dbUrl = tempSqliteUrl();
    await migrateLatest(dbUrl);
    store = await openStateStore(dbUrl);
  });

  afterAll(async () => {
    await store?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('delivers each event once, in order, signed — through 5xx answers, two replicas and a restart', async () => {
    await append(5, 'before start');
    const a = await start();
    const b = await start(); // a second replica: only one holds the lease at a time
    try {
      await waitFor('the first events to arrive', async () => received.length >= 5);
      failNext = 3;
      await append(4, 'while failing');
      await waitFor('delivery after the receiver recovers', async () => received.length >= 9, { timeoutMs: 30_000 });
    } finally {
      await a.stop();
    }
    await append(3, 'while one replica is down');
    await waitFor('the other replica to take over', async () => received.length >= 12, { timeoutMs: 40_000 });
    await b.stop();
    await append(3, 'while everything is down');
    const c = await start();
    try {
      await waitFor('the events written while down', async () => received.length >= 15, { timeoutMs: 30_000 });
    } finally {
      await c.stop();
    }
    const ids = received.map((r) => r.id);
    expect(ids).toEqual(await allIds()); // every event, exactly once, in order
    for (const r of received) {
      expect(r.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
      expect(JSON.parse(r.body)).toMatchObject({ id: r.id, type: 'request.created' });
    }
  });
});
