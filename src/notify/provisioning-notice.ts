/**
 * Holds back the chat's "approved; provisioning" render of the approval message for `afterMs`. The grant is
 * usually active well within that, and the activation's render (a later version) replaces the message anyway, so
 * sending the notice first costs one more message update per grant, on the channel that Slack rate-limits
 * (chat.update, Tier 3), for a state the approvers would see for a few milliseconds. If the grant is still
 * provisioning after `afterMs` (a slow target, a backlog, a retry), the notice goes out as before; renders stay
 * ordered by the message version (claimMessageVersion), so a late notice never moves a message backwards.
 * Every other event, and every other requestChanged (N-of-M progress, denial, expiry, extension), passes straight
 * through. Timers are in-process: if the process stops first, the message still moves on at activation.
 */
import type { Logger, Notifier, StateStore } from '../core/ports.js';
import type { RequestView } from '../core/view.js';
import { FanOutNotifier } from './log-notifier.js';

export class DeferredProvisioningNotice extends FanOutNotifier {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    chat: readonly Notifier[],
    private readonly store: Pick<StateStore, 'getGrant'>,
    private readonly afterMs: number,
    private readonly log: Logger,
  ) {
    super(chat, log);
  }

  override requestChanged(v: RequestView): Promise<void> {
    const grantId = v.grant?.id;
    if (this.afterMs <= 0 || v.phase !== 'provisioning' || grantId === undefined || v.request.extendsGrantId !== undefined) {
      return super.requestChanged(v);
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.store
        .getGrant(grantId)
        .then((g) => (g?.status === 'provisioning' ? super.requestChanged(v) : undefined))
        .catch((err: unknown) => this.log.warn({ requestId: v.request.id, grantId, err: err instanceof Error ? err.message : String(err) }, 'provisioning notice failed'));
    }, this.afterMs);
    timer.unref();
    this.timers.add(timer);
    return Promise.resolve();
  }

  /** Drops the notices not yet due (on shutdown, before the store closes). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
