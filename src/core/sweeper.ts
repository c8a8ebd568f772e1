/**
 * The sweeper: reads the state DB (never Redis) so expiry holds with Redis flushed or down. Every pass:
 * 0. processes chat actions a crashed process acknowledged but did not finish (their lease lapsed: core/inbox.ts),
 *    before anything expires — a click received before a deadline still counts;
 * 1. revokes every live grant past its expiry, and retries revocations left half-done (early revokes);
 * 2. re-enqueues provisioning that has been waiting too long (a job lost with Redis);
 * 3. drops managed users on each target whose grant is not live (orphans: crashes, restores, lost rows), in one
 *    engine batch per target;
 * 4. samples the sessions of every active grant's user: one query per target server, whatever the number of grants
 *    (core/activity.ts);
 * 5. deletes chat actions finished longer ago than the inbox's retention (never an unfinished one).
 */
import type { CoreDeps } from './deps.js';
import { describeError } from './errors.js';
import { dropUsers, revokeDue, type Ending } from './revocation.js';
import { expireUndecided } from './deciding.js';
import { pruneInbox, recoverInbox } from './inbox.js';
import { chaseOverdueReviews, endResolvedIncidents, escalateDue } from './escalation.js';
import { notify } from './view.js';
import { LIVE_GRANT_STATUSES, SYSTEM_ACTOR, type Grant, type GrantId } from './model.js';
import { sampleSessions } from './activity.js';

/** A live grant past its expiry and the grace, ended by the sweeper rather than its revoke job. */
const OVERDUE: Ending = { kind: 'overdue', reason: 'expired (sweeper)' };

export interface SweepOptions {
  /** A live grant is swept once it is this far past expiry, a `revoking` one once its revocation started this long ago (lets the precise revoke job, or whoever started it, win and report). */
  graceMs: number;
  /** Provisioning older than this is re-enqueued. */
  staleProvisioningMs: number;
  /** A failing revocation is retried by the sweeper at most this often. */
  retryEveryMs: number;
  /** How often incident-scoped grants ask whether their incident resolved (PagerDuty, Opsgenie). */
  incidentPollMs: number;
}

export interface SweepReport {
  inboxRecovered: number;
  inboxPruned: number;
  requestsExpired: number;
  escalated: number;
  reviewsChased: number;
  incidentsEnded: number;
  reminded: number;
  revoked: number;
  failed: number;
  requeued: number;
  orphansDropped: number;
  targetsUnreachable: string[];
  /** Sessions of live grants' users seen by this pass's sample, and how many of them for the first time. */
  sessionsSeen: number;
  sessionsFirstSeen: number;
}

export class Sweeper {
  private readonly lastTry = new Map<GrantId, number>();
  private lastIncidentCheck = 0;
  constructor(
    private readonly deps: CoreDeps,
    private readonly opts: SweepOptions,
  ) {}

  async sweep(): Promise<SweepReport> {
    const report: SweepReport = {
      inboxRecovered: 0,
      inboxPruned: 0,
      requestsExpired: 0,
      escalated: 0,
      reviewsChased: 0,
      incidentsEnded: 0,
      reminded: 0,
      revoked: 0,
      failed: 0,
      requeued: 0,
      orphansDropped: 0,
      targetsUnreachable: [],
      sessionsSeen: 0,
      sessionsFirstSeen: 0,
    };
    if (this.deps.inboxEdges) report.inboxRecovered = await recoverInbox(this.deps, this.deps.inboxEdges);
    report.requestsExpired = await expireUndecided(this.deps);
    report.escalated = await escalateDue(this.deps);
    report.reviewsChased = await chaseOverdueReviews(this.deps);
    if (this.deps.clock.now() - this.lastIncidentCheck >= this.opts.incidentPollMs) {
      this.lastIncidentCheck = this.deps.clock.now();
      report.incidentsEnded = await endResolvedIncidents(this.deps);
    }
    await this.remind(report);
    await this.revokeOverdue(report);
    await this.requeueStaleProvisioning(report);
    await this.dropOrphans(report);
    try {
      const sample = await sampleSessions(this.deps);
      report.sessionsSeen = sample.sessionsSeen;
      report.sessionsFirstSeen = sample.firstSeen;
    } catch (err) {
      this.deps.logger.warn({ error: describeError(err) }, 'sweeper: cannot record the session sample');
    }
    report.inboxPruned = await pruneInbox(this.deps);
    return report;
  }

  /** "Expires soon" once per grant (claimed in the state DB, so several sweepers send it once). */
  private async remind(report: SweepReport): Promise<void> {
    const { store, clock, remindBeforeMs } = this.deps;
    const now = clock.now();
    for (const grant of await store.listGrants({ statuses: ['active'], expiresAtOrBefore: now + remindBeforeMs })) {
      if (grant.remindedAt !== undefined || grant.expiresAt <= now) continue;
      // A grant shorter than the window is not reminded the moment it starts.
      if (grant.activatedAt !== undefined && grant.expiresAt - grant.activatedAt <= remindBeforeMs) continue;
      if (!(await store.claimReminder(grant.id, now))) continue;
      report.reminded++;
      await notify(this.deps, grant.requestId, (v) => this.deps.notifier.expiresSoon(v));
    }
  }

  private async revokeOverdue(report: SweepReport): Promise<void> {
    const { store, clock, logger } = this.deps;
    const now = clock.now();
    const overdue = await store.listGrants({
      statuses: LIVE_GRANT_STATUSES,
      expiresAtOrBefore: now - this.opts.graceMs,
    });
    // A revocation started less than graceMs ago is in flight elsewhere (a CLI, a job): left to finish and report.
    const halfDone = (await store.listGrants({ statuses: ['revoking'] })).filter(
      (g) => g.revokeAttempts > 0 || g.revokeStartedAt === undefined || g.revokeStartedAt <= now - this.opts.graceMs,
    );
    const seen = new Set<number>();
    const due: Grant[] = [];
    for (const grant of [...overdue, ...halfDone]) {
      if (seen.has(grant.id)) continue;
      seen.add(grant.id);
      const last = this.lastTry.get(grant.id);
      if (grant.revokeAttempts > 0 && last !== undefined && now - last < this.opts.retryEveryMs) continue;
      this.lastTry.set(grant.id, now);
      due.push(grant);
    }
    // Handed over together: the grants of one database are ended in batches (revocation.ts).
    await Promise.all(
      due.map(async (grant) => {
        try {
          const res = await revokeDue(this.deps, grant, OVERDUE);
          if (res.receipt) report.revoked++;
          this.lastTry.delete(grant.id);
        } catch (err) {
          report.failed++;
          logger.warn({ grantId: grant.id, error: describeError(err) }, 'sweeper: revocation failed; will retry');
        }
      }),
    );
  }

  private async requeueStaleProvisioning(report: SweepReport): Promise<void> {
    const { store, clock, scheduler, logger } = this.deps;
    const now = clock.now();
    const stale = await store.listGrants({
      statuses: ['provisioning'],
      createdAtOrBefore: now - this.opts.staleProvisioningMs,
    });
    for (const grant of stale) {
      if (grant.expiresAt <= now) continue; // the overdue pass ends it
      try {
        await scheduler.provision(grant.id);
        report.requeued++;
      } catch (err) {
        logger.warn({ grantId: grant.id, err: String(err) }, 'sweeper: cannot re-enqueue provisioning (Redis down?)');
        break;
      }
    }
  }

  private async dropOrphans(report: SweepReport): Promise<void> {
    const { store, engines, clock, logger } = this.deps;
    for (const { database, engine } of engines.all()) {
      let managed;
      try {
        managed = await engine.listManagedUsers();
      } catch (err) {
        report.targetsUnreachable.push(database);
        logger.warn({ database, error: describeError(err) }, 'sweeper: cannot list managed users');
        continue;
      }
      if (managed.length === 0) continue;
      const grants = await store.listGrants({ ids: managed.map((m) => m.grantId) });
      const live = new Set(grants.filter((g) => LIVE_GRANT_STATUSES.includes(g.status)).map((g) => g.username));
      const orphans = managed.filter((m) => !live.has(m.username));
      if (orphans.length === 0) continue;
      const dropped = await dropUsers(
        engine,
        orphans.map((m) => m.username),
      );
      for (const user of orphans) {
        try {
          const res = dropped.get(user.username)!;
          if (res instanceof Error) throw res;
          report.orphansDropped++;
          const grant = grants.find((g) => g.id === user.grantId);
          await store.appendAudit([
            {
              at: clock.now(),
              type: 'sweeper.orphan_dropped',
              actor: SYSTEM_ACTOR,
              database,
              ...(grant && { grantId: grant.id, requestId: grant.requestId, level: grant.level }),
              detail: {
                username: user.username,
                markerGrantId: user.grantId,
                grantStatus: grant?.status ?? 'unknown',
                sessionsTerminated: res.sessionsTerminated,
                user: res.outcome,
              },
            },
          ]);
          logger.warn(
            { database, username: user.username, grantId: user.grantId },
            'sweeper: dropped an orphaned user',
          );
        } catch (err) {
          logger.warn({ database, username: user.username, error: describeError(err) }, 'sweeper: cannot drop orphan');
        }
      }
    }
  }
}
