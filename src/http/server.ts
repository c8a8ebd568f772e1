/** The project's one Express app. Issue-2 scope: health and readiness; chat endpoints mount here later. */
import type { Server } from 'node:http';
import express from 'express';
import type { Redis } from 'ioredis';
import type { StateStore } from '../core/ports.js';

export interface HttpDeps {
  store: StateStore;
  redis: Redis;
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
    res.status(ok ? 200 : 503).json({ ok, checks });
  });
  return app;
}

export function listen(app: express.Express, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, () => resolve(server));
    server.on('error', reject);
  });
}
