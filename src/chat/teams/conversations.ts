/**
 * Where the bot can send on Teams. Teams only accepts proactive messages into conversations the bot has an address
 * for, so every inbound activity's conversation reference is kept in the state DB: per user (their 1:1 chat), per
 * channel, and the tenant's serviceUrl (needed to open a 1:1 chat with someone the bot has not talked to yet).
 * Also kept here: the tenant this installation serves when TEAMS_TENANT_ID is unset (see tenant-guard.ts).
 */
import { TurnContext, type Activity, type ConversationReference } from 'botbuilder';
import type { Clock, StateStore } from '../../core/ports.js';

export type Reference = Partial<ConversationReference>;

/** A channel id from a channel conversation id: `19:abc@thread.tacv2;messageid=17…` → `19:abc@thread.tacv2`. */
export function channelOf(conversationId: string): string {
  return conversationId.split(';')[0]!;
}

export class TeamsConversations {
  /** What this process last wrote per key, so a chatty user does not cost a write per message. */
  private readonly written = new Map<string, string>();

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
  ) {}

  /** Keeps the addresses an inbound activity reveals. */
  async remember(activity: Activity): Promise<void> {
    const ref = TurnContext.getConversationReference(activity);
    // The address is the conversation, not the message that arrived in it.
    delete ref.activityId;
    const conv = activity.conversation;
    const tenant = conv?.tenantId ?? (activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
    const writes: Array<[string, Reference]> = [];
    if (conv?.conversationType === 'personal' && activity.from?.aadObjectId)
      writes.push([`user:${activity.from.aadObjectId}`, ref]);
    if (conv?.conversationType === 'channel' && conv.id) {
      const channel =
        (activity.channelData as { channel?: { id?: string } } | undefined)?.channel?.id ?? channelOf(conv.id);
      writes.push([`channel:${channel}`, { ...ref, conversation: { ...ref.conversation!, id: channel } }]);
    }
    if (tenant && activity.serviceUrl) {
      const service: Reference = {
        serviceUrl: activity.serviceUrl,
        channelId: 'msteams',
        conversation: { id: '', tenantId: tenant, isGroup: false, conversationType: '', name: '' },
      };
      // Per tenant, and the latest of any tenant (for a bot that was not told its tenant).
      writes.push([`tenant:${tenant}`, service], ['tenant:*', service]);
    }
    for (const [key, value] of writes) {
      const json = JSON.stringify(value);
      if (this.written.get(key) === json) continue;
      await this.store.saveConversation({ platform: 'teams', key, reference: json, updatedAt: this.clock.now() });
      this.written.set(key, json);
    }
  }

  async save(key: string, ref: Reference): Promise<void> {
    const json = JSON.stringify(ref);
    await this.store.saveConversation({ platform: 'teams', key, reference: json, updatedAt: this.clock.now() });
    this.written.set(key, json);
  }

  async get(key: string): Promise<Reference | undefined> {
    const row = await this.store.getConversation('teams', key);
    return row ? (JSON.parse(row.reference) as Reference) : undefined;
  }

  user(aadObjectId: string): Promise<Reference | undefined> {
    return this.get(`user:${aadObjectId}`);
  }

  channel(channelId: string): Promise<Reference | undefined> {
    return this.get(`channel:${channelId}`);
  }

  /** The serviceUrl Teams last used for this tenant (or for any tenant, when none is configured). */
  async serviceUrl(tenantId: string | undefined): Promise<string | undefined> {
    return (await this.get(`tenant:${tenantId ?? '*'}`))?.serviceUrl;
  }

  /**
   * The tenant this installation talks to, as the stored references know it: the pinned tenant, else the tenant of
   * the latest reference kept (`tenant:*`). Teams refuses to open a 1:1 chat without it (400 "Could not parse tenant
   * id"), so a bot without TEAMS_TENANT_ID takes it from here.
   */
  async tenant(): Promise<string | undefined> {
    return (await this.pinnedTenant()) ?? (await this.get('tenant:*'))?.conversation?.tenantId ?? undefined;
  }

  /** The pinned tenant id, if one has been pinned. */
  async pinnedTenant(): Promise<string | undefined> {
    const row = await this.store.getConversation('teams', PINNED_TENANT);
    return row ? (JSON.parse(row.reference) as { tenantId: string }).tenantId : undefined;
  }

  /** Pins `tenantId` unless a tenant is pinned already; returns the pinned one. The first writer wins, atomically. */
  async pinTenant(tenantId: string): Promise<string> {
    const row = await this.store.claimConversation({
      platform: 'teams',
      key: PINNED_TENANT,
      reference: JSON.stringify({ tenantId }),
      updatedAt: this.clock.now(),
    });
    return (JSON.parse(row.reference) as { tenantId: string }).tenantId;
  }
}

/** Outside the `tenant:<id>` keys remember() writes, so no tenant id can collide with it. */
const PINNED_TENANT = 'pinned-tenant';
