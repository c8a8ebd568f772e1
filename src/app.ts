/**
 * The composition root: the one place that wires adapters to the core. openApp builds the broker (state store,
 * Redis, engines, chat, on-call, the core's Broker) from the settings and the catalog; startServices runs the
 * long-lived roles on it (worker: queues and sweeper; HTTP: health, Slack, Teams, admin API). Every CLI verb that
 * needs the broker comes here (src/cli/commands.ts).
 */
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger as Pino } from 'pino';
import type { Catalog } from './core/catalog.js';
import { Broker } from './core/broker.js';
import type { CoreDeps } from './core/deps.js';
import { recoverInbox } from './core/inbox.js';
import { makeFailpoint, makeHold } from './core/failpoints.js';
import type { ApproverDirectory, Clock, Notifier } from './core/ports.js';
import { ApproverResolver } from './oncall/resolver.js';
import { OpsgenieClient } from './oncall/opsgenie.js';
import { PagerDutyClient } from './oncall/pagerduty.js';
import { VendorIncidents } from './oncall/incidents.js';
import type { Settings } from './config/settings.js';
import { assertNoEviction, connectRedis } from './jobs/queues.js';
import { BullScheduler } from './jobs/scheduler.js';
import { RedisRateLimiter } from './jobs/rate-limit.js';
import { GrantWorker } from './jobs/worker.js';
import { FanOutNotifier, LogNotifier } from './notify/log-notifier.js';
import { DeferredProvisioningNotice } from './notify/provisioning-notice.js';
import type { WebClient } from '@slack/web-api';
import { createSlackApp, createWebClient, type SlackSettings } from './chat/slack/app.js';
import { SlackNotifier } from './chat/slack/notifier.js';
import { SlackPeople } from './chat/slack/people.js';
import { makeSlackContext } from './chat/slack/listeners/context.js';
import { slackInboxEdge } from './chat/slack/listeners/inbox-edge.js';
import { createTeams, type TeamsRuntime } from './chat/teams/app.js';
import { teamsMode } from './chat/teams/mode.js';
import { openStateStore, pendingMigrations, storeOptions } from './store/index.js';
import { CatalogEngines } from './targets/registry.js';
import { loggerPort } from './logging.js';
import { createHttpApp, finishHttpApp, listen } from './http/server.js';
import { mountTerminalApi } from './http/terminal-api.js';
import { BrokerMetrics } from './observability/metrics.js';
import { AuditWebhook } from './audit/webhook.js';
import { targetHealth } from './observability/targets.js';
import type { TerminalDeps } from './core/terminal-login.js';
import { AnyTerminalChat } from './chat/terminal-chat.js';
import { SlackTerminalChat } from './chat/slack/terminal-chat.js';
import { TeamsTerminalChat } from './chat/teams/terminal-chat.js';
import { RedisLoginStore } from './jobs/terminal-logins.js';

export const systemClock: Clock = { now: () => Date.now() };

export interface App {
  deps: CoreDeps;
  /** Present when SLACK_BOT_TOKEN is set. */
  slack?: { client: WebClient; people: SlackPeople; settings: SlackSettings; notifier: SlackNotifier };
  /** Present when TEAMS_APP_ID or TEAMS_ANONYMOUS=true is set (chat/teams/mode.ts). */
  teams?: TeamsRuntime;
  scheduler: BullScheduler;
  redis: Redis;
  engines: CatalogEngines;
  logger: Pino;
  close(): Promise<void>;
}

export interface AppOptions {
  settings: Settings;
  catalog: Catalog;
  logger: Pino;
  clock?: Clock;
  notifier?: Notifier;
  approvers?: ApproverDirectory;
  role: 'producer' | 'worker';
}

export class PendingMigrationsError extends Error {
  constructor(readonly pending: string[]) {
    super(
      `the state store has ${pending.length} pending migration(s) (${pending.join(', ')}): run "db-access migrate" first`,
    );
  }
}

/** The on-call sources the settings configure (PagerDuty, Opsgenie), each absent without its key. */
export function onCallClients(
  settings: Settings,
  clock: Clock,
): { pagerduty?: PagerDutyClient; opsgenie?: OpsgenieClient } {
  return {
    ...(settings.PAGERDUTY_TOKEN && {
      pagerduty: new PagerDutyClient({
        token: settings.PAGERDUTY_TOKEN,
        clock,
        ...(settings.PAGERDUTY_API_URL && { apiUrl: settings.PAGERDUTY_API_URL }),
      }),
    }),
    ...(settings.OPSGENIE_API_KEY && {
      opsgenie: new OpsgenieClient({
        apiKey: settings.OPSGENIE_API_KEY,
        clock,
        ...(settings.OPSGENIE_API_URL && { apiUrl: settings.OPSGENIE_API_URL }),
      }),
    }),
  };
}

export async function openApp(opts: AppOptions): Promise<App> {
  const { settings, catalog } = opts;
  const logger = loggerPort(opts.logger);
  const clock = opts.clock ?? systemClock;
  // Before anything is opened: a Teams setup that would accept anyone's activities refuses to start.
  const teamsSetup = teamsMode(settings, catalog);
  const store = await openStateStore(settings.DATABASE_URL, storeOptions(settings));
  const pending = await pendingMigrations(store.knex);
  if (pending.length > 0) {
    await store.close();
    throw new PendingMigrationsError(pending);
  }
  const redis = await connectRedis(settings.REDIS_URL, opts.role);
  if (redis.status === 'ready') {
    try {
      await assertNoEviction(redis, (msg) => logger.warn({}, msg));
    } catch (err) {
      redis.disconnect();
      await store.close();
      throw err;
    }
  }
  const scheduler = new BullScheduler(redis, settings.QUEUE_PREFIX, clock);
  const engines = new CatalogEngines(catalog, logger, await store.installationId());
  const slackSettings: SlackSettings | undefined = settings.SLACK_BOT_TOKEN
    ? {
        botToken: settings.SLACK_BOT_TOKEN,
        ...(settings.SLACK_SIGNING_SECRET && { signingSecret: settings.SLACK_SIGNING_SECRET }),
        ...(settings.SLACK_APP_TOKEN && { appToken: settings.SLACK_APP_TOKEN }),
        ...(settings.SLACK_API_URL && { apiUrl: settings.SLACK_API_URL }),
        ...(settings.SLACK_ALLOWED_TEAMS && {
          allowedTeams: settings.SLACK_ALLOWED_TEAMS.split(',')
            .map((t) => t.trim())
            .filter((t) => t !== ''),
        }),
      }
    : undefined;
  const slackClient = slackSettings && createWebClient(slackSettings, logger);
  const people = slackClient && new SlackPeople(slackClient, clock, undefined, slackSettings?.allowedTeams);
  const log = new LogNotifier(logger);
  const slackNotifier =
    slackClient && new SlackNotifier(slackClient, store, catalog, logger, { remindBeforeMs: settings.REMIND_BEFORE });
  const teams =
    teamsSetup !== 'off'
      ? createTeams(
          {
            appId: settings.TEAMS_APP_ID ?? '',
            anonymous: teamsSetup === 'anonymous',
            serviceUrl: settings.TEAMS_SERVICE_URL,
            ...(settings.TEAMS_APP_PASSWORD && { appPassword: settings.TEAMS_APP_PASSWORD }),
            ...(settings.TEAMS_TENANT_ID && { tenantId: settings.TEAMS_TENANT_ID }),
          },
          { store, catalog, clock, logger, remindBeforeMs: settings.REMIND_BEFORE },
        )
      : undefined;
  const chat = [slackNotifier, teams?.notifier].filter((n): n is NonNullable<typeof n> => n !== undefined);
  const deferred = chat.length
    ? new DeferredProvisioningNotice(chat, store, settings.PROVISIONING_NOTICE_AFTER, logger)
    : undefined;
  const notifier = opts.notifier ?? (deferred ? new FanOutNotifier([log, deferred], logger) : log);
  const { pagerduty, opsgenie } = onCallClients(settings, clock);
  // One Broker per application: it owns the core's in-process state (batchers, grants being worked on).
  const broker = new Broker({
    catalog,
    store,
    engines,
    scheduler,
    clock,
    logger,
    notifier,
    requestLimiter: new RedisRateLimiter(redis, settings.QUEUE_PREFIX, settings.REQUEST_RATE, logger),
    approvers:
      opts.approvers ??
      new ApproverResolver(people, clock, { ...(pagerduty && { pagerduty }), ...(opsgenie && { opsgenie }) }),
    ...((pagerduty || opsgenie) && {
      incidents: new VendorIncidents({ ...(pagerduty && { pagerduty }), ...(opsgenie && { opsgenie }) }),
    }),
    remindBeforeMs: settings.REMIND_BEFORE,
    revokeAlertAfterMs: settings.REVOKE_ALERT_AFTER,
    failpoint: makeFailpoint(settings.DB_ACCESS_FAILPOINT, () => process.kill(process.pid, 'SIGKILL')),
    hold: makeHold(settings.DB_ACCESS_FAILPOINT, (name) =>
      logger.warn({ failpoint: name }, 'failpoint: holding here until killed'),
    ),
  });
  const deps = broker.deps;
  // Chat actions left unfinished by a crash are processed again by whichever process recovers them (core/inbox.ts).
  if (slackClient && people)
    deps.inboxEdges = { slack: slackInboxEdge(makeSlackContext(deps, people, slackNotifier), slackClient) };
  return {
    deps,
    ...(slackClient &&
      people &&
      slackSettings &&
      slackNotifier && { slack: { client: slackClient, people, settings: slackSettings, notifier: slackNotifier } }),
    ...(teams && { teams }),
    scheduler,
    redis,
    engines,
    logger: opts.logger,
    async close() {
      deferred?.close();
      await broker.close();
      await scheduler.close().catch(() => undefined);
      await engines.close();
      await store.close();
      redis.disconnect();
    },
  };
}

export function createWorker(app: App, settings: Settings): GrantWorker {
  return new GrantWorker(app.deps, app.scheduler, app.redis, {
    prefix: settings.QUEUE_PREFIX,
    concurrency: settings.WORKER_CONCURRENCY,
    revokeConcurrency: settings.WORKER_REVOKE_CONCURRENCY,
    staleProvisioningMs: settings.PROVISION_STALE_AFTER,
    lockDurationMs: settings.WORKER_LOCK,
    sweepIntervalMs: settings.SWEEP_INTERVAL,
    revokeRetryMaxMs: settings.REVOKE_RETRY_MAX,
    incidentPollMs: settings.INCIDENT_POLL,
  });
}

/** The long-running roles started together: worker (queues + sweeper), HTTP server (health, Slack, Teams), or both. */
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
/** Sign-in codes per person: 5 at once, then one every 2 minutes. Terminal calls per client address: 60, then 1/5 s. */
const TERMINAL_PER_PERSON = { capacity: 5, refillMs: 120_000 };
const TERMINAL_PER_ADDRESS = { capacity: 60, refillMs: 5_000 };

/** The terminal API's dependencies; undefined (the API is off) without TERMINAL_TOKEN_SECRET or a chat platform. */
export function terminalDeps(app: App, settings: Settings): TerminalDeps | undefined {
  const platforms = [
    ...(app.slack
      ? [
          {
            platform: 'slack' as const,
            chat: new SlackTerminalChat(app.slack.client, app.slack.people, app.slack.settings.allowedTeams),
          },
        ]
      : []),
    ...(app.teams
      ? [{ platform: 'teams' as const, chat: new TeamsTerminalChat(app.teams.toUser, app.teams.member) }]
      : []),
  ];
  if (!settings.TERMINAL_TOKEN_SECRET || platforms.length === 0) return undefined;
  const logger = app.deps.logger;
  return {
    core: app.deps,
    chat: new AnyTerminalChat(platforms),
    logins: new RedisLoginStore(app.redis, settings.QUEUE_PREFIX),
    secret: settings.TERMINAL_TOKEN_SECRET,
    perPerson: new RedisRateLimiter(app.redis, settings.QUEUE_PREFIX, TERMINAL_PER_PERSON, logger),
    perAddress: new RedisRateLimiter(app.redis, settings.QUEUE_PREFIX, TERMINAL_PER_ADDRESS, logger),
  };
}
