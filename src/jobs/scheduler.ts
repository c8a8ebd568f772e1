/** The Scheduler port on BullMQ: deterministic job ids, delays computed from the state DB's absolute times. */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { MAX_PROVISION_ATTEMPTS } from '../core/lifecycle.js';
import type { Clock, Scheduler } from '../core/ports.js';
import {
  PROVISION_QUEUE,
  REVOKE_LEAD_MS,
  REVOKE_QUEUE,
  provisionJobId,
  revokeJobId,
  type GrantJobData,
} from './queues.js';
import type { GrantId } from '../core/model.js';

/** Revocation is retried without a cap; the custom backoff (see worker.ts) caps the wait between attempts. */
const REVOKE_ATTEMPTS = Number.MAX_SAFE_INTEGER;

export class BullScheduler implements Scheduler {
  readonly provisionQueue: Queue<GrantJobData>;
  readonly revokeQueue: Queue<GrantJobData>;

  constructor(
    connection: Redis,
    prefix: string,
    private readonly clock: Clock,
  ) {
    this.provisionQueue = new Queue<GrantJobData>(PROVISION_QUEUE, { connection, prefix });
    this.revokeQueue = new Queue<GrantJobData>(REVOKE_QUEUE, { connection, prefix });
    this.provisionQueue.on('error', () => undefined);
    this.revokeQueue.on('error', () => undefined);
  }

  async provision(grantId: GrantId): Promise<void> {
    await this.provisionQueue.add(
      'provision',
      { grantId },
      {
        jobId: provisionJobId(grantId),
        attempts: MAX_PROVISION_ATTEMPTS,
        backoff: { type: 'exponential', delay: 2_000, jitter: 0.3 },
        // Finished jobs go, so the sweeper can re-enqueue a grant still provisioning (e.g. the state DB was down).
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async revokeAt(grantId: GrantId, at: number): Promise<void> {
    const delay = Math.max(0, at - REVOKE_LEAD_MS - this.clock.now());
    const existing = await this.revokeQueue.getJob(revokeJobId(grantId));
    if (existing) {
      const state = await existing.getState();
      if (state === 'delayed') return existing.changeDelay(delay);
      // waiting/active: the processor re-reads expiresAt from the state DB and sleeps again if it is early.
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return;
      await existing.remove().catch(() => undefined);
    }
    await this.addRevoke(grantId, delay);
  }

  /** Adds the revoke job unless one exists (startup reconciliation after a Redis loss). */
  async ensureRevoke(grantId: GrantId, at: number): Promise<void> {
    await this.addRevoke(grantId, Math.max(0, at - REVOKE_LEAD_MS - this.clock.now()));
  }

  /** One round of Redis calls for a batch of activations: a job id that exists already is left as it is. */
  async scheduleRevokes(grants: ReadonlyArray<{ grantId: GrantId; at: number }>): Promise<void> {
    if (grants.length === 0) return;
    const now = this.clock.now();
    await this.revokeQueue.addBulk(
      grants.map(({ grantId, at }) => ({
        name: 'revoke',
        data: { grantId },
        opts: this.revokeOpts(grantId, Math.max(0, at - REVOKE_LEAD_MS - now)),
      })),
    );
  }

  private async addRevoke(grantId: GrantId, delay: number): Promise<void> {
    await this.revokeQueue.add('revoke', { grantId }, this.revokeOpts(grantId, delay));
  }

  private revokeOpts(grantId: GrantId, delay: number) {
    return {
      jobId: revokeJobId(grantId),
      delay,
      attempts: REVOKE_ATTEMPTS,
      backoff: { type: 'capped' },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  async cancelRevoke(grantId: GrantId): Promise<void> {
    const job = await this.revokeQueue.getJob(revokeJobId(grantId));
    if (!job) return;
    const state = await job.getState();
    if (state === 'delayed' || state === 'waiting') await job.remove().catch(() => undefined);
  }

  /** Jobs per state in each queue (for /metrics). */
  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    const states = ['waiting', 'active', 'delayed', 'failed'] as const;
    return {
      provision: await this.provisionQueue.getJobCounts(...states),
      revoke: await this.revokeQueue.getJobCounts(...states),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.provisionQueue.close(), this.revokeQueue.close()]);
  }
}
