/**
 * Prometheus metrics, derived from the append-only audit log (read incrementally at each scrape, so every
 * process reports the same totals for the whole installation: aggregate replicas with max, not sum) plus gauges
 * read at scrape time (live grants, pending requests, queue depth).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AccessRequest, AuditEvent, Grant } from '../core/model.js';
import type { StateStore } from '../core/ports.js';

export interface QueueDepth {
  /** Job counts per state for each queue (BullMQ getJobCounts). */
  counts(): Promise<Record<string, Record<string, number>>>;
}

const OUTCOMES: Record<string, string> = {
  'request.created': 'requested',
  'request.approved': 'approved',
  'request.auto_approved': 'auto_approved',
  'request.break_glass': 'break_glass',
  'request.denied': 'denied',
  'request.expired': 'expired',
  'grant.admin_issued': 'admin_issued',
};
const FAILURES: Record<string, string> = {
  'grant.provision_failed': 'provision',
  'grant.revoke_failed': 'revoke',
  'grant.revoke_flagged': 'revoke_flagged',
};
const SWEEPER: Record<string, string> = {
  'sweeper.orphan_dropped': 'orphan_dropped',
  'request.escalated': 'escalated',
  'break_glass.review_escalated': 'review_escalated',
};

/** Audit events read per query while folding. */
const PAGE = 1000;
/** Decisions by a person: their time from request to decision is observed. */
const DECISIONS = new Set(['request.approved', 'request.denied']);

export class BrokerMetrics {
  readonly registry = new Registry();
  private lastId = 0;
  private readonly requests = new Counter({
    name: 'db_access_requests_total',
    help: 'Requests by outcome',
    labelNames: ['outcome', 'database'],
    registers: [this.registry],
  });
  private readonly decision = new Histogram({
    name: 'db_access_time_to_decision_seconds',
    help: 'From request to approval or denial by a person',
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  private readonly provision = new Histogram({
    name: 'db_access_provision_duration_seconds',
    help: 'From the grant row (approval) to an active user',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly lateness = new Histogram({
    name: 'db_access_revocation_lateness_seconds',
    help: 'Revocation completed minus expiry (never negative: revocation is never early)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60],
    registers: [this.registry],
  });
  private readonly failures = new Counter({
    name: 'db_access_failures_total',
    help: 'Failures by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly sweeper = new Counter({
    name: 'db_access_sweeper_actions_total',
    help: 'Sweeper actions by kind',
    labelNames: ['action'],
    registers: [this.registry],
  });

  constructor(
    private readonly store: StateStore,
    private readonly queues?: QueueDepth,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'db_access_process_' });
    this.grants = new Gauge({
      name: 'db_access_grants',
      help: 'Grants by status (live ones only)',
      labelNames: ['status'],
      registers: [this.registry],
    });
    this.pending = new Gauge({
      name: 'db_access_pending_requests',
      help: 'Requests waiting for a decision',
      registers: [this.registry],
    });
    this.depth = new Gauge({
      name: 'db_access_queue_jobs',
      help: 'Queue jobs by state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
    });
  }

  private readonly grants: Gauge;
  private readonly pending: Gauge;
  private readonly depth: Gauge;

  /** The exposition text: folds in the audit events appended since the last scrape, then reads the gauges (counts). */
  async render(): Promise<string> {
    await this.fold();
    const grants = await this.store.countGrants(['provisioning', 'active', 'revoking']);
    for (const [status, { count }] of grants) this.grants.set({ status }, count);
    this.grants.set({ status: 'flagged' }, grants.get('revoking')!.flagged);
    this.pending.set((await this.store.countRequests(['pending'])).get('pending')!);
    if (this.queues) {
      for (const [queue, counts] of Object.entries(await this.queues.counts().catch(() => ({})))) {
        for (const [state, n] of Object.entries(counts)) this.depth.set({ queue, state }, n);
      }
    }
    return this.registry.metrics();
  }

  /** The fold running now: scrapes that overlap wait for it, so no event is counted twice. */
  private folding: Promise<void> = Promise.resolve();

  /** Reads the audit events appended since the last scrape and counts them, a page at a time; one fold at a time. */
  fold(): Promise<void> {
    this.folding = this.folding.then(
      () => this.foldPages(),
      () => this.foldPages(),
    );
    return this.folding;
  }

  private async foldPages(): Promise<void> {
    for (;;) {
      const page = await this.store.listAudit({ afterId: this.lastId, limit: PAGE });
      if (page.length === 0) return;
      // The decision and provision histograms need the request's and the grant's creation times: one read of each per page.
      const requestIds = page
        .filter((e) => DECISIONS.has(e.type) && e.requestId !== undefined)
        .map((e) => e.requestId!);
      const grantIds = page
        .filter((e) => e.type === 'grant.provisioned' && e.grantId !== undefined)
        .map((e) => e.grantId!);
      const requests = new Map(
        requestIds.length
          ? (await this.store.listRequests({ ids: [...new Set(requestIds)] })).map((r) => [r.id, r])
          : [],
      );
      const grants = new Map(
        grantIds.length ? (await this.store.listGrants({ ids: [...new Set(grantIds)] })).map((g) => [g.id, g]) : [],
      );
      for (const e of page) this.observe(e, requests, grants);
      this.lastId = page.at(-1)!.id ?? this.lastId;
      if (page.length < PAGE) return;
    }
  }

  private observe(
    e: AuditEvent,
    requests: ReadonlyMap<number, AccessRequest>,
    grants: ReadonlyMap<number, Grant>,
  ): void {
    const outcome = OUTCOMES[e.type];
    if (outcome) this.requests.inc({ outcome, database: e.database ?? '' });
    const failure = FAILURES[e.type];
    if (failure) this.failures.inc({ kind: failure });
    const action = SWEEPER[e.type];
    if (action) this.sweeper.inc({ action });
    if (e.type === 'grant.revoked' && typeof e.detail.lateMs === 'number' && e.detail.reason === 'expired')
      this.lateness.observe(e.detail.lateMs / 1000);
    const req = DECISIONS.has(e.type) && e.requestId !== undefined ? requests.get(e.requestId) : undefined;
    if (req) this.decision.observe(Math.max(0, e.at - req.createdAt) / 1000);
    const grant = e.type === 'grant.provisioned' && e.grantId !== undefined ? grants.get(e.grantId) : undefined;
    if (grant) this.provision.observe(Math.max(0, e.at - grant.createdAt) / 1000);
  }
}
