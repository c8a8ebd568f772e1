/**
 * Holds back the chat's "approved; provisioning" render of the approval message for `afterMs`. The grant is
 * usually active well within that, and the activation's render (a later version) replaces the message anyway, so
 * sending the notice first costs one more message update per grant, on the channel that Slack rate-limits
 * (chat.update, Tier 3), for a state the approvers would see for a few milliseconds. If the grant is still
 * provisioning after `afterMs` (a slow target, a backlog, a retry), the notice goes out as before; renders stay
 * ordered by the message version (claimMessageVersion), so a late notice never moves a message backwards.
 * Every other event, and every other requestChanged (N-of-M progress, denial, expiry, extension), passes straight
 * through. Timers are in-process: a notice is dropped without a read when this process renders the grant's next
 * state first (activation, failure, end); one left to its timer reads the grant, since another process may have
 * moved it on; if the process stops first, the message still moves on at activation.
 */
import type { Logger, Notifier, StateStore } from '../core/ports.js';
import type { RequestView } from '../core/view.js';
import { FanOutNotifier } from './log-notifier.js';
import type { RequestId } from '../core/model.js';

export class DeferredProvisioningNotice extends FanOutNotifier {
  /** Pending notices by request id. */
  private readonly timers = new Map<number, NodeJS.Timeout>();

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
    const requestId = v.request.id;
    if (
      this.afterMs <= 0 ||
      v.phase !== 'provisioning' ||
      grantId === undefined ||
      v.request.extendsGrantId !== undefined
    ) {
      return super.requestChanged(v);
    }
    this.cancel(requestId);
    const timer = setTimeout(() => {
      this.timers.delete(requestId);
      // Another process may have activated it meanwhile: the state DB says whether the notice is still true.
      this.store
        .getGrant(grantId)
        .then((g) => (g?.status === 'provisioning' ? super.requestChanged(v) : undefined))
        .catch((err: unknown) =>
          this.log.warn(
            { requestId, grantId, err: err instanceof Error ? err.message : String(err) },
            'provisioning notice failed',
          ),
        );
    }, this.afterMs);
    timer.unref();
    this.timers.set(requestId, timer);
    return Promise.resolve();
  }

  // What this process renders next replaces the notice: it is dropped without reading the state DB.
  override grantActivated(v: RequestView, c?: Parameters<Notifier['grantActivated']>[1]): Promise<void> {
    this.cancel(v.request.id);
    return super.grantActivated(v, c);
  }

  override provisionFailed(v: RequestView, error: string, willRetry: boolean): Promise<void> {
    this.cancel(v.request.id);
    return super.provisionFailed(v, error, willRetry);
  }

  override grantEnded(v: RequestView): Promise<void> {
    this.cancel(v.request.id);
    return super.grantEnded(v);
  }

  private cancel(requestId: RequestId): void {
    const t = this.timers.get(requestId);
    if (t) clearTimeout(t);
    this.timers.delete(requestId);
  }

  /** Drops the notices not yet due (on shutdown, before the store closes). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
