/**
 * Proactive sends on Teams through botbuilder's CloudAdapter: into a channel (a new thread), as a reply in a
 * thread, into a person's 1:1 chat (opened on first use), and in-place updates. Throttling (429 with
 * Retry-After) and 5xx are retried by the connector client's own pipeline.
 */
import { TeamsInfo, TurnContext, type Activity, type CloudAdapter, type ConversationParameters } from 'botbuilder';
import type { Logger } from '../../core/ports.js';
import type { Reference, TeamsConversations } from './conversations.js';

/** The part of botframework-connector's ConnectorClient used here (botbuilder does not re-export its type). */
interface ConnectorClient {
  conversations: {
    sendToConversation(conversationId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
    updateActivity(conversationId: string, activityId: string, activity: Partial<Activity>): Promise<unknown>;
  };
}

export type OutgoingActivity = Record<string, unknown> & { type: 'message' };

export interface TeamsSendOptions {
  /** '' in local anonymous mode. */
  appId: string;
  tenantId?: string;
  /** Used when no conversation has shown this tenant's serviceUrl yet. */
  serviceUrl: string;
}

/** Public-cloud Bot Connector audience (botframework-connector's AuthenticationConstants.ToChannelFromBotOAuthScope). */
const CONNECTOR_AUDIENCE = 'https://api.botframework.com';

export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export class TeamsSender {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly conversations: TeamsConversations,
    private readonly opts: TeamsSendOptions,
    private readonly logger: Logger,
  ) {}

  private async serviceUrl(): Promise<string> {
    return (await this.conversations.serviceUrl(this.opts.tenantId)) ?? this.opts.serviceUrl;
  }

  /** TEAMS_TENANT_ID, else the tenant the stored conversation references know (the one the tenant guard serves). */
  private async tenantId(): Promise<string | undefined> {
    return this.opts.tenantId ?? (await this.conversations.tenant());
  }

  /**
   * Runs `logic` in a proactive turn and rethrows what it threw: the adapter would otherwise hand the error to
   * onTurnError and report success, and callers must know a message did not go out.
   */
  private async proactive(ref: Reference, logic: (ctx: TurnContext) => Promise<void>): Promise<void> {
    let failure: { err: unknown } | undefined;
    await this.adapter.continueConversationAsync(this.opts.appId, ref, async (ctx) => {
      try {
        await logic(ctx);
      } catch (err) {
        failure = { err };
      }
    });
    if (failure) throw failure.err;
  }

  /**
   * The turn's Bot Connector client, called directly: TurnContext.sendActivity in a proactive turn would post a
   * reply to the synthetic continuation activity instead of a new message.
   */
  private connector(ctx: TurnContext): ConnectorClient {
    return ctx.turnState.get(ctx.adapter.ConnectorClientKey) as ConnectorClient;
  }

  private outgoing(ref: Reference, activity: OutgoingActivity): Partial<Activity> {
    return {
      ...activity,
      channelId: 'msteams',
      ...(ref.bot && { from: ref.bot }),
      conversation: ref.conversation!,
    } as Partial<Activity>;
  }

  /** Sends a new message into the conversation `ref` names; returns its activity id. */
  async send(ref: Reference, activity: OutgoingActivity): Promise<string> {
    let id = '';
    await this.proactive(ref, async (ctx) => {
      id =
        (await this.connector(ctx).conversations.sendToConversation(ref.conversation!.id, this.outgoing(ref, activity)))
          .id ?? '';
    });
    if (!id) throw new Error('Teams accepted the message but returned no id');
    return id;
  }

  async update(ref: Reference, activityId: string, activity: OutgoingActivity): Promise<void> {
    await this.proactive(ref, async (ctx) => {
      await this.connector(ctx).conversations.updateActivity(ref.conversation!.id, activityId, {
        ...this.outgoing(ref, activity),
        id: activityId,
      });
    });
  }

  /** The address of a channel: the one seen there, else built from the tenant's serviceUrl. */
  async channelRef(channelId: string): Promise<Reference> {
    const seen = await this.conversations.channel(channelId);
    if (seen) return { ...seen, conversation: { ...seen.conversation!, id: channelId } };
    const tenantId = await this.tenantId();
    return {
      channelId: 'msteams',
      serviceUrl: await this.serviceUrl(),
      conversation: {
        id: channelId,
        isGroup: true,
        conversationType: 'channel',
        name: '',
        ...(tenantId && { tenantId }),
      },
    };
  }

  /** The address of a 1:1 chat the bot has posted in. */
  async chatRef(conversationId: string, aadObjectId: string): Promise<Reference> {
    const seen = await this.conversations.user(aadObjectId);
    if (seen?.conversation?.id === conversationId) return seen;
    const tenantId = seen?.conversation?.tenantId ?? (await this.tenantId());
    return {
      channelId: 'msteams',
      serviceUrl: seen?.serviceUrl ?? (await this.serviceUrl()),
      conversation: {
        id: conversationId,
        isGroup: false,
        conversationType: 'personal',
        name: '',
        ...(tenantId && { tenantId }),
      },
    };
  }

  /** A new thread in the channel; returns its root activity id. */
  async toChannel(channelId: string, activity: OutgoingActivity): Promise<string> {
    return this.send(await this.channelRef(channelId), activity);
  }

  /** A reply in the thread under `rootId`. */
  async reply(channelId: string, rootId: string, activity: OutgoingActivity): Promise<string> {
    const ref = await this.channelRef(channelId);
    return this.send(
      { ...ref, conversation: { ...ref.conversation!, id: `${channelId};messageid=${rootId}` } },
      activity,
    );
  }

  /**
   * Into the person's 1:1 chat, opening it when the bot has none yet. `undefined` when Teams refuses (the app is
   * not installed for them): the caller tells them in the channel instead.
   */
  async toUser(
    aadObjectId: string,
    activity: OutgoingActivity,
  ): Promise<{ conversationId: string; activityId: string } | undefined> {
    const ref = await this.chatWith(aadObjectId);
    if (!ref?.conversation?.id) return undefined;
    return { conversationId: ref.conversation.id, activityId: await this.send(ref, activity) };
  }

  /** The person's email (lower-case) and name as Teams states them in their 1:1 chat; undefined when unreachable. */
  async member(aadObjectId: string): Promise<{ email?: string; name?: string } | undefined> {
    const ref = await this.chatWith(aadObjectId);
    if (!ref) return undefined;
    let found: { email?: string; name?: string } | undefined;
    await this.proactive(ref, async (ctx) => {
      const m = await TeamsInfo.getMember(ctx, aadObjectId);
      const email = (m.email ?? m.userPrincipalName)?.toLowerCase();
      found = { ...(email && { email }), ...(m.name && { name: m.name }) };
    });
    return found;
  }

  /** The address of the person's 1:1 chat, opened (and kept) when the bot has none yet; undefined when Teams refuses. */
  private async chatWith(aadObjectId: string): Promise<Reference | undefined> {
    const ref = await this.conversations.user(aadObjectId);
    if (ref?.conversation?.id) return ref;
    // Teams opens a 1:1 chat only within a tenant it is told (400 "Could not parse tenant id" otherwise).
    const tenantId = await this.tenantId();
    const params = {
      isGroup: false,
      bot: { id: this.opts.appId, name: 'db-access' },
      members: [{ id: aadObjectId, name: '' }],
      ...(tenantId && { tenantId, channelData: { tenant: { id: tenantId } } }),
    } as ConversationParameters;
    let created: Reference | undefined;
    try {
      // Only opens the chat (and keeps its address); messages go through send() like any other.
      await this.adapter.createConversationAsync(
        this.opts.appId,
        'msteams',
        await this.serviceUrl(),
        CONNECTOR_AUDIENCE,
        params,
        async (ctx) => {
          created = TurnContext.getConversationReference(ctx.activity);
          delete created.activityId;
        },
      );
    } catch (err) {
      const status = statusOf(err);
      if (status === 403 || status === 404) {
        this.logger.info({ aadObjectId, status }, 'teams: cannot open a 1:1 chat (app not installed for this user)');
        return undefined;
      }
      throw err;
    }
    if (!created?.conversation?.id) throw new Error('Teams opened a 1:1 chat but returned no conversation id');
    await this.conversations.save(`user:${aadObjectId}`, created);
    return created;
  }
}
