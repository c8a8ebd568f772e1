/**
 * The Bolt app: HTTP mode on the project's one Express app (POST /slack/events, signatures verified by Bolt), or
 * Socket Mode when SLACK_APP_TOKEN is set (no public URL needed). SLACK_API_URL points the Web API client
 * elsewhere (proxies, tests, the demo).
 *
 * Two global middlewares run before every listener, in this order: replays are dropped (replay-guard.ts), then
 * people from outside the organisation are refused (org-guard.ts).
 */
import { App, ExpressReceiver, LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/ports.js';
import { leanFetch } from './lean-fetch.js';
import { registerActions } from './listeners/actions.js';
import { registerCommands } from './listeners/commands.js';
import type { SlackContext } from './listeners/context.js';
import { registerEvents } from './listeners/events.js';
import { ActionNotRecorded } from './listeners/inboxed.js';
import { registerViews } from './listeners/views.js';
import { orgGuard } from './org-guard.js';
import { refuseFutureTimestamps, replayGuard, verifiedSignatureDigest } from './replay-guard.js';

export interface SlackSettings {
  botToken: string;
  signingSecret?: string;
  appToken?: string;
  apiUrl?: string;
  /** SLACK_ALLOWED_TEAMS: team / Enterprise Grid ids admitted besides the installing one. */
  allowedTeams?: readonly string[];
}

/** WebClient options shared by Bolt and the notifier: a lean fetch (lean-fetch.ts), a 10 s timeout; 429s wait for
 *  Retry-After then retry. */
export function webClientOptions(s: Pick<SlackSettings, 'apiUrl'>, logger: Logger): WebClientOptions {
  return {
    ...(s.apiUrl && { slackApiUrl: s.apiUrl }),
    fetch: leanFetch(),
    timeout: 10_000,
    retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 30_000, randomize: true },
    logger: boltLogger(logger),
  };
}

export function createWebClient(s: SlackSettings, logger: Logger): WebClient {
  return new WebClient(s.botToken, webClientOptions(s, logger));
}

/**
 * Bolt and the Web API client log through our pino logger, not the console. Their debug level is dropped
 * whatever LOG_LEVEL says: at debug the Web API client logs every request body, and the credentials modal's body
 * carries the password just revealed.
 */
function boltLogger(logger: Logger): BoltLogger {
  const log = logger.child({ component: 'slack' });
  let level = LogLevel.INFO;
  const text = (msg: unknown[]) =>
    msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: () => undefined,
    info: (...m: unknown[]) => log.info({}, text(m)),
    warn: (...m: unknown[]) => log.warn({}, text(m)),
    error: (...m: unknown[]) => log.error({}, text(m)),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

export interface SlackRuntime {
  app: App;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the guards share with the rest of the broker: Redis (shared by every web replica) and its key prefix. */
export interface SlackGuardDeps {
  redis: Redis;
  /** QUEUE_PREFIX. */
  keyPrefix: string;
}

export function createSlackApp(
  s: SlackSettings,
  ctx: SlackContext,
  express: Express | undefined,
  guards: SlackGuardDeps,
): SlackRuntime {
  const logger = boltLogger(ctx.logger);
  const clientOptions = webClientOptions(s, ctx.logger);
  let app: App;
  let socket = false;
  if (s.appToken) {
    // A bot token here makes the Socket Mode client retry forever and the broker never finishes starting.
    if (!s.appToken.startsWith('xapp-'))
      throw new Error('SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write');
    socket = true;
    // Socket Mode requests carry no signature (they arrive on the app's own authenticated WebSocket, each envelope
    // acknowledged once by the SDK): the replay guard only de-duplicates Events API event ids there.
    app = new App({ token: s.botToken, appToken: s.appToken, socketMode: true, logger, clientOptions });
  } else {
    if (!s.signingSecret)
      throw new Error(
        'SLACK_SIGNING_SECRET is required for Slack in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
      );
    if (!express) throw new Error('Slack in HTTP mode needs the HTTP server (run serve or all)');
    // Registered before the receiver, so it runs before Bolt's own handler on the same route.
    express.post('/slack/events', refuseFutureTimestamps(ctx.logger));
    const receiver = new ExpressReceiver({
      signingSecret: s.signingSecret,
      app: express,
      endpoints: '/slack/events',
      logger,
      customPropertiesExtractor: verifiedSignatureDigest,
    });
    app = new App({ token: s.botToken, receiver, logger, clientOptions });
  }
  app.error(async (err) => {
    if ((err as { original?: unknown }).original instanceof ActionNotRecorded) {
      ctx.logger.error({ err: err.message }, 'slack: an action could not be recorded; it is not acknowledged');
      throw err; // the receiver answers 500 (Socket Mode: no ack), so Slack reports the failure
    }
    ctx.logger.error({ err: err.message }, 'unhandled Slack listener error');
  });
  // The installing team (and Grid organisation) joins the configured ones once auth.test has answered in start().
  let allowed: ReadonlySet<string> = new Set(s.allowedTeams ?? []);
  app.use(replayGuard({ redis: guards.redis, keyPrefix: guards.keyPrefix, logger: ctx.logger }));
  app.use(orgGuard(ctx, () => allowed));
  registerCommands(app, ctx);
  registerActions(app, ctx);
  registerViews(app, ctx);
  registerEvents(app, ctx);
  return {
    app,
    start: async () => {
      const self = await app.client.auth.test();
      allowed = new Set([
        ...allowed,
        ...[self.team_id, self.enterprise_id].filter((id): id is string => typeof id === 'string' && id !== ''),
      ]);
      ctx.logger.info({ teams: [...allowed] }, 'slack: serving the people of these teams');
      if (socket) await app.start();
    },
    stop: async () => {
      if (socket) await app.stop();
    },
  };
}
