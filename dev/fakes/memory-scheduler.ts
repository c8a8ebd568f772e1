/**
 * The Scheduler port in memory: jobs are kept, not run, until a test fires the due ones with runDue(now). Job ids
 * are deterministic per grant, as the real scheduler's are: asking to provision a grant twice keeps one job,
 * revokeAt moves the grant's revoke job, scheduleRevokes leaves an existing one where it is, cancelRevoke of no
 * job succeeds.
 */
import type { Scheduler } from '../../src/core/ports.js';
import type { GrantId } from '../../src/core/model.js';

export type JobKind = 'provision' | 'revoke';

export interface ScheduledJob {
  kind: JobKind;
  grantId: GrantId;
  /** When it may run (epoch ms); provisioning runs at once. */
  at: number;
}

export interface JobHandlers {
  provision(grantId: GrantId): Promise<void>;
  revoke(grantId: GrantId): Promise<void>;
}

export interface FiredJob extends ScheduledJob {
  /** What the handler threw; the job was put back (a queue retries a failed job). */
  error?: unknown;
}

export class MemoryScheduler implements Scheduler {
  /** Pending jobs by id ("provision:<grant>", "revoke:<grant>"). */
  readonly jobs = new Map<string, ScheduledJob>();
  /** While true every call throws, as the real scheduler does with Redis down. */
  down = false;

  private check(): void {
    if (this.down) throw new Error('scheduler unavailable (in memory: down)');
  }

  async provision(grantId: GrantId): Promise<void> {
    this.check();
    const id = `provision:${grantId}`;
    if (!this.jobs.has(id)) this.jobs.set(id, { kind: 'provision', grantId, at: Number.NEGATIVE_INFINITY });
  }

  async revokeAt(grantId: GrantId, at: number): Promise<void> {
    this.check();
    this.jobs.set(`revoke:${grantId}`, { kind: 'revoke', grantId, at });
  }

  async scheduleRevokes(grants: ReadonlyArray<{ grantId: GrantId; at: number }>): Promise<void> {
    this.check();
    for (const { grantId, at } of grants) {
      const id = `revoke:${grantId}`;
      if (!this.jobs.has(id)) this.jobs.set(id, { kind: 'revoke', grantId, at });
    }
  }

  async cancelRevoke(grantId: GrantId): Promise<void> {
    this.check();
    this.jobs.delete(`revoke:${grantId}`);
  }

  /** The pending job of `kind` for the grant, if any. */
  job(kind: JobKind, grantId: GrantId): ScheduledJob | undefined {
    return this.jobs.get(`${kind}:${grantId}`);
  }

  /**
   * Runs every job due at `now` (at <= now), earliest first, each once: it leaves the queue before its handler
   * runs (so the handler may schedule it again), and comes back unchanged when the handler throws.
   */
  async runDue(now: number, handlers: JobHandlers): Promise<FiredJob[]> {
    const due = [...this.jobs.entries()]
      .filter(([, j]) => j.at <= now)
      .sort(([, a], [, b]) => a.at - b.at || a.grantId - b.grantId);
    const fired: FiredJob[] = [];
    for (const [id, job] of due) {
      this.jobs.delete(id);
      try {
        await handlers[job.kind](job.grantId);
        fired.push(job);
      } catch (error) {
        if (!this.jobs.has(id)) this.jobs.set(id, job);
        fired.push({ ...job, error });
      }
    }
    return fired;
  }
}
