/** The long-running roles started together: worker (queues + sweeper), HTTP server (health, Slack), or both. */
import type { Server } from 'node:http';
import { createSlackApp } from './chat/slack/app.js';
import { makeSlackContext } from './chat/slack/listeners/context.js';
import { createHttpApp, finishHttpApp, listen } from './http/server.js';
import { BrokerMetrics } from './observability/metrics.js';
import { AuditWebhook } from './audit/webhook.js';
import { targetHealth } from './observability/targets.js';
import type { GrantWorker } from './jobs/worker.js';
import { recoverInbox } from './core/inbox.js';
import { createWorker, openApp, terminalDeps, type App, type AppOptions } from './wiring.js';
import { mountTerminalApi } from './http/terminal-api.js';

export interface Roles {
  http: boolean;
  worker: boolean;
}

export interface Services {
  app: App;
  worker?: GrantWorker;
  /** The HTTP port actually bound (PORT=0 picks a free one). */
  port?: number;
  stop(): Promise<void>;
}

export async function startServices(opts: Omit<AppOptions, 'role'>, roles: Roles): Promise<Services> {
  const app = await openApp({ ...opts, role: roles.worker ? 'worker' : 'producer' });
  let worker: GrantWorker | undefined;
  let server: Server | undefined;
  let slack: ReturnType<typeof createSlackApp> | undefined;
  let webhook: AuditWebhook | undefined;
  try {
    // Slack first: a bad token fails here, before anything else holds connections open.
    const http = roles.http
      ? createHttpApp({
          store: app.deps.store,
          redis: app.redis,
          metrics: new BrokerMetrics(app.deps.store, { counts: () => app.scheduler.jobCounts() }),
          targets: targetHealth(app.engines),
          ...(opts.settings.ADMIN_API_TOKEN && { adminToken: opts.settings.ADMIN_API_TOKEN }),
          ...(opts.settings.METRICS_TOKEN && { metricsToken: opts.settings.METRICS_TOKEN }),
          logger: app.deps.logger,
        })
      : undefined;
    slack =
      app.slack && roles.http
        ? createSlackApp(app.slack.settings, makeSlackContext(app.deps, app.slack.people, app.slack.notifier), http, {
            redis: app.redis,
            keyPrefix: opts.settings.QUEUE_PREFIX,
          })
        : undefined;
    if (http) app.teams?.mount(http, app.deps);
    if (http) mountTerminalApi(http, terminalDeps(app, opts.settings));
    if (http) finishHttpApp(http, app.deps.logger);
    await slack?.start();
    worker = roles.worker ? createWorker(app, opts.settings) : undefined;
    await worker?.start();
    if (roles.worker && opts.settings.AUDIT_WEBHOOK_URL) {
      webhook = new AuditWebhook(app.deps.store, app.deps.clock, app.deps.logger, {
        url: opts.settings.AUDIT_WEBHOOK_URL,
        ...(opts.settings.AUDIT_WEBHOOK_SECRET && { secret: opts.settings.AUDIT_WEBHOOK_SECRET }),
      });
      webhook.start();
    }
    server = http ? await listen(http, opts.settings.PORT, opts.settings.HOST) : undefined;
  } catch (err) {
    await slack?.stop().catch(() => undefined);
    await webhook?.stop();
    await worker?.stop().catch(() => undefined);
    await app.close();
    throw err;
  }
  // Chat actions a crashed web process acknowledged but did not finish: processed now (those whose lease has not
  // lapsed yet are left to the sweeper, which tries every pass).
  const recovering = roles.http && app.deps.inboxEdges ? recoverAtStart(app) : Promise.resolve();
  const address = server?.address();
  return {
    app,
    ...(worker && { worker }),
    ...(typeof address === 'object' && address && { port: address.port }),
    async stop() {
      await recovering;
      await slack?.stop();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await webhook?.stop();
      await worker?.stop();
      await app.close();
    },
  };
}

async function recoverAtStart(app: App): Promise<void> {
  try {
    const n = await recoverInbox(app.deps, app.deps.inboxEdges ?? {});
    if (n > 0) app.deps.logger.info({ recovered: n }, 'inbox: unfinished chat actions processed at start');
  } catch (err) {
    app.deps.logger.error(
      { err: err instanceof Error ? err.message : String(err) },
      'inbox: recovery at start failed; the sweeper retries',
    );
  }
}
