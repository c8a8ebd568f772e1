/**
 * Expiry in batches. A revoke job (or the sweeper) hands over its due grant; every due grant of the same catalog
 * database is ended with it: one conditional update marks them `revoking`, the engine disables and drops them all
 * in one DDL section each (lock → kill sessions → drop), one transaction stamps `revokedAt` and appends their audit
 * rows. Grants handed over while a batch runs form the next one, so a burst of expiries costs a few statements
 * per batch instead of a few per grant, and the first job of a burst ends every grant already due beside it.
 *
 * The guarantees are revoke()'s: never before expiresAt (only due or already-`revoking` grants are taken), every
 * transition conditional, only the winner of the final transition audits and notifies, a failure is recorded
 * per grant (revokeFailed) and rethrown to that grant's caller, whose retry comes back here.
 * Chat notifications follow a few at a time, off the revocation path; a caller's promise settles after its own.
 */
import type { CoreDeps } from './deps.js';
import { groupBy } from './group-by.js';
import { SYSTEM_ACTOR, type Grant, type GrantStatus, type RevocationReceipt } from './model.js';
import type { DeleteUserResponse, DisableUserResponse } from './ports.js';
import { revokedEvent, revokeFailed, type RevokeResult } from './revocation.js';
import { notify, readAheadMany, type KnownState } from './view.js';

/** Grants ended by one batch at most (one engine call, one state-DB transaction). */
export const MAX_REVOKE_BATCH = 500;
/** Revocation notifications in flight at once: enough to keep chat busy, few enough not to delay the next batch. */
const NOTIFY_CONCURRENCY = 8;
/** A notification waits for running batches at most this long. */
const NOTIFY_MAX_WAIT_MS = 2_000;

interface Waiter {
  resolve: (r: RevokeResult) => void;
  reject: (err: unknown) => void;
}

interface Pending {
  grant: Grant;
  reason: string;
  waiters: Waiter[];
}

class RevocationBatcher {
  /** Per catalog database: grants handed over and not yet taken by a batch. */
  private readonly pending = new Map<string, Map<number, Pending>>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly notifications = new Set<Promise<void>>();
  private notifySlots = NOTIFY_CONCURRENCY;
  private readonly notifyQueue: Array<{ start: () => void; queuedAt: number }> = [];
  private notifyTimer: NodeJS.Timeout | undefined;
  private batchesRunning = 0;

  constructor(private readonly deps: CoreDeps) {}

  revoke(grant: Grant, reason: string): Promise<RevokeResult> {
    return new Promise<RevokeResult>((resolve, reject) => {
      let queue = this.pending.get(grant.database);
      if (!queue) this.pending.set(grant.database, (queue = new Map()));
      const entry = queue.get(grant.id);
      if (entry) entry.waiters.push({ resolve, reject });
      else queue.set(grant.id, { grant, reason, waiters: [{ resolve, reject }] });
      if (!this.draining.has(grant.database)) {
        // Started on the next turn, so grants handed over in the same turn share the first batch.
        const run = new Promise<void>((r) => setImmediate(r)).then(() => this.drain(grant.database));
        this.draining.set(grant.database, run);
      }
    });
  }

  /** Resolves when no batch runs and every notification is out (for shutdown). */
  async idle(): Promise<void> {
    while (this.draining.size > 0 || this.notifications.size > 0) {
      await Promise.allSettled([...this.draining.values(), ...this.notifications]);
    }
  }

  private async drain(database: string): Promise<void> {
    try {
      for (;;) {
        const queue = this.pending.get(database);
        if (!queue || queue.size === 0) return;
        const taken = [...queue.values()].slice(0, MAX_REVOKE_BATCH);
        for (const p of taken) queue.delete(p.grant.id);
        this.batchesRunning++;
        await this.runBatch(database, taken)
          .catch((err: unknown) => {
            for (const p of taken) for (const w of p.waiters) w.reject(err);
          })
          .finally(() => {
            this.batchesRunning--;
            this.pumpNotifications();
          });
      }
    } finally {
      // The loop only ends with the queue empty, and nothing is queued between its last check and here.
      this.draining.delete(database);
    }
  }

  private async runBatch(database: string, taken: Pending[]): Promise<void> {
    const { store, clock, engines, logger, failpoint } = this.deps;
    const now = clock.now();
    const byId = new Map(taken.map((p) => [p.grant.id, p]));
    // Every active grant of this database already due goes too: its own job will find it ended.
    const room = MAX_REVOKE_BATCH - taken.length;
    if (room > 0) {
      for (const grant of await store.listGrants({ statuses: ['active'], database, expiresAtOrBefore: now, limit: room })) {
        if (!byId.has(grant.id)) byId.set(grant.id, { grant, reason: 'expired', waiters: [] });
      }
    }
    // Mark them revoking (one statement per distinct reason, in practice one) — only if still due: an extension
    // that landed after the caller looked keeps its grant — then read back what each is now.
    const byReason = groupBy([...byId.values()].filter((p) => LIVE.includes(p.grant.status)), (p) => p.reason);
    for (const [reason, group] of byReason) {
      await store.transitionGrants(
        group.map((p) => p.grant.id),
        LIVE,
        { status: 'revoking', revokeStartedAt: now, endReason: reason },
        now,
      );
    }
    const current = await store.listGrants({ ids: [...byId.keys()] });
    const revoking: Grant[] = [];
    for (const grant of current) {
      const p = byId.get(grant.id)!;
      if (grant.status === 'revoking') revoking.push(grant);
      else settle(p, { grant }); // ended meanwhile, or no longer due (extended): nothing to do here
    }
    const found = new Set(current.map((g) => g.id));
    for (const [id, p] of byId) if (!found.has(id)) settle(p, undefined); // gone from the state DB
    if (revoking.length === 0) return;
    const claimedAt = clock.now();

    const engine = engines.get(database);
    const failed = new Map<number, unknown>();
    let disabled: Map<string, DisableUserResponse | Error>;
    try {
      disabled = await engine.disableUsers(revoking.map((g) => g.username));
    } catch (err) {
      for (const g of revoking) failed.set(g.id, err);
      disabled = new Map();
    }
    failpoint('revoke.after-disable');
    const disabledAt = clock.now();
    const toDelete = revoking.filter((g) => !failed.has(g.id) && recordError(failed, g, disabled.get(g.username)));
    let deleted: Map<string, DeleteUserResponse | Error> = new Map();
    if (toDelete.length > 0) {
      try {
        deleted = await engine.deleteUsers(toDelete.map((g) => g.username));
      } catch (err) {
        for (const g of toDelete) failed.set(g.id, err);
      }
    }
    failpoint('revoke.after-delete');
    const at = clock.now();
    const done: Array<{ grant: Grant; receipt: RevocationReceipt; status: 'revoked' | 'failed' }> = [];
    for (const g of toDelete) {
      if (failed.has(g.id) || !recordError(failed, g, deleted.get(g.username))) continue;
      const dis = disabled.get(g.username) as DisableUserResponse;
      const del = deleted.get(g.username) as DeleteUserResponse;
      // A failed provisioning stays `failed` even when its cleanup is finished here.
      const status = g.endReason?.startsWith('provisioning failed') ? 'failed' : 'revoked';
      done.push({ grant: g, status, receipt: { sessionsTerminated: dis.sessionsTerminated, userOutcome: dis.existed ? del.outcome : 'already_absent', at } });
    }

    const won = await store.transaction(async (tx) => {
      const ids = new Set<number>();
      for (const group of groupBy(done, (d) => `${d.status}:${d.grant.revokeAttempts}`).values()) {
        const { status, grant } = group[0]!;
        const changed = await tx.transitionGrants(
          group.map((d) => d.grant.id),
          ['revoking'],
          { status, revokedAt: at, revokeAttempts: grant.revokeAttempts + 1, revokeFailingSince: null, lastError: null },
        );
        for (const id of changed) ids.add(id);
      }
      const winners = done.filter((d) => ids.has(d.grant.id));
      await tx.appendAudit(winners.map((d) => revokedEvent(d.grant, SYSTEM_ACTOR, d.grant.endReason ?? byId.get(d.grant.id)!.reason, d.receipt)));
      return ids;
    });

    const steps = { claimMs: claimedAt - now, disableMs: disabledAt - claimedAt, deleteMs: at - disabledAt, recordMs: clock.now() - at };
    logger.info({ database, batch: byId.size, revoked: won.size, failed: failed.size, ...steps }, 'revocation batch');
    // The people's "ended" messages need the requests, their decisions and message references: one read per batch.
    const ahead = won.size > 0 ? readAheadMany(this.deps, done.filter((d) => won.has(d.grant.id)).map((d) => d.grant.requestId)) : undefined;
    for (const d of done) {
      const p = byId.get(d.grant.id)!;
      if (!won.has(d.grant.id)) {
        // Another process finished it first and told the people: report what the state DB holds.
        settleLater(p, store.getGrant(d.grant.id).then((grant) => ({ grant: grant ?? d.grant })));
        continue;
      }
      const { lastError: _e, revokeFailingSince: _f, ...rest } = d.grant;
      const ended: Grant = { ...rest, status: d.status, revokedAt: at, revokeAttempts: d.grant.revokeAttempts + 1 };
      logger.info({ grantId: d.grant.id, ...d.receipt, reason: ended.endReason, batch: revoking.length }, 'grant ended');
      const reason = ended.endReason ?? byId.get(d.grant.id)!.reason;
      const told = this.notifyEnded(ended.requestId, { grant: ended, receipt: { ...d.receipt, reason }, ahead: ahead?.then((m) => m.get(ended.requestId)) });
      settleLater(p, told.then(() => ({ grant: ended, receipt: d.receipt })));
    }
    for (const [id, err] of failed) {
      const grant = revoking.find((g) => g.id === id)!;
      const p = byId.get(id)!;
      await revokeFailed(this.deps, grant, err).catch((e: unknown) => logger.error({ grantId: id, err: String(e) }, 'could not record the failed revocation'));
      for (const w of p.waiters) w.reject(err);
    }
  }

  /**
   * The "ended" message to the people, NOTIFY_CONCURRENCY at a time; never rejects (notify logs failures). None
   * starts while a batch runs (revocation comes first on a busy event loop) unless it has waited NOTIFY_MAX_WAIT_MS.
   */
  private notifyEnded(requestId: number, known: KnownState): Promise<void> {
    const told = new Promise<void>((resolve) => {
      const queuedAt = Date.now();
      const start = () => {
        this.notifySlots--;
        notify(this.deps, requestId, (v) => this.deps.notifier.grantEnded(v), known).finally(() => {
          this.notifySlots++;
          this.pumpNotifications();
          resolve();
        });
      };
      this.notifyQueue.push({ start, queuedAt });
    });
    this.notifications.add(told);
    void told.finally(() => this.notifications.delete(told));
    this.pumpNotifications();
    return told;
  }

  private pumpNotifications(): void {
    while (this.notifySlots > 0 && this.notifyQueue.length > 0) {
      const next = this.notifyQueue[0]!;
      if (this.batchesRunning > 0 && Date.now() - next.queuedAt < NOTIFY_MAX_WAIT_MS) {
        // Retried when the batch ends, or when the oldest would have waited too long.
        this.notifyTimer ??= setTimeout(() => {
          this.notifyTimer = undefined;
          this.pumpNotifications();
        }, NOTIFY_MAX_WAIT_MS);
        return;
      }
      this.notifyQueue.shift();
      next.start();
    }
  }
}

const LIVE: GrantStatus[] = ['provisioning', 'active'];

/** false (and the error recorded) when a per-user engine result is an error. */
function recordError(failed: Map<number, unknown>, grant: Grant, result: unknown): boolean {
  if (result === undefined) {
    failed.set(grant.id, new Error(`the engine returned no result for ${grant.username}`));
    return false;
  }
  if (result instanceof Error) {
    failed.set(grant.id, result);
    return false;
  }
  return true;
}

function settle(p: Pending, result: RevokeResult | undefined): void {
  for (const w of p.waiters) w.resolve(result ?? { grant: p.grant });
}

function settleLater(p: Pending, result: Promise<RevokeResult>): void {
  result.then(
    (r) => settle(p, r),
    (err: unknown) => p.waiters.forEach((w) => w.reject(err)),
  );
}

const batchers = new WeakMap<CoreDeps, RevocationBatcher>();

function batcherOf(deps: CoreDeps): RevocationBatcher {
  let b = batchers.get(deps);
  if (!b) batchers.set(deps, (b = new RevocationBatcher(deps)));
  return b;
}

/**
 * Ends a grant that is due (expiresAt passed) or already `revoking`, together with every other due grant of its
 * database. Resolves like revoke(): the ended grant and, for the caller that ended it, the receipt.
 */
export function revokeDue(deps: CoreDeps, grant: Grant, reason = 'expired'): Promise<RevokeResult> {
  if (grant.status !== 'revoking' && deps.clock.now() < grant.expiresAt) {
    return Promise.reject(new Error(`grant #${grant.id} is not due until ${new Date(grant.expiresAt).toISOString()}`));
  }
  return batcherOf(deps).revoke(grant, reason);
}

/** Waits for running revocation batches and their notifications (shutdown). */
export function revocationsIdle(deps: CoreDeps): Promise<void> {
  return batchers.get(deps)?.idle() ?? Promise.resolve();
}
