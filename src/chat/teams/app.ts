/**
 * Teams on the project's one Express app: botbuilder's CloudAdapter on `POST /api/messages` (JSON parsed on that
 * route only: Slack's receiver needs raw bodies). In `bot` mode (TEAMS_APP_ID) every activity must carry a Bot
 * Framework token. In `anonymous` mode (TEAMS_ANONYMOUS=true, local development, see mode.ts) unsigned activities
 * are accepted from this machine only, and the bot talks to TEAMS_SERVICE_URL only (adapter.ts). In both, only
 * this installation's tenant is served (tenant-guard.ts).
 *
 * This folder is the only place that imports botbuilder (archived by Microsoft): moving to the Teams SDK replaces it.
 */
import type { TurnContext } from 'botbuilder';
import express, { type Express } from 'express';
import type { Catalog } from '../../core/catalog.js';
import type { CoreDeps } from '../../core/deps.js';
import type { Clock, Logger, StateStore } from '../../core/ports.js';
import { activityOf, createTeamsAdapter, isAuthenticationFailure, logRefusedToken } from './adapter.js';
import { DbAccessTeamsBot } from './bot.js';
import { TeamsConversations } from './conversations.js';
import { TeamsNotifier } from './notifier.js';
import { TeamsPeople } from './people.js';
import { TeamsSender } from './send.js';
import { TenantGuard } from './tenant-guard.js';

export interface TeamsSettings {
  /** '' in anonymous mode. */
  appId: string;
  appPassword?: string;
  tenantId?: string;
  /** TEAMS_ANONYMOUS: no Bot Framework auth, local callers only, outbound to `serviceUrl` only. */
  anonymous: boolean;
  /** Bot Connector base URL: in anonymous mode the only one; otherwise used before any activity has shown the
   *  tenant's own. */
  serviceUrl: string;
}

export interface TeamsDeps {
  store: StateStore;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  remindBeforeMs: number;
  /** Inserts a conversation row unless its key exists; returns the stored one. Atomic (pins the tenant). */
}

export interface TeamsRuntime {
  notifier: TeamsNotifier;
  anonymous: boolean;
  /** A proactive message to a person's 1:1 chat with the bot (terminal sign-in codes). */
  toUser: TeamsSender['toUser'];
  /** Who a person is as Teams states it (email, name), asked in their 1:1 chat (terminal sign-in). */
  member: TeamsSender['member'];
  /** Mounts POST /api/messages (web processes only). */
  mount(app: Express, core: CoreDeps): void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function createTeams(s: TeamsSettings, deps: TeamsDeps): TeamsRuntime {
  const logger = deps.logger.child({ component: 'teams' });
  const { anonymous } = s;
  const adapter = createTeamsAdapter({
    appId: s.appId,
    ...(s.appPassword && { appPassword: s.appPassword }),
    ...(s.tenantId && { tenantId: s.tenantId }),
    ...(anonymous && { pinnedServiceUrl: s.serviceUrl }),
  });
  adapter.onTurnError = async (ctx: TurnContext, err: Error) => {
    logger.error({ err: err.message, activityType: ctx.activity.type }, 'teams turn failed');
    if (ctx.activity.type === 'message')
      await ctx.sendActivity('Something went wrong on our side; nothing was changed.').catch(() => undefined);
  };
  const conversations = new TeamsConversations(deps.store, deps.clock);
  const sender = new TeamsSender(
    adapter,
    conversations,
    { appId: s.appId, serviceUrl: s.serviceUrl, ...(s.tenantId && { tenantId: s.tenantId }) },
    logger,
  );
  const notifier = new TeamsNotifier(sender, deps.store, deps.catalog, logger, { remindBeforeMs: deps.remindBeforeMs });
  const people = new TeamsPeople(deps.clock, logger);
  return {
    notifier,
    anonymous,
    toUser: (aadObjectId, activity) => sender.toUser(aadObjectId, activity),
    member: (aadObjectId) => sender.member(aadObjectId),
    mount(app, core) {
      const bot = new DbAccessTeamsBot({ core, people, conversations, notifier });
      const guard = new TenantGuard(s.tenantId, conversations, core, logger);
      if (anonymous)
        logger.warn(
          { serviceUrl: s.serviceUrl },
          'Teams in local anonymous mode (TEAMS_ANONYMOUS=true): /api/messages accepts unsigned activities from this machine only',
        );
      app.post('/api/messages', express.json({ limit: '256kb' }), (req, res) => {
        // A proxy on this host would make every caller look local: anything forwarded is refused too.
        const forwarded = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
        if (anonymous && (forwarded || !LOOPBACK.has(req.socket.remoteAddress ?? ''))) {
          res.status(401).json({
            error: 'Teams is in local anonymous mode (TEAMS_ANONYMOUS=true): only local callers are accepted',
          });
          return;
        }
        const activity = activityOf(req.body);
        if (!activity) {
          res.status(400).json({ error: 'the body is not a Bot Framework activity' });
          return;
        }
        const answer = async () => {
          let auth;
          try {
            auth = await adapter.authenticate(activity, req.headers.authorization ?? '');
          } catch (err) {
            if (!isAuthenticationFailure(err)) throw err;
            logRefusedToken(logger, err, activity);
            res.status(401).json({ error: 'unauthorized' });
            return;
          }
          const invoke = await adapter.run(auth, activity, (ctx) => guard.run(ctx, () => bot.run(ctx)));
          res.status(invoke?.status ?? 200);
          if (invoke?.body !== undefined) res.send(invoke.body);
          else res.end();
        };
        answer().catch((err: unknown) => {
          logger.error(
            { err: err instanceof Error ? err.message : String(err), activityType: activity.type },
            'teams: activity processing failed',
          );
          if (!res.headersSent) res.status(500).json({ error: 'internal error' });
        });
      });
    },
  };
}
