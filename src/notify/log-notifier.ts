/** A Notifier that only logs: the default until a chat adapter is configured, and the audit of what chat said. */
import type { ApproverRef, SelfExtension } from '../core/model.js';
import type { Logger, Notifier } from '../core/ports.js';
import type { RequestView } from '../core/view.js';

function summary(v: RequestView): Record<string, unknown> {
  return {
    requestId: v.request.id,
    grantId: v.grant?.id,
    database: v.request.database,
    level: v.request.level,
    phase: v.phase,
    requester: v.request.requester.email ?? v.request.requester.id,
  };
}

export class LogNotifier implements Notifier {
  constructor(private readonly logger: Logger) {}

  async requestOpened(v: RequestView): Promise<void> {
    this.logger.info({ ...summary(v), approvers: v.request.approvers.length }, 'request opened');
  }

  async requestChanged(v: RequestView): Promise<void> {
    this.logger.info(summary(v), 'request changed');
  }

  async grantActivated(v: RequestView): Promise<void> {
    this.logger.info({ ...summary(v), expiresAt: v.grant?.expiresAt }, 'access active');
  }

  async grantEnded(v: RequestView): Promise<void> {
    this.logger.info({ ...summary(v), ...v.receipt }, 'access ended');
  }

  async provisionFailed(v: RequestView, error: string, willRetry: boolean): Promise<void> {
    this.logger.warn({ ...summary(v), error, willRetry }, 'provisioning failed');
  }

  async revocationStuck(v: RequestView, error: string): Promise<void> {
    this.logger.error({ ...summary(v), username: v.grant?.username, error }, 'ALERT: revocation keeps failing');
  }

  async expiresSoon(v: RequestView): Promise<void> {
    this.logger.info({ ...summary(v), expiresAt: v.grant?.expiresAt }, 'access expires soon');
  }

  async grantSelfExtended(v: RequestView, ext: SelfExtension): Promise<void> {
    this.logger.info(
      { ...summary(v), from: ext.from, to: ext.to, count: ext.count, of: ext.of, capped: ext.capped },
      'access extended by its holder',
    );
  }

  async requestEscalated(v: RequestView, tier: number, asked: readonly ApproverRef[]): Promise<void> {
    this.logger.info({ ...summary(v), tier, asked: asked.map((a) => a.email ?? a.id) }, 'request escalated');
  }

  async breakGlassUsed(v: RequestView): Promise<void> {
    this.logger.warn({ ...summary(v), reviewBy: v.request.reviewBy }, 'BREAK-GLASS access granted; review required');
  }

  async reviewOverdue(v: RequestView): Promise<void> {
    this.logger.error({ ...summary(v) }, 'ALERT: break-glass review overdue');
  }

  async incidentAccessGranted(v: RequestView, slackChannel: string): Promise<void> {
    this.logger.info({ ...summary(v), incident: v.request.incidentId, slackChannel }, 'incident responder approved');
  }
}

/** Fans one event out to several notifiers (Slack, Teams, log); one failing is logged and does not stop the others. */
export class FanOutNotifier implements Notifier {
  constructor(
    private readonly targets: readonly Notifier[],
    private readonly logger?: Logger,
  ) {}
  private async all(fn: (n: Notifier) => Promise<void>): Promise<void> {
    await Promise.all(
      this.targets.map((n) =>
        fn(n).catch((err: unknown) =>
          this.logger?.warn(
            { notifier: n.constructor.name, err: err instanceof Error ? err.message : String(err) },
            'chat notification failed',
          ),
        ),
      ),
    );
  }
  requestOpened(v: RequestView) {
    return this.all((n) => n.requestOpened(v));
  }
  requestChanged(v: RequestView) {
    return this.all((n) => n.requestChanged(v));
  }
  grantActivated(v: RequestView, c?: Parameters<Notifier['grantActivated']>[1]) {
    return this.all((n) => n.grantActivated(v, c));
  }
  grantEnded(v: RequestView) {
    return this.all((n) => n.grantEnded(v));
  }
  provisionFailed(v: RequestView, e: string, r: boolean) {
    return this.all((n) => n.provisionFailed(v, e, r));
  }
  revocationStuck(v: RequestView, e: string) {
    return this.all((n) => n.revocationStuck(v, e));
  }
  expiresSoon(v: RequestView) {
    return this.all((n) => n.expiresSoon(v));
  }
  grantSelfExtended(v: RequestView, ext: SelfExtension) {
    return this.all((n) => n.grantSelfExtended(v, ext));
  }
  requestEscalated(v: RequestView, tier: number, asked: readonly ApproverRef[]) {
    return this.all((n) => n.requestEscalated(v, tier, asked));
  }
  breakGlassUsed(v: RequestView) {
    return this.all((n) => n.breakGlassUsed(v));
  }
  incidentAccessGranted(v: RequestView, slackChannel: string) {
    return this.all((n) => n.incidentAccessGranted(v, slackChannel));
  }
  reviewOverdue(v: RequestView) {
    return this.all((n) => n.reviewOverdue(v));
  }
}
