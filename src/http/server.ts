/** The project's one Express app. Issue-2 scope: health and readiness; chat endpoints mount here later. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import { exportAudit, parseWhen } from '../audit/export.js';
import type { BrokerMetrics } from '../observability/metrics.js';
import express from 'express';
import type { Redis } from 'ioredis';
import type { StateStore } from '../core/ports.js';

export interface HttpDeps {
  store: StateStore;
  redis: Redis;
  /** Bearer token for /api/v1/*; the admin API is off without one. */
  adminToken?: string;
  metrics?: BrokerMetrics;
  /** Per target: "ok" or why not. Reported by /readyz without failing it: one target down must not take the
   *  broker out of service (it still has to revoke on the others). */
  targets?: () => Promise<Record<string, string>>;
}

/** Constant-time bearer check: a missing or wrong token is refused, and timing says nothing about it. */
function bearerOk(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    await deps.store.ping().then(
      () => (checks.stateStore = 'ok'),
      (err: unknown) => (checks.stateStore = `down: ${err instanceof Error ? err.message : String(err)}`),
    );
    await deps.redis.ping().then(
      () => (checks.redis = 'ok'),
      (err: unknown) => (checks.redis = `down: ${err instanceof Error ? err.message : String(err)}`),
    );
    const ok = Object.values(checks).every((v) => v === 'ok');
    const targets = deps.targets ? await deps.targets().catch((err: unknown) => ({ error: String(err) })) : undefined;
    res.status(ok ? 200 : 503).json({ ok, checks, ...(targets && { targets }) });
  });
  app.get('/metrics', async (_req, res) => {
    if (!deps.metrics) {
      res.status(404).end();
      return;
    }
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.render());
  });
  app.use('/api/v1', (req, res, next) => {
    if (!deps.adminToken) {
      res.status(404).json({ error: 'the admin API is off: set ADMIN_API_TOKEN' });
      return;
    }
    if (!bearerOk(req.headers.authorization, deps.adminToken)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'a valid bearer token (ADMIN_API_TOKEN) is required' });
      return;
    }
    next();
  });
  app.get('/api/v1/audit', async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const format = q.format === 'csv' ? 'csv' : 'jsonl';
    let since: number | undefined;
    let until: number | undefined;
    try {
      since = parseWhen(q.since, 'since', Date.now());
      until = parseWhen(q.until, 'until', Date.now());
    } catch (err) {
      res.status(400).json({ error: err instanceof Error ? err.message : String(err) });
      return;
    }
    res.type(format === 'csv' ? 'text/csv' : 'application/x-ndjson');
    for await (const line of exportAudit(deps.store, { ...(since !== undefined && { since }), ...(until !== undefined && { until }) }, format)) {
      res.write(`${line}\n`);
    }
    res.end();
  });
  return app;
}

export function listen(app: express.Express, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, () => resolve(server));
    server.on('error', reject);
  });
}
