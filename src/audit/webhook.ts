/**
 * Streams every audit event to a webhook (a SIEM), in order, one POST per event, with retries and no loss
 * across restarts: the position lives in the state DB (`audit_cursors`) and moves only after a 2xx. One process
 * at a time holds a lease to send, so replicas do not send twice. A crash between the receiver's 2xx and the
 * cursor update re-sends that one event: receivers deduplicate on the `X-DbAccess-Event-Id` header.
 * Each POST is signed: `X-DbAccess-Signature: sha256=<hex HMAC of the body with AUDIT_WEBHOOK_SECRET>`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Clock, Logger, StateStore } from '../core/ports.js';

export interface WebhookOptions {
  url: string;
  secret?: string;
  /** How often to look for new events when idle. */
  pollMs?: number;
  /** Longest wait between retries of a failing delivery. */
  maxBackoffMs?: number;
  timeoutMs?: number;
}

const CURSOR = 'webhook';
const LEASE_MS = 15_000;

export class AuditWebhook {
  private readonly owner = `streamer-${randomUUID()}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: WebhookOptions,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Finishes the POST in flight (and its cursor update), then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.drain().then(
        (more) => {
          this.failures = 0;
          this.schedule(more ? 0 : (this.opts.pollMs ?? 1_000));
        },
        (err: unknown) => {
          this.failures++;
          const wait = Math.min(this.opts.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(10, this.failures));
          this.logger.warn(
            { err: err instanceof Error ? err.message : String(err), retryInMs: wait },
            'audit webhook delivery failed; will retry',
          );
          this.schedule(wait);
        },
      );
    }, ms);
  }

  /** Sends what is pending; true when there may be more right away. */
  private async drain(): Promise<boolean> {
    const now = this.clock.now();
    const position = await this.store.leaseAuditCursor(CURSOR, this.owner, now, now + LEASE_MS);
    if (position === undefined) return false; // another process is streaming
    const events = await this.store.listAudit({ afterId: position, limit: 100 });
    let at = position;
    for (const event of events) {
      if (this.stopped) break;
      const body = JSON.stringify(event);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-dbaccess-event-id': String(event.id),
        ...(this.opts.secret && {
          'x-dbaccess-signature': `sha256=${createHmac('sha256', this.opts.secret).update(body).digest('hex')}`,
        }),
      };
      const res = await fetch(this.opts.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
      if (!res.ok) throw new Error(`POST ${new URL(this.opts.url).host}: HTTP ${res.status}`);
      if (!(await this.store.advanceAuditCursor(CURSOR, this.owner, at, event.id!))) return false; // lease lost
      at = event.id!;
    }
    return events.length === 100 && !this.stopped;
  }
}
