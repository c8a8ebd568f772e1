/**
 * The operational endpoints tell an unauthenticated caller nothing internal. A real HTTP server (createHttpApp +
 * finishHttpApp + listen on port 0), a real SQLite state store and Redis:
 *  - /readyz answers `{"ok": …}` only, unless METRICS_TOKEN is set and the caller presents it;
 *  - /metrics needs the bearer when METRICS_TOKEN is set;
 *  - a body the parser refuses, a route that fails and an unknown path each get a fixed sentence, the detail going
 *    to the log.
 */
import type { Server } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StateStore } from '../../src/core/ports.js';
import { createHttpApp, finishHttpApp, listen } from '../../src/http/server.js';
import { BrokerMetrics } from '../../src/observability/metrics.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { sharedRedisUrl } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'metrics-token-0f9e8d7c';
/** In every failure the stubs raise: none of it may reach a caller without the token. */
const LEAK = 'password=S3CRET-9a8b';

interface Served {
  base: string;
  server: Server;
}

describe('operational endpoints', () => {
  let store: OpenStateStore;
  let redis: Redis;
  const { logger, logs } = capturingLogger();
  const servers: Server[] = [];

  /** A store whose ping fails, as when the state DB is unreachable; its error names a secret. */
  function downStore(): StateStore {
    return new Proxy(store, {
      get: (target, prop, receiver) =>
        prop === 'ping'
          ? () => Promise.reject(new Error(`connect ECONNREFUSED state-db.internal:5432 (${LEAK})`))
          : Reflect.get(target, prop, receiver),
    });
  }

  async function serve(
    opts: { token?: string; store?: StateStore; targets?: () => Promise<Record<string, string>> } = {},
  ): Promise<Served> {
    const app = createHttpApp({
      store: opts.store ?? store,
      redis,
      logger,
      metrics: new BrokerMetrics(store),
      targets: opts.targets ?? (async () => ({ 'orders-prod': 'ok' })),
      ...(opts.token && { metricsToken: opts.token }),
    });
    // Mounted after createHttpApp, as the chat endpoints are: a JSON route (Teams parses JSON per route) and one that fails.
    app.post('/api/json', express.json(), (req, res) => {
      res.json({ got: req.body as unknown });
    });
    app.get('/api/fails', async () => {
      throw new Error(`query failed on orders-prod (${LEAK})`);
    });
    finishHttpApp(app, logger);
    const server = await listen(app, 0, '127.0.0.1');
    servers.push(server);
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    return { base: `http://127.0.0.1:${address.port}`, server };
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    redis = new Redis(sharedRedisUrl, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    redis.disconnect();
    await store.close();
  });

  it('listen binds the address it is given', async () => {
    const { server } = await serve();
    expect(server.address()).toMatchObject({ address: '127.0.0.1' });
  });

  describe('without METRICS_TOKEN', () => {
    it('/readyz answers status only, healthy or not, and the reason goes to the log', async () => {
      const up = await serve();
      const ok = await fetch(`${up.base}/readyz`, { headers: bearer(TOKEN) });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true });

      const down = await serve({
        store: downStore(),
        targets: () => Promise.reject(new Error(`orders-prod: password authentication failed (${LEAK})`)),
      });
      const res = await fetch(`${down.base}/readyz`);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ ok: false });
      for (const s of ['checks', 'targets', 'orders-prod', 'state-db', 'ECONNREFUSED', LEAK])
        expect(text).not.toContain(s);
      await waitFor('the reason in the log', () =>
        logs.some((l) => l.includes('not ready') && l.includes('ECONNREFUSED state-db.internal')),
      );
    });

    it('/metrics stays open', async () => {
      const { base } = await serve();
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('db_access_pending_requests');
    });
  });

  describe('with METRICS_TOKEN', () => {
    it('/readyz gives the detail to the bearer only', async () => {
      const { base } = await serve({ token: TOKEN });
      const detail = await fetch(`${base}/readyz`, { headers: bearer(TOKEN) });
      expect(detail.status).toBe(200);
      expect(await detail.json()).toEqual({
        ok: true,
        checks: { stateStore: 'ok', redis: 'ok' },
        targets: { 'orders-prod': 'ok' },
      });
      for (const headers of [{}, bearer('wrong-token'), bearer(`${TOKEN}x`), { authorization: TOKEN }]) {
        const res = await fetch(`${base}/readyz`, { headers });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ ok: true });
      }
    });

    it('/readyz of a broker that is not ready: status for anyone, the reasons for the bearer', async () => {
      const { base } = await serve({
        token: TOKEN,
        store: downStore(),
        targets: () => Promise.reject(new Error(`orders-prod: password authentication failed (${LEAK})`)),
      });
      const anonymous = await fetch(`${base}/readyz`, { headers: bearer('wrong-token') });
      expect(anonymous.status).toBe(503);
      const text = await anonymous.text();
      expect(JSON.parse(text)).toEqual({ ok: false });
      expect(text).not.toContain(LEAK);
      const detail = await fetch(`${base}/readyz`, { headers: bearer(TOKEN) });
      expect(detail.status).toBe(503);
      const body = (await detail.json()) as {
        ok: boolean;
        checks: Record<string, string>;
        targets: Record<string, string>;
      };
      expect(body.ok).toBe(false);
      expect(body.checks.stateStore).toMatch(/^down: connect ECONNREFUSED state-db\.internal:5432/);
      expect(body.checks.redis).toBe('ok');
      expect(body.targets.error).toContain('password authentication failed');
    });

    it('/metrics refuses a caller without the bearer (401) and serves the one with it', async () => {
      const { base } = await serve({ token: TOKEN });
      for (const headers of [
        {},
        bearer('wrong-token'),
        { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
      ]) {
        const res = await fetch(`${base}/metrics`, { headers });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        const text = await res.text();
        expect(text).not.toContain('db_access_');
        expect(JSON.parse(text)).toEqual({ error: 'a valid bearer token (METRICS_TOKEN) is required' });
      }
      const ok = await fetch(`${base}/metrics`, { headers: bearer(TOKEN) });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('db_access_pending_requests');
    });
  });

  describe('errors are generic', () => {
    let base: string;
    beforeAll(async () => {
      ({ base } = await serve());
    });

    /** A Node stack frame, a source path or the parser's own words. */
    const INTERNALS = [
      /\n\s+at /,
      /node_modules/,
      /SyntaxError/,
      /Unexpected token/,
      /JSON at position|is not valid JSON/,
      /\.(ts|js):\d+/,
    ];

    it('a malformed JSON body is a 400 with a fixed sentence; the parser message goes to the log', async () => {
      const res = await fetch(`${base}/api/json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"activity": oops',
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'the request could not be read' });
      for (const re of INTERNALS) expect(text).not.toMatch(re);
      await waitFor('the parser error in the log', () =>
        logs.some((l) => l.includes('http request refused') && l.includes('/api/json')),
      );
      // The route itself works: it is the malformed body that was refused.
      const good = await fetch(`${base}/api/json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      expect(await good.json()).toEqual({ got: { a: 1 } });
    });

    it('a failing route is a 500 with a fixed sentence; its message and stack go to the log', async () => {
      const res = await fetch(`${base}/api/fails`);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal error; the details are in the server log' });
      expect(text).not.toContain(LEAK);
      for (const re of INTERNALS) expect(text).not.toMatch(re);
      const logged = (l: string) =>
        l.includes('http request failed') && l.includes('query failed on orders-prod') && l.includes('"stack"');
      await waitFor('the failure in the log', () => logs.some(logged));
    });

    it('an unknown path is a 404 that does not echo the path', async () => {
      const res = await fetch(`${base}/no-such-page-${LEAK}?q=<script>`);
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'not found' });
      expect(text).not.toContain(LEAK);
    });
  });
});
