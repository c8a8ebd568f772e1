/**
 * The worker role: BullMQ processors for provisioning and revocation, the state-DB sweeper, and a startup
 * reconciliation that re-creates revoke jobs lost with Redis. Delivery is at-least-once; every processor is
 * idempotent because the core's transitions are conditional.
 */
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreDeps } from '../core/deps.js';
import { BrokerError, TargetError } from '../core/errors.js';
import { provision, revokeIfDue } from '../core/lifecycle.js';
import { revocationsIdle } from '../core/revocation.js';
import { Sweeper, type SweepReport } from '../core/sweeper.js';
import { MAX_INPROCESS_WAIT_MS, PROVISION_QUEUE, REVOKE_LEAD_MS, REVOKE_QUEUE, type GrantJobData } from './queues.js';
import type { BullScheduler } from './scheduler.js';

export interface WorkerOptions {
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  sweepIntervalMs: number;
  revokeRetryMaxMs: number;
  incidentPollMs: number;
  /** Defaults to `concurrency`. */
  revokeConcurrency?: number;
  /** Defaults to 30 s. */
  staleProvisioningMs?: number;
}

/** 1 s, 2 s, 4 s … capped: revocation never gives up, and never hammers a target that is down. */
export function cappedBackoff(attemptsMade: number, maxMs: number): number {
  const base = Math.min(maxMs, 1_000 * 2 ** Math.min(20, Math.max(0, attemptsMade - 1)));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class GrantWorker {
  private readonly workers: Worker<GrantJobData>[] = [];
  private readonly sweeper: Sweeper;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** The last sweep's report, for tests and /readyz. */
  lastSweep: SweepReport | undefined;

  constructor(
    private readonly deps: CoreDeps,
    private readonly scheduler: BullScheduler,
    private readonly connection: Redis,
    private readonly opts: WorkerOptions,
  ) {
    this.sweeper = new Sweeper(deps, {
      graceMs: 1_000,
      staleProvisioningMs: opts.staleProvisioningMs ?? 30_000,
      retryEveryMs: opts.revokeRetryMaxMs,
      incidentPollMs: opts.incidentPollMs,
    });
  }

  async start(): Promise<void> {
    const common = {
      connection: this.connection,
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockDurationMs,
      stalledInterval: Math.max(1_000, Math.floor(this.opts.lockDurationMs / 2)),
      maxStalledCount: 1_000,
    };
    const provisionWorker = new Worker<GrantJobData>(PROVISION_QUEUE, (job) => this.provisionJob(job), common);
    const revokeWorker = new Worker<GrantJobData>(REVOKE_QUEUE, (job, token) => this.revokeJob(job, token), {
      ...common,
      concurrency: this.opts.revokeConcurrency ?? this.opts.concurrency,
      settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade, this.opts.revokeRetryMaxMs) },
    });
    for (const w of [provisionWorker, revokeWorker]) {
      w.on('error', (err) => this.deps.logger.warn({ err: String(err) }, 'queue worker error'));
      w.on('failed', (job, err) => {
        if (err instanceof DelayedError) return;
        this.deps.logger.warn(
          { queue: w.name, grantId: job?.data.grantId, attempts: job?.attemptsMade, err: err.message },
          'job failed',
        );
      });
      this.workers.push(w);
    }
    await this.reconcileSchedule();
    this.scheduleSweep(0);
  }

  private async provisionJob(job: Job<GrantJobData>): Promise<void> {
    try {
      await provision(this.deps, job.data.grantId);
    } catch (err) {
      if (err instanceof BrokerError) throw new UnrecoverableError(err.message);
      const grant = await this.deps.store.getGrant(job.data.grantId);
      // The core decided not to retry (grant failed and cleaned up): the job is done.
      if (grant && grant.status !== 'provisioning') return;
      if (err instanceof TargetError && err.kind !== 'retryable') throw new UnrecoverableError(err.message);
      throw err;
    }
  }

  private async revokeJob(job: Job<GrantJobData>, token?: string): Promise<void> {
    for (;;) {
      const check = await revokeIfDue(this.deps, job.data.grantId);
      if (check.due) return;
      const wait = check.dueAt - this.deps.clock.now();
      if (wait <= MAX_INPROCESS_WAIT_MS) {
        await sleep(Math.max(1, wait));
        continue;
      }
      // Fired early (the grant was extended): sleep again in Redis.
      await job.moveToDelayed(check.dueAt - REVOKE_LEAD_MS, token);
      throw new DelayedError();
    }
  }

  /** Re-creates revoke jobs for active grants (idempotent by job id): after a Redis flush the precise path returns. */
  async reconcileSchedule(): Promise<number> {
    let n = 0;
    try {
      for (const grant of await this.deps.store.listGrants({ statuses: ['active'] })) {
        await this.scheduler.ensureRevoke(grant.id, grant.expiresAt);
        n++;
      }
    } catch (err) {
      this.deps.logger.warn({ err: String(err) }, 'could not reconcile revoke jobs; the sweeper covers expiry');
    }
    return n;
  }

  private scheduleSweep(delay: number): void {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweeping = this.sweepOnce().finally(() => this.scheduleSweep(this.opts.sweepIntervalMs));
    }, delay);
  }

  async sweepOnce(): Promise<SweepReport | undefined> {
    try {
      this.lastSweep = await this.sweeper.sweep();
      const r = this.lastSweep;
      if (
        r.revoked ||
        r.failed ||
        r.requeued ||
        r.orphansDropped ||
        r.escalated ||
        r.reviewsChased ||
        r.incidentsEnded ||
        r.requestsExpired
      ) {
        this.deps.logger.info({ ...r }, 'sweep');
      }
      return r;
    } catch (err) {
      this.deps.logger.error({ err: String(err) }, 'sweep failed (state DB unreachable?)');
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    await this.sweeping.catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.close()));
    await revocationsIdle(this.deps);
  }
}
