/**
 * The project's one Express app: health, readiness, metrics, the admin API and the report page (report-routes.ts)
 * here; the chat endpoints (Slack /slack/events, Teams /api/messages) are mounted onto it afterwards, and
 * finishHttpApp closes it with the 404 and error handlers. Nothing internal reaches an unauthenticated caller: no
 * target names, no error text, no stack.
 */
import type { Server } from 'node:http';
import { exportAudit, parseWhen } from '../audit/export.js';
import type { BrokerMetrics } from '../observability/metrics.js';
import express, { type ErrorRequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Logger, StateStore } from '../core/ports.js';
import type { GrantActivityMap } from '../audit/report-page.js';
import type { GrantId } from '../core/model.js';
import { mountReport } from './report-routes.js';
import { sameSecret } from '../core/constant-time.js';

export interface HttpDeps {
  store: StateStore;
  redis: Redis;
  /** Bearer token for /api/v1/*; the admin API is off without one. */
  adminToken?: string;
  metrics?: BrokerMetrics;
  /** Per target: "ok" or why not. Reported by /readyz without failing it: one target down must not take the
   *  broker out of service (it still has to revoke on the others). */
  targets?: () => Promise<Record<string, string>>;
  /** Bearer token for /metrics and the detail of /readyz. Without one /metrics is open and /readyz says status only. */
  metricsToken?: string;
  /** Sessions and statements per grant for GET /report (see report-routes.ts); unset, the page shows none. */
  reportActivity?: (grantIds: GrantId[]) => Promise<GrantActivityMap>;
  logger: Logger;
}

/** Constant-time bearer check: a missing or wrong token is refused, and timing says nothing about it. */
function bearerOk(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  return sameSecret(m[1]!, token);
}

export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  const ready = readiness(deps);
  app.get('/readyz', async (req, res) => {
    const detail = deps.metricsToken !== undefined && bearerOk(req.headers.authorization, deps.metricsToken);
    const { ok, checks } = await ready();
    if (!detail) {
      res.status(ok ? 200 : 503).json({ ok });
      return;
    }
    const targets = deps.targets ? await deps.targets().catch((err: unknown) => ({ error: String(err) })) : undefined;
    res.status(ok ? 200 : 503).json({ ok, checks, ...(targets && { targets }) });
  });
  app.get('/metrics', async (req, res) => {
    if (deps.metricsToken !== undefined && !bearerOk(req.headers.authorization, deps.metricsToken)) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'a valid bearer token (METRICS_TOKEN) is required' });
      return;
    }
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
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'a valid bearer token (ADMIN_API_TOKEN) is required' });
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
    for await (const line of exportAudit(
      deps.store,
      { ...(since !== undefined && { since }), ...(until !== undefined && { until }) },
      format,
    )) {
      res.write(`${line}\n`);
    }
    res.end();
  });
  mountReport(app, {
    store: deps.store,
    logger: deps.logger,
    ...(deps.adminToken && { adminToken: deps.adminToken }),
    isAdmin: (req) => deps.adminToken !== undefined && bearerOk(req.headers.authorization, deps.adminToken),
    ...(deps.reportActivity && { reportActivity: deps.reportActivity }),
  });
  return app;
}

/**
 * The state store and Redis, each "ok" or "down: why". A change of the answer is logged: a caller without the
 * metrics token sees only `ok`, so the reason has to be in the log.
 */
function readiness(deps: HttpDeps): () => Promise<{ ok: boolean; checks: Record<string, string> }> {
  let logged = '{}';
  return async () => {
    const checks: Record<string, string> = {};
    const down = (err: unknown) => `down: ${err instanceof Error ? err.message : String(err)}`;
    await deps.store.ping().then(
      () => (checks.stateStore = 'ok'),
      (err: unknown) => (checks.stateStore = down(err)),
    );
    await deps.redis.ping().then(
      () => (checks.redis = 'ok'),
      (err: unknown) => (checks.redis = down(err)),
    );
    const ok = Object.values(checks).every((v) => v === 'ok');
    const failing = JSON.stringify(Object.fromEntries(Object.entries(checks).filter(([, v]) => v !== 'ok')));
    if (failing !== logged) {
      if (ok) deps.logger.info({}, 'ready again');
      else deps.logger.warn({ checks }, 'not ready');
      logged = failing;
    }
    return { ok, checks };
  };
}

/** Client errors the body parsers raise (http-errors with a 4xx status), each answered with a fixed sentence. */
const CLIENT_ERRORS: Record<number, string> = {
  400: 'the request could not be read',
  413: 'the request body is too large',
  415: 'the request body has an unsupported type, encoding or character set',
};

function clientStatus(err: unknown): number | undefined {
  const e = err as { status?: unknown; statusCode?: unknown } | null | undefined;
  const status = e?.status ?? e?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Closes the app once every route is mounted (chat endpoints included): unknown paths get a generic 404, and any
 * error a route or body parser passes on gets `{"error": <a fixed sentence>}` — 4xx for a request the parsers
 * refused, 500 otherwise — while its message and stack go to the log only.
 */
export function finishHttpApp(app: express.Express, logger: Logger): void {
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const status = clientStatus(err) ?? 500;
    const detail = {
      method: req.method,
      path: req.path,
      status,
      err: err instanceof Error ? err.message : String(err),
    };
    if (status >= 500)
      logger.error({ ...detail, stack: err instanceof Error ? err.stack : undefined }, 'http request failed');
    else logger.warn(detail, 'http request refused');
    if (res.headersSent) {
      // Part of the answer is out (a streamed export): cutting the connection is the only way left to say it failed.
      res.destroy();
      return;
    }
    const sentence =
      CLIENT_ERRORS[status] ??
      (status < 500 ? 'the request was refused' : 'internal error; the details are in the server log');
    res.status(status).json({ error: sentence });
  };
  app.use(onError);
}

/** Binds `host` (settings.HOST): a loopback address keeps the server off the network. */
export function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}
