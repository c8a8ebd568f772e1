/**
 * Proactive sends on Teams through botbuilder's CloudAdapter: into a channel (a new thread), as a reply in a
 * thread, into a person's 1:1 chat (opened on first use), and in-place updates. Throttling (429 with
 * Retry-After) and 5xx are retried by the connector client's own pipeline.
 */
import { TurnContext, type CloudAdapter, type ConversationParameters } from 'botbuilder';
import type { Logger } from '../../core/ports.js';
import type { Reference, TeamsConversations } from './conversations.js';

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

  /** Sends into the conversation `ref` names; returns the new activity's id. */
  async send(ref: Reference, activity: OutgoingActivity): Promise<string> {
    let id = '';
    await this.adapter.continueConversationAsync(this.opts.appId, ref, async (ctx) => {
      id = (await ctx.sendActivity(activity))?.id ?? '';
    });
    return id;
  }

  async update(ref: Reference, activityId: string, activity: OutgoingActivity): Promise<void> {
    await this.adapter.continueConversationAsync(this.opts.appId, ref, async (ctx) => {
      await ctx.updateActivity({ ...activity, id: activityId });
    });
  }

  /** The address of a channel: the one seen there, else built from the tenant's serviceUrl. */
  async channelRef(channelId: string): Promise<Reference> {
    const seen = await this.conversations.channel(channelId);
    if (seen) return { ...seen, conversation: { ...seen.conversation!, id: channelId } };
    return {
      channelId: 'msteams',
      serviceUrl: await this.serviceUrl(),
      conversation: { id: channelId, isGroup: true, conversationType: 'channel', name: '', ...(this.opts.tenantId && { tenantId: this.opts.tenantId }) },
    };
  }

  /** The address of a 1:1 chat the bot has posted in. */
  async chatRef(conversationId: string, aadObjectId: string): Promise<Reference> {
    const seen = await this.conversations.user(aadObjectId);
    if (seen?.conversation?.id === conversationId) return seen;
    return { channelId: 'msteams', serviceUrl: seen?.serviceUrl ?? (await this.serviceUrl()), conversation: { id: conversationId, isGroup: false, conversationType: 'personal', name: '' } };
  }

  /** A new thread in the channel; returns its root activity id. */
  async toChannel(channelId: string, activity: OutgoingActivity): Promise<string> {
    return this.send(await this.channelRef(channelId), activity);
  }

  /** A reply in the thread under `rootId`. */
  async reply(channelId: string, rootId: string, activity: OutgoingActivity): Promise<string> {
    const ref = await this.channelRef(channelId);
    return this.send({ ...ref, conversation: { ...ref.conversation!, id: `${channelId};messageid=${rootId}` } }, activity);
  }

  /**
   * Into the person's 1:1 chat, opening it when the bot has none yet. `undefined` when Teams refuses (the app is
   * not installed for them): the caller tells them in the channel instead.
   */
  async toUser(aadObjectId: string, activity: OutgoingActivity): Promise<{ conversationId: string; activityId: string } | undefined> {
    const ref = await this.conversations.user(aadObjectId);
    if (ref?.conversation?.id) return { conversationId: ref.conversation.id, activityId: await this.send(ref, activity) };
    const tenantId = this.opts.tenantId;
    const params = {
      isGroup: false,
      bot: { id: this.opts.appId, name: 'db-access' },
      members: [{ id: aadObjectId, name: '' }],
      ...(tenantId && { tenantId, channelData: { tenant: { id: tenantId } } }),
    } as ConversationParameters;
    let out: { conversationId: string; activityId: string } | undefined;
    try {
      await this.adapter.createConversationAsync(this.opts.appId, 'msteams', await this.serviceUrl(), CONNECTOR_AUDIENCE, params, async (ctx) => {
        const created = TurnContext.getConversationReference(ctx.activity);
        delete created.activityId;
        await this.conversations.save(`user:${aadObjectId}`, created);
        const id = (await ctx.sendActivity(activity))?.id ?? '';
        out = { conversationId: created.conversation?.id ?? '', activityId: id };
      });
    } catch (err) {
      const status = statusOf(err);
      if (status === 403 || status === 404) {
        this.logger.info({ aadObjectId, status }, 'teams: cannot open a 1:1 chat (app not installed for this user)');
        return undefined;
      }
      throw err;
    }
    return out;
  }
}

