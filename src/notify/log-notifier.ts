/** A Notifier that only logs: the default until a chat adapter is configured. */
import type { Grant, RevocationReceipt } from '../core/model.js';
import type { Logger, Notifier } from '../core/ports.js';

export class LogNotifier implements Notifier {
  constructor(private readonly logger: Logger) {}

  async grantActivated(grant: Grant): Promise<void> {
    this.logger.info({ grantId: grant.id, database: grant.database, level: grant.level, expiresAt: grant.expiresAt }, 'access active');
  }

  async grantEnded(grant: Grant, receipt?: RevocationReceipt): Promise<void> {
    this.logger.info({ grantId: grant.id, status: grant.status, endReason: grant.endReason, ...receipt }, 'access ended');
  }

  async provisionFailed(grant: Grant, error: string, willRetry: boolean): Promise<void> {
    this.logger.warn({ grantId: grant.id, error, willRetry }, 'provisioning failed');
  }

  async revocationStuck(grant: Grant, error: string): Promise<void> {
    this.logger.error({ grantId: grant.id, database: grant.database, username: grant.username, error }, 'ALERT: revocation keeps failing');
  }
}
