/**
 * The Notifier on Teams: the approval card in the database's Teams channel (replaced in place, only ever forward),
 * the requester's 1:1 chat (access active, reminder, failures; a bundle's members in one message), and the receipt
 * in the approval thread. Runs in web and worker processes alike; message references, versions and conversation
 * addresses live in the state DB.
 */
import { approvalScopeOf, type Catalog } from '../../core/catalog.js';
import type { Credentials } from '../../core/credentials.js';
import type { ApproverRef, SelfExtension } from '../../core/model.js';
import type { Logger, MessageRef, Notifier, StateStore } from '../../core/ports.js';
import { messageRefsOf, type RequestView } from '../../core/view.js';
import { renderVersion } from '../render-version.js';
import { approvalMessage } from './cards/approval.js';
import { bundleDmMessage } from './cards/bundle-dm.js';
import {
  accessActiveMessage,
  accessEndedMessage,
  credentialsInChatMessage,
  expiresSoonMessage,
  provisionFailedMessage,
} from './cards/dm.js';
import {
  breakGlassMessage,
  escalationMessage,
  receiptMessage,
  reviewOverdueMessage,
  revocationStuckMessage,
  selfExtensionMessage,
  unreachableMessage,
} from './cards/replies.js';
import type { OutgoingActivity, TeamsSender } from './send.js';

export interface TeamsNotifierOptions {
  remindBeforeMs: number;
}

export class TeamsNotifier implements Notifier {
  constructor(
    private readonly send: TeamsSender,
    private readonly store: StateStore,
    private readonly catalog: Catalog,
    private readonly logger: Logger,
    private readonly opts: TeamsNotifierOptions,
  ) {}

  /** A bundle member's approval card is the bundle's; so is its access message (the bundle's `dm`, see bundleDm);
   *  its reminders and failures are its own. */
  private async ref(v: RequestView, kind: string): Promise<MessageRef | undefined> {
    const of = kind === 'approval' && v.partOf ? v.partOf : v;
    return (await messageRefsOf(this.store, of, 'teams')).find((r) => r.platform === 'teams' && r.kind === kind);
  }

  private channelOf(v: RequestView): string | undefined {
    return approvalScopeOf(this.catalog, v.request.database)?.approval.teamsChannel;
  }

  async requestOpened(v: RequestView): Promise<void> {
    const channel = this.channelOf(v);
    if (!channel) return;
    const id = await this.send.toChannel(channel, approvalMessage(v));
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'teams',
      kind: 'approval',
      channel,
      messageId: id,
      version: renderVersion(v),
    });
  }

  /** Replaces the approval card, only when this state is newer than the one it shows. */
  async updateApproval(v: RequestView): Promise<MessageRef | undefined> {
    const ref = await this.ref(v, 'approval');
    if (!ref) return undefined;
    const shown = v.partOf ?? v;
    if (await this.store.claimMessageVersion(ref, renderVersion(shown))) {
      await this.send.update(await this.send.channelRef(ref.channel), ref.messageId, approvalMessage(shown));
    }
    return ref;
  }

  async requestChanged(v: RequestView): Promise<void> {
    // A bundle's one 1:1 message is posted when it is approved, before any member is provisioned; members then
    // replace it.
    await Promise.all([this.updateApproval(v), v.bundle && v.request.status === 'approved' && this.bundleDm(v)]);
  }

  /** The bundle's one 1:1 message, every member in it (posted once, then replaced only with a newer state than it
   *  shows: members move on concurrently). `v`: the bundle's view. */
  private async bundleDm(v: RequestView): Promise<void> {
    await this.dm(v, 'dm', bundleDmMessage(v), renderVersion(v));
  }

  /**
   * Posts (or replaces) the requester's 1:1 message of this kind; with `version`, replaces it only when that is newer
   * than what it shows. When the bot cannot reach them, the approval thread tells them how to open a chat with the
   * bot (once per request).
   */
  private async dm(v: RequestView, kind: string, msg: OutgoingActivity, version?: number): Promise<void> {
    const r = v.request.requester;
    if (r.platform !== 'teams') return;
    const existing = await this.ref(v, kind);
    if (existing) {
      if (version !== undefined && !(await this.store.claimMessageVersion(existing, version))) return;
      await this.send.update(await this.send.chatRef(existing.channel, r.id), existing.messageId, msg);
      return;
    }
    const sent = await this.send.toUser(r.id, msg);
    if (sent) {
      await this.store.saveMessageRef({
        requestId: v.request.id,
        platform: 'teams',
        kind,
        channel: sent.conversationId,
        messageId: sent.activityId,
        ...(version !== undefined && { version }),
      });
      return;
    }
    const approval = await this.ref(v, 'approval');
    if (!approval || (await this.ref(v, 'unreachable'))) return;
    const id = await this.send.reply(approval.channel, approval.messageId, unreachableMessage(v));
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'teams',
      kind: 'unreachable',
      channel: approval.channel,
      messageId: id,
    });
  }

  /** The requester's message does not wait for the channel's: the two are independent. A bundle member's message is
   *  the bundle's, which never carries a password (whatever the member's `delivery`). */
  async grantActivated(v: RequestView, credentials?: Credentials): Promise<void> {
    await Promise.all([
      this.updateApproval(v),
      v.partOf
        ? this.bundleDm(v.partOf)
        : this.dm(v, 'dm', credentials ? credentialsInChatMessage(v, credentials) : accessActiveMessage(v)),
    ]);
  }

  async grantEnded(v: RequestView): Promise<void> {
    const ref = await this.updateApproval(v);
    if (ref && v.receipt) await this.send.reply(ref.channel, ref.messageId, receiptMessage(v));
    if (v.partOf) await this.bundleDm(v.partOf);
    const delivery = this.catalog.databases.get(v.request.database)?.delivery;
    for (const kind of ['dm', 'reminder']) {
      if (await this.ref(v, kind))
        await this.dm(v, kind, accessEndedMessage(v, { passwordRemoved: kind === 'dm' && delivery === 'message' }));
    }
  }

  async provisionFailed(v: RequestView, error: string, willRetry: boolean): Promise<void> {
    await this.updateApproval(v);
    // A member's failure shows in the bundle's message, at its first failed attempt.
    if (v.partOf) return this.bundleDm(v.partOf);
    await this.dm(v, willRetry ? 'provision-retry' : 'provision-failed', provisionFailedMessage(v, error, willRetry));
  }

  async revocationStuck(v: RequestView, error: string): Promise<void> {
    const ref = await this.ref(v, 'approval');
    const channel = ref?.channel ?? this.channelOf(v);
    if (!channel) return;
    const msg = revocationStuckMessage(v, error);
    if (ref) await this.send.reply(ref.channel, ref.messageId, msg);
    else await this.send.toChannel(channel, msg);
  }

  async expiresSoon(v: RequestView): Promise<void> {
    await this.dm(v, 'reminder', expiresSoonMessage(v, this.opts.remindBeforeMs));
  }

  /** A line in the approval card's conversation; the requester's answer (with the new expiry) is the reply. */
  async grantSelfExtended(v: RequestView, ext: SelfExtension): Promise<void> {
    const ref = await this.ref(v, 'approval');
    if (ref) await this.send.reply(ref.channel, ref.messageId, selfExtensionMessage(v, ext));
  }

  async requestEscalated(v: RequestView, tier: number, asked: readonly ApproverRef[]): Promise<void> {
    const ref = await this.ref(v, 'approval');
    if (!ref) return;
    await this.send.reply(ref.channel, ref.messageId, escalationMessage(v, tier, asked));
    await this.updateApproval(v);
  }

  async breakGlassUsed(v: RequestView): Promise<void> {
    const channel =
      this.catalog.databases.get(v.request.database)?.approval.breakGlass?.teamsAlertChannel ?? this.channelOf(v);
    if (!channel) return;
    const id = await this.send.toChannel(channel, breakGlassMessage(v));
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'teams',
      kind: 'break-glass',
      channel,
      messageId: id,
    });
  }

  async reviewOverdue(v: RequestView): Promise<void> {
    const ref = await this.ref(v, 'break-glass');
    const channel = ref?.channel ?? this.channelOf(v);
    if (!channel) return;
    if (ref) await this.send.reply(ref.channel, ref.messageId, reviewOverdueMessage(v));
    else await this.send.toChannel(channel, reviewOverdueMessage(v));
  }

  /** The incident's channel is a Slack channel: nothing to post on Teams (the approval card names the incident). */
  async incidentAccessGranted(): Promise<void> {}

  /** After a review: the alert shows who reviewed, without the button. */
  async breakGlassReviewed(v: RequestView): Promise<void> {
    const ref = await this.ref(v, 'break-glass');
    if (ref) await this.send.update(await this.send.channelRef(ref.channel), ref.messageId, breakGlassMessage(v));
  }
}
