/**
 * The Notifier on Slack: the approval message in the database's channel (updated in place, only ever forward),
 * the requester's DMs (access active / credentials, reminders, failures), and the receipt in the approval thread.
 * Runs in web and worker processes alike; message references and versions live in the state DB.
 */
import type { ChatPostMessageArguments, WebClient } from '@slack/web-api';
import { approvalScopeOf, type Catalog } from '../../core/catalog.js';
import type { Credentials } from '../../core/credentials.js';
import type { Logger, MessageRef, Notifier, StateStore } from '../../core/ports.js';
import { messageRefsOf, type RequestView } from '../../core/view.js';
import { renderVersion } from '../render-version.js';
import { approvalMessage } from './blocks/approval-message.js';
import { bundleDm } from './blocks/bundle-dm.js';
import { credentialsDm, credentialsDmEnded } from './blocks/credentials.js';
import { accessActiveDm, accessEndedDm, expiresSoonDm, provisionFailedDm } from './blocks/dm.js';
import { revocationReceipt, selfExtensionReply } from './blocks/receipt.js';
import { revocationStuckAlert } from './blocks/alerts.js';
import { breakGlassAlert, escalationReply, incidentAccessLine, reviewOverdueAlert } from './blocks/policy.js';
import type { SlackMessage } from './blocks/kit.js';
import type { ApproverRef, SelfExtension } from '../../core/model.js';

/**
 * An alert about an earlier message: a reply in its thread, broadcast so the channel sees it too; a message of its own
 * in `channel` when there is no earlier message.
 */
function alertArgs(channel: string, ref: MessageRef | undefined, msg: SlackMessage): ChatPostMessageArguments {
  return ref ? { channel, thread_ts: ref.messageId, reply_broadcast: true, ...msg } : { channel, ...msg };
}

export { renderVersion };

export interface SlackNotifierOptions {
  remindBeforeMs: number;
}

export class SlackNotifier implements Notifier {
  constructor(
    private readonly client: WebClient,
    private readonly store: StateStore,
    private readonly catalog: Catalog,
    private readonly logger: Logger,
    private readonly opts: SlackNotifierOptions,
  ) {}

  /** A bundle member's: the bundle's (its approval message and DM) and its own (its reminder). */
  private refsOf(v: RequestView): Promise<MessageRef[]> {
    if (!v.partOf) return messageRefsOf(this.store, v, 'slack');
    return Promise.all([messageRefsOf(this.store, v.partOf, 'slack'), this.store.getMessageRefs(v.request.id)]).then(
      ([bundle, own]) => [...bundle, ...own],
    );
  }

  /** `refs`: the request's references when the caller already asked for them (one read per event, not per message). */
  private ref(v: RequestView, kind: string, refs = this.refsOf(v)): Promise<MessageRef | undefined> {
    return refs.then((all) => all.find((r) => r.platform === 'slack' && r.kind === kind));
  }

  private slackRequester(v: RequestView): string | undefined {
    return v.request.requester.platform === 'slack' ? v.request.requester.id : undefined;
  }

  async requestOpened(v: RequestView): Promise<void> {
    const channel = approvalScopeOf(this.catalog, v.request.database)?.approval.slackChannel;
    if (!channel) {
      this.logger.warn(
        { requestId: v.request.id, database: v.request.database },
        'no slackChannel for this database: approval message not posted',
      );
      return;
    }
    const msg = approvalMessage(v);
    const res = await this.client.chat.postMessage({ channel, ...msg });
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'slack',
      kind: 'approval',
      channel: res.channel ?? channel,
      messageId: String(res.ts),
      version: renderVersion(v),
    });
  }

  /** chat.update of the approval message, only when this state is newer than the one it shows. A bundle member's
   *  change shows in the bundle's message. */
  private async updateApproval(v: RequestView, refs?: Promise<MessageRef[]>): Promise<MessageRef | undefined> {
    const ref = await this.ref(v, 'approval', refs);
    if (!ref) return undefined;
    const shown = v.partOf ?? v;
    if (await this.store.claimMessageVersion(ref, renderVersion(shown))) {
      const msg = approvalMessage(shown);
      await this.client.chat.update({ channel: ref.channel, ts: ref.messageId, ...msg });
    }
    return ref;
  }

  async requestChanged(v: RequestView): Promise<void> {
    const refs = this.refsOf(v);
    // A bundle's one DM is posted when it is approved, before any member is provisioned; members then edit it.
    await Promise.all([
      this.updateApproval(v, refs),
      v.bundle && v.request.status === 'approved' && this.bundleDm(v, refs),
    ]);
  }

  /** The bundle's DM (posted once, then edited only with a newer state than it shows). `v`: the bundle's view. */
  private async bundleDm(v: RequestView, refs: Promise<MessageRef[]>): Promise<void> {
    const user = this.slackRequester(v);
    if (!user) return;
    const existing = await this.ref(v, 'dm', refs);
    if (existing) {
      if (await this.store.claimMessageVersion(existing, renderVersion(v)))
        await this.client.chat.update({ channel: existing.channel, ts: existing.messageId, ...bundleDm(v) });
      return;
    }
    const res = await this.client.chat.postMessage({ channel: user, ...bundleDm(v) });
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'slack',
      kind: 'dm',
      channel: res.channel ?? user,
      messageId: String(res.ts),
      version: renderVersion(v),
    });
  }

  /** Opens (or reuses) the DM with the requester and posts; the reference lets later events edit it. */
  private async dm(v: RequestView, kind: string, msg: SlackMessage, refs?: Promise<MessageRef[]>): Promise<void> {
    const user = this.slackRequester(v);
    if (!user) return;
    const existing = await this.ref(v, kind, refs);
    if (existing) {
      await this.client.chat.update({ channel: existing.channel, ts: existing.messageId, ...msg });
      return;
    }
    // Posting to a user id lands in the app's DM with them (no conversations.open); the answer names the D… channel
    // that later edits need.
    const res = await this.client.chat.postMessage({ channel: user, ...msg });
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'slack',
      kind,
      channel: res.channel ?? user,
      messageId: String(res.ts),
    });
  }

  /** The requester's message does not wait for the channel's: the two are independent. */
  async grantActivated(v: RequestView, credentials?: Credentials): Promise<void> {
    const refs = this.refsOf(v);
    if (v.partOf) {
      await Promise.all([this.bundleDm(v.partOf, refs), this.updateApproval(v, refs)]);
      return;
    }
    // The DM first: it is what the requester waits for.
    await Promise.all([
      this.dm(v, 'dm', credentials ? credentialsDm(v, credentials) : accessActiveDm(v), refs),
      this.updateApproval(v, refs),
    ]);
  }

  /** The channel (message + receipt) and the requester's DMs are updated side by side. */
  async grantEnded(v: RequestView): Promise<void> {
    const refs = this.refsOf(v);
    const channel = async () => {
      const ref = await this.updateApproval(v, refs);
      if (ref && v.receipt) {
        await this.client.chat.postMessage({ channel: ref.channel, thread_ts: ref.messageId, ...revocationReceipt(v) });
      }
    };
    const dms = async () => {
      const mine = (await refs).filter((r) => r.platform === 'slack');
      if (v.partOf) {
        const reminder = mine.find((r) => r.kind === 'reminder' && r.requestId === v.request.id);
        await Promise.all([
          this.bundleDm(v.partOf, refs),
          reminder &&
            this.client.chat.update({ channel: reminder.channel, ts: reminder.messageId, ...accessEndedDm(v) }),
        ]);
        return;
      }
      const dm = mine.find((r) => r.kind === 'dm');
      const reminder = mine.find((r) => r.kind === 'reminder');
      const delivery = this.catalog.databases.get(v.request.database)?.delivery;
      await Promise.all([
        dm &&
          this.client.chat.update({
            channel: dm.channel,
            ts: dm.messageId,
            ...(delivery === 'message' ? credentialsDmEnded(v) : accessEndedDm(v)),
          }),
        reminder && this.client.chat.update({ channel: reminder.channel, ts: reminder.messageId, ...accessEndedDm(v) }),
      ]);
    };
    await Promise.all([channel(), dms()]);
  }

  async provisionFailed(v: RequestView, error: string, willRetry: boolean): Promise<void> {
    if (v.partOf) {
      // The member's line in the bundle's message and DM says what failed, once it is final.
      const refs = this.refsOf(v);
      await Promise.all([this.updateApproval(v, refs), this.bundleDm(v.partOf, refs)]);
      return;
    }
    await this.updateApproval(v);
    await this.dm(v, willRetry ? 'provision-retry' : 'provision-failed', provisionFailedDm(v, error, willRetry));
  }

  async revocationStuck(v: RequestView, error: string): Promise<void> {
    const ref = await this.ref(v, 'approval');
    const channel = ref?.channel ?? this.catalog.databases.get(v.request.database)?.approval.slackChannel;
    if (!channel) return;
    await this.client.chat.postMessage(alertArgs(channel, ref, revocationStuckAlert(v, error)));
  }

  async expiresSoon(v: RequestView): Promise<void> {
    const user = this.slackRequester(v);
    if (!user) return;
    const res = await this.client.chat.postMessage({ channel: user, ...expiresSoonDm(v, this.opts.remindBeforeMs) });
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'slack',
      kind: 'reminder',
      channel: res.channel ?? user,
      messageId: String(res.ts),
    });
  }

  /** A line in the approval thread; the requester's answer (with the new expiry) is the command's reply. */
  async grantSelfExtended(v: RequestView, ext: SelfExtension): Promise<void> {
    const ref = await this.ref(v, 'approval');
    if (!ref) return;
    await this.client.chat.postMessage({
      channel: ref.channel,
      thread_ts: ref.messageId,
      ...selfExtensionReply(v, ext),
    });
  }

  async requestEscalated(v: RequestView, tier: number, asked: readonly ApproverRef[]): Promise<void> {
    const ref = await this.ref(v, 'approval');
    if (!ref) return;
    await this.client.chat.postMessage({
      channel: ref.channel,
      thread_ts: ref.messageId,
      ...escalationReply(v, tier, asked),
    });
    // The main message now names the wider set of approvers (unless it has moved on meanwhile).
    await this.updateApproval(v);
  }

  async breakGlassUsed(v: RequestView): Promise<void> {
    const db = this.catalog.databases.get(v.request.database);
    const channel = db?.approval.breakGlass?.alertChannel ?? db?.approval.slackChannel;
    if (!channel) return;
    const res = await this.client.chat.postMessage({ channel, ...breakGlassAlert(v) });
    await this.store.saveMessageRef({
      requestId: v.request.id,
      platform: 'slack',
      kind: 'break-glass',
      channel: res.channel ?? channel,
      messageId: String(res.ts),
    });
  }

  async reviewOverdue(v: RequestView): Promise<void> {
    const ref = await this.ref(v, 'break-glass');
    const db = this.catalog.databases.get(v.request.database);
    const channel = ref?.channel ?? db?.approval.breakGlass?.alertChannel ?? db?.approval.slackChannel;
    if (!channel) return;
    await this.client.chat.postMessage(alertArgs(channel, ref, reviewOverdueAlert(v)));
  }

  async incidentAccessGranted(v: RequestView, slackChannel: string): Promise<void> {
    await this.client.chat.postMessage({ channel: slackChannel, ...incidentAccessLine(v) });
  }

  /** After a review: the alert shows who reviewed, without the button. */
  async breakGlassReviewed(v: RequestView): Promise<void> {
    const ref = await this.ref(v, 'break-glass');
    if (ref) await this.client.chat.update({ channel: ref.channel, ts: ref.messageId, ...breakGlassAlert(v) });
  }
}
