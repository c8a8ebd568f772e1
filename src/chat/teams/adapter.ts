/**
 * botbuilder's CloudAdapter behind our own HTTP front, and the Bot Connector pin of anonymous mode.
 *
 * `CloudAdapter.process()` is not used: on a refused token it prints the error with `console.error` and answers the
 * error's own text as the 401 body. Here the activity is authenticated first (Bot Framework's own check), a
 * failure is logged through pino and answered with a generic 401, and only an authenticated activity is run.
 *
 * In anonymous mode nothing proves where an activity came from, so its `serviceUrl` must not decide where the bot
 * sends: every Bot Connector client — replies in the turn, member lookups, proactive messages, new 1:1 chats —
 * is created for TEAMS_SERVICE_URL, whatever the activity or a stored conversation reference names.
 */
import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type Activity,
  type InvokeResponse,
  type TurnContext,
} from 'botbuilder';
import type { Logger } from '../../core/ports.js';
import { statusOf } from './send.js';

type AuthenticateRequestResult = Awaited<ReturnType<ConfigurationBotFrameworkAuthentication['authenticateRequest']>>;
type ConnectorFactory = ReturnType<ConfigurationBotFrameworkAuthentication['createConnectorFactory']>;
type AuthOptions = ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[0];

/** Bot Framework authentication whose connector clients all talk to one Bot Connector. */
class PinnedConnectorAuthentication extends ConfigurationBotFrameworkAuthentication {
  constructor(
    options: AuthOptions,
    private readonly serviceUrl: string,
  ) {
    super(options);
  }

  private pin(factory: ConnectorFactory): ConnectorFactory {
    return { create: (_serviceUrl: string, audience?: string) => factory.create(this.serviceUrl, audience) };
  }

  override async authenticateRequest(activity: Activity, authHeader: string): Promise<AuthenticateRequestResult> {
    const result = await super.authenticateRequest(activity, authHeader);
    return { ...result, ...(result.connectorFactory && { connectorFactory: this.pin(result.connectorFactory) }) };
  }

  override async authenticateStreamingRequest(
    authHeader: string,
    channelIdHeader: string,
  ): Promise<AuthenticateRequestResult> {
    const result = await super.authenticateStreamingRequest(authHeader, channelIdHeader);
    return { ...result, ...(result.connectorFactory && { connectorFactory: this.pin(result.connectorFactory) }) };
  }

  override createConnectorFactory(
    claimsIdentity: Parameters<ConfigurationBotFrameworkAuthentication['createConnectorFactory']>[0],
  ): ConnectorFactory {
    return this.pin(super.createConnectorFactory(claimsIdentity));
  }
}

export class TeamsAdapter extends CloudAdapter {
  constructor(private readonly auth: ConfigurationBotFrameworkAuthentication) {
    super(auth);
  }

  /** Bot Framework's check of the Authorization header (anonymous mode: an anonymous identity). */
  authenticate(activity: Activity, authHeader: string): Promise<AuthenticateRequestResult> {
    return this.auth.authenticateRequest(activity, authHeader);
  }

  /** Runs an authenticated activity; the invoke response, if the activity was an invoke. */
  run(
    auth: AuthenticateRequestResult,
    activity: Activity,
    logic: (ctx: TurnContext) => Promise<void>,
  ): Promise<InvokeResponse | undefined> {
    return this.processActivity(auth, activity, logic);
  }
}

export interface AdapterSettings {
  appId: string;
  appPassword?: string;
  tenantId?: string;
  /** Anonymous mode: the one Bot Connector every outbound call goes to. */
  pinnedServiceUrl?: string;
}

export function createTeamsAdapter(s: AdapterSettings): TeamsAdapter {
  // A single-tenant registration needs an app id; anonymous mode has none (the tenant is still enforced, by tenant-guard.ts).
  const singleTenant = s.appId !== '' && s.tenantId !== undefined;
  const options: AuthOptions = {
    MicrosoftAppId: s.appId,
    MicrosoftAppPassword: s.appPassword ?? '',
    MicrosoftAppType: singleTenant ? 'SingleTenant' : 'MultiTenant',
    MicrosoftAppTenantId: singleTenant ? s.tenantId! : '',
  };
  return new TeamsAdapter(
    s.pinnedServiceUrl
      ? new PinnedConnectorAuthentication(options, s.pinnedServiceUrl)
      : new ConfigurationBotFrameworkAuthentication(options),
  );
}

/** A refused or unverifiable token (botframework-connector's AuthenticationError, or jsonwebtoken's errors). */
export function isAuthenticationFailure(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return (
    statusOf(err) === 401 || name === 'JsonWebTokenError' || name === 'TokenExpiredError' || name === 'NotBeforeError'
  );
}

/**
 * The request body as an activity (what botbuilder's validateAndFixActivity does: a type is required, timestamps
 * become Dates), or undefined when it is not one.
 */
export function activityOf(body: unknown): Activity | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const a = body as Record<string, unknown>;
  if (typeof a.type !== 'string' || a.type === '') return undefined;
  for (const [field, raw] of [
    ['timestamp', 'rawTimestamp'],
    ['expiration', 'rawExpiration'],
    ['localTimestamp', 'rawLocalTimestamp'],
  ] as const) {
    if (typeof a[field] === 'string') {
      a[raw] = a[field];
      a[field] = new Date(a[field]);
    }
  }
  return a as unknown as Activity;
}

/** Logs a failed authentication (never the token) and says why in the log only. */
export function logRefusedToken(logger: Logger, err: unknown, activity: Activity): void {
  logger.warn(
    {
      reason: err instanceof Error ? err.message : String(err),
      activityType: activity.type,
      channelId: activity.channelId,
    },
    'teams: activity refused: Bot Framework authentication failed',
  );
}
