/**
 * Teams on the project's one Express app: botbuilder's CloudAdapter on `POST /api/messages` (JSON parsed on that
 * route only: Slack's receiver needs raw bodies). With TEAMS_APP_ID set, every activity must carry a Bot Framework
 * token (checked by the adapter). With it empty the bot runs in local anonymous mode: unsigned activities are
 * accepted, but only from this machine (tests, the demo, a developer's tunnel-less setup).
 *
 * This folder is the only place that imports botbuilder (archived by Microsoft): moving to the Teams SDK replaces it.
 */
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type TurnContext } from 'botbuilder';
import express, { type Express } from 'express';
import type { Catalog } from '../../core/catalog.js';
import type { CoreDeps } from '../../core/deps.js';
import type { Clock, Logger, StateStore } from '../../core/ports.js';
import { DbAccessTeamsBot } from './bot.js';
import { TeamsConversations } from './conversations.js';
import { TeamsNotifier } from './notifier.js';
import { TeamsPeople } from './people.js';
import { TeamsSender } from './send.js';

export interface TeamsSettings {
  /** '' = local anonymous mode. */
  appId: string;
  appPassword?: string;
  tenantId?: string;
  /** Bot Connector base URL used before any activity has shown the tenant's own. */
  serviceUrl: string;
}

export interface TeamsRuntime {
  notifier: TeamsNotifier;
  anonymous: boolean;
  /** Mounts POST /api/messages (web processes only). */
  mount(app: Express, core: CoreDeps): void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function createTeams(s: TeamsSettings, deps: { store: StateStore; catalog: Catalog; clock: Clock; logger: Logger; remindBeforeMs: number }): TeamsRuntime {
  const logger = deps.logger.child({ component: 'teams' });
  const anonymous = s.appId === '';
  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: s.appId,
    MicrosoftAppPassword: s.appPassword ?? '',
    MicrosoftAppType: s.tenantId ? 'SingleTenant' : 'MultiTenant',
    MicrosoftAppTenantId: s.tenantId ?? '',
  });
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (ctx: TurnContext, err: Error) => {
    logger.error({ err: err.message, activityType: ctx.activity.type }, 'teams turn failed');
    if (ctx.activity.type === 'message') await ctx.sendActivity('Something went wrong on our side; nothing was changed.').catch(() => undefined);
  };
  const conversations = new TeamsConversations(deps.store, deps.clock);
  const sender = new TeamsSender(adapter, conversations, { appId: s.appId, serviceUrl: s.serviceUrl, ...(s.tenantId && { tenantId: s.tenantId }) }, logger);
  const notifier = new TeamsNotifier(sender, deps.store, deps.catalog, logger, { remindBeforeMs: deps.remindBeforeMs });
  const people = new TeamsPeople(deps.clock, logger);
  return {
    notifier,
    anonymous,
    mount(app, core) {
      const bot = new DbAccessTeamsBot({ core, people, conversations, notifier });
      if (anonymous) logger.warn({}, 'Teams in local anonymous mode (TEAMS_APP_ID is empty): /api/messages accepts unsigned activities from this machine only');
      app.post('/api/messages', express.json({ limit: '256kb' }), (req, res) => {
        // A proxy on this host would make every caller look local: anything forwarded is refused too.
        const forwarded = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
        if (anonymous && (forwarded || !LOOPBACK.has(req.socket.remoteAddress ?? ''))) {
          res.status(401).json({ error: 'Teams is in local anonymous mode (TEAMS_APP_ID is empty): only local callers are accepted' });
          return;
        }
        void adapter.process(req, res, (ctx) => bot.run(ctx)).catch((err: unknown) => {
          logger.error({ err: err instanceof Error ? err.message : String(err) }, 'teams: activity processing failed');
          if (!res.headersSent) res.status(500).end();
        });
      });
    },
  };
}
