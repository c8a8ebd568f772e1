/**
 * The one way access ends. Every ending — expiry (the revoke job), the sweeper's overdue and half-done grants, an
 * early revoke (chat, CLI, a resolved incident) and the cleanup of a failed provisioning — is handed to the
 * revocation batcher of its catalog database. One conditional update marks the grants `revoking` with why they end
 * (endKind, endReason), the engine disables and drops them all in one DDL section each (lock → kill sessions →
 * drop: dropUsers below), one transaction stamps `revokedAt` and appends their audit rows. Every active grant of
 * the database already due joins the batch. Grants handed over while a batch runs form the next one, so a burst
 * of expiries costs a few statements per batch instead of a few per grant.
 *
 * Guarantees: an expiry is never ended before expiresAt (only due or already-`revoking` grants are taken, and the
 * claim re-checks the expiry, which extensions move); every transition is conditional; only the winner of the
 * final transition audits, cancels the revoke job and notifies; a failure is recorded per grant (revokeFailed)
 * and rethrown to that grant's callers, whose retry comes back here. A grant ending because its provisioning
 * failed ends `failed`, whoever finishes its cleanup. Chat notifications follow a few at a time, off the
 * revocation path; a caller's promise settles after its own.
 *
 * Entry points: revoke() (now: chat, CLI, a resolved incident), revokeIfDue() (the revoke job, at expiry),
 * revokeDue() (the sweeper's overdue grants), revokeNow() (a failed provisioning's cleanup). Users with no grant
 * to end (orphans, a user made for a grant that ended meanwhile) go through dropUsers.
 */
import { readStatements, sampleBeforeRevoke } from './activity.js';
import type { CoreDeps } from './deps.js';
import { describeError } from './errors.js';
import { getGrant } from './grant-access.js';
import { groupBy } from './group-by.js';
import {
  SYSTEM_ACTOR,
  type Actor,
  type AuditEvent,
  type EndKind,
  type Grant,
  type GrantStatus,
  type RevocationReceipt,
  type StatementSummary,
} from './model.js';
import type { DatabaseEngine, DeleteUserResponse, DisableUserResponse } from './ports.js';
import { notify, readAheadMany, type KnownState } from './view.js';
import type { GrantId, RequestId } from './model.js';

/** Grants ended by one batch at most (one engine call, one state-DB transaction). */
export const MAX_REVOKE_BATCH = 500;
/** Revocation notifications in flight at once: enough to keep chat busy, few enough not to delay the next batch. */
const NOTIFY_CONCURRENCY = 8;
/** A notification waits for running batches at most this long. */
const NOTIFY_MAX_WAIT_MS = 2_000;

export interface RevokeResult {
  grant: Grant;
  /** Undefined when the grant had already ended (nothing was done), or another caller ended it. */
  receipt?: RevocationReceipt;
}

/** Why a grant is being ended, and by whom (the audit row's actor; the system when absent). */
export interface Ending {
  kind: EndKind;
  /** In words for people: 'expired', 'revoked by Bob: done', 'provisioning failed: …'. */
  reason: string;
  actor?: Actor;
}

const EXPIRED: Ending = { kind: 'expired', reason: 'expired' };

interface Waiter {
  resolve: (r: RevokeResult) => void;
  reject: (err: unknown) => void;
}

interface Pending {
  grant: Grant;
  end: Ending;
  /** Only ended if it has expired by the time it is claimed (an expiry); false for an early ending. */
  dueOnly: boolean;
  waiters: Waiter[];
}

/** What dropUsers did for one user. */
export interface UserDropped {
  sessionsTerminated: number;
  /** already_absent when the user was gone before the disable. */
  outcome: DeleteUserResponse['outcome'];
}

/**
 * Disable (lock → kill sessions) then drop each user, as two engine batches. Per user: what was done, or the error
 * that user alone failed with (a user that failed to disable is not dropped); an engine call that throws is that
 * error for every user it concerned. `between` runs (and is awaited) after the disable step: failpoints, timing,
 * reading what the users did while they still exist.
 */
export async function dropUsers(
  engine: DatabaseEngine,
  usernames: readonly string[],
  between: () => void | Promise<void> = () => undefined,
): Promise<Map<string, UserDropped | Error>> {
  const out = new Map<string, UserDropped | Error>();
  let disabled: Map<string, DisableUserResponse | Error>;
  try {
    disabled = await engine.disableUsers(usernames);
  } catch (err) {
    for (const u of usernames) out.set(u, asError(err));
    disabled = new Map();
  }
  await between();
  const toDelete = usernames.filter((u) => !out.has(u) && isResult(out, u, disabled.get(u)));
  let deleted: Map<string, DeleteUserResponse | Error> = new Map();
  if (toDelete.length > 0) {
    try {
      deleted = await engine.deleteUsers(toDelete);
    } catch (err) {
      for (const u of toDelete) out.set(u, asError(err));
    }
  }
  for (const u of toDelete) {
    if (out.has(u) || !isResult(out, u, deleted.get(u))) continue;
    const dis = disabled.get(u) as DisableUserResponse;
    const del = deleted.get(u) as DeleteUserResponse;
    out.set(u, { sessionsTerminated: dis.sessionsTerminated, outcome: dis.existed ? del.outcome : 'already_absent' });
  }
  return out;
}

/** false (and the error recorded) when a per-user engine result is missing or an error. */
function isResult(out: Map<string, UserDropped | Error>, username: string, result: unknown): boolean {
  if (result === undefined) {
    out.set(username, new Error(`the engine returned no result for ${username}`));
    return false;
  }
  if (result instanceof Error) {
    out.set(username, result);
    return false;
  }
  return true;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The revocation batches of one Broker (core/broker.ts). */
export class RevocationBatcher {
  /** Per catalog database: grants handed over and not yet taken by a batch. */
  private readonly pending = new Map<string, Map<GrantId, Pending>>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly notifications = new Set<Promise<void>>();
  private notifySlots = NOTIFY_CONCURRENCY;
  private readonly notifyQueue: Array<{ start: () => void; queuedAt: number }> = [];
  private notifyTimer: NodeJS.Timeout | undefined;
  private batchesRunning = 0;

  constructor(private readonly deps: CoreDeps) {}

  /** The first ending handed over for a grant is the one recorded; an early one lifts an expiry's due check. */
  end(grant: Grant, end: Ending, dueOnly: boolean): Promise<RevokeResult> {
    return new Promise<RevokeResult>((resolve, reject) => {
      let queue = this.pending.get(grant.database);
      if (!queue) this.pending.set(grant.database, (queue = new Map()));
      const entry = queue.get(grant.id);
      if (entry) {
        entry.waiters.push({ resolve, reject });
        entry.dueOnly &&= dueOnly;
      } else {
        queue.set(grant.id, { grant, end, dueOnly, waiters: [{ resolve, reject }] });
      }
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
    const { store, clock, engines, logger, failpoint, scheduler } = this.deps;
    const now = clock.now();
    const byId = new Map(taken.map((p) => [p.grant.id, p]));
    // Every active grant of this database already due goes too: its own job will find it ended.
    const room = MAX_REVOKE_BATCH - taken.length;
    if (room > 0) {
      for (const grant of await store.listGrants({
        statuses: ['active'],
        database,
        expiresAtOrBefore: now,
        limit: room,
      })) {
        if (!byId.has(grant.id)) byId.set(grant.id, { grant, end: EXPIRED, dueOnly: true, waiters: [] });
      }
    }
    // Mark them revoking (one statement per distinct ending, in practice one) — an expiry only if still due: an
    // extension that landed after the caller looked keeps its grant — then read back what each is now.
    const live = [...byId.values()].filter((p) => LIVE.includes(p.grant.status));
    for (const group of groupBy(live, (p) => JSON.stringify([p.dueOnly, p.end.kind, p.end.reason])).values()) {
      const { end, dueOnly } = group[0]!;
      await store.transitionGrants(
        group.map((p) => p.grant.id),
        LIVE,
        { status: 'revoking', revokeStartedAt: now, endReason: end.reason, endKind: end.kind },
        dueOnly ? now : undefined,
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

    let disabledAt = claimedAt;
    const engine = engines.get(database);
    // Sessions opened since the last sweep are sampled before they are ended; statements are read after the
    // sessions ended and before the users (and their statistics) are dropped.
    await sampleBeforeRevoke(this.deps, engine, revoking);
    let statements = new Map<string, StatementSummary>();
    const dropped = await dropUsers(
      engine,
      revoking.map((g) => g.username),
      async () => {
        failpoint('revoke.after-disable');
        disabledAt = clock.now();
        statements = await readStatements(
          this.deps,
          engine,
          revoking.map((g) => g.username),
        );
      },
    );
    failpoint('revoke.after-delete');
    const at = clock.now();
    const failed = new Map<GrantId, unknown>();
    const done: Array<{ grant: Grant; receipt: RevocationReceipt; status: 'revoked' | 'failed' }> = [];
    for (const g of revoking) {
      const res = dropped.get(g.username)!;
      if (res instanceof Error) {
        failed.set(g.id, res);
        continue;
      }
      // A failed provisioning stays `failed` even when its cleanup is finished by someone else.
      const status =
        g.endKind === 'provision_failed' || byId.get(g.id)!.end.kind === 'provision_failed' ? 'failed' : 'revoked';
      done.push({
        grant: g,
        status,
        receipt: { sessionsTerminated: res.sessionsTerminated, userOutcome: res.outcome, at },
      });
    }

    const won = await store.transaction(async (tx) => {
      const ids = new Set<GrantId>();
      for (const group of groupBy(done, (d) => `${d.status}:${d.grant.revokeAttempts}`).values()) {
        const { status, grant } = group[0]!;
        const changed = await tx.transitionGrants(
          group.map((d) => d.grant.id),
          ['revoking'],
          {
            status,
            revokedAt: at,
            revokeAttempts: grant.revokeAttempts + 1,
            revokeFailingSince: null,
            lastError: null,
          },
        );
        for (const id of changed) ids.add(id);
      }
      const winners = done.filter((d) => ids.has(d.grant.id));
      // The sessions still open are tied to this revocation; the receipt and its audit row carry the activity.
      await tx.closeGrantActivity(
        winners.map((d) => ({
          grantId: d.grant.id,
          statements: statements.get(d.grant.username) ?? { available: false, why: 'not read' },
        })),
      );
      const activity = await tx.grantActivity(winners.map((d) => d.grant.id));
      for (const d of winners) {
        const a = activity.get(d.grant.id);
        if (a) d.receipt.activity = a;
      }
      await tx.appendAudit(
        winners.map((d) => {
          const { end } = byId.get(d.grant.id)!;
          return revokedEvent(d.grant, end.actor ?? SYSTEM_ACTOR, d.grant.endReason ?? end.reason, d.receipt);
        }),
      );
      return ids;
    });

    const steps = {
      claimMs: claimedAt - now,
      disableMs: disabledAt - claimedAt,
      deleteMs: at - disabledAt,
      recordMs: clock.now() - at,
    };
    logger.info({ database, batch: byId.size, revoked: won.size, failed: failed.size, ...steps }, 'revocation batch');
    // The people's "ended" messages need the requests, their decisions and message references: one read per batch.
    const ahead =
      won.size > 0
        ? readAheadMany(
            this.deps,
            done.filter((d) => won.has(d.grant.id)).map((d) => d.grant.requestId),
          )
        : undefined;
    for (const d of done) {
      const p = byId.get(d.grant.id)!;
      if (!won.has(d.grant.id)) {
        // Another process finished it first and told the people: report what the state DB holds.
        settleLater(
          p,
          store.getGrant(d.grant.id).then((grant) => ({ grant: grant ?? d.grant })),
        );
        continue;
      }
      const { lastError: _e, revokeFailingSince: _f, ...rest } = d.grant;
      const ended: Grant = { ...rest, status: d.status, revokedAt: at, revokeAttempts: d.grant.revokeAttempts + 1 };
      logger.info(
        { grantId: d.grant.id, ...d.receipt, reason: ended.endReason, batch: revoking.length },
        'grant ended',
      );
      const reason = ended.endReason ?? p.end.reason;
      // Ended before its expiry: its revoke job has nothing left to do.
      const cancelled =
        at < d.grant.expiresAt ? scheduler.cancelRevoke(d.grant.id).catch(() => undefined) : Promise.resolve();
      const told = this.notifyEnded(ended.requestId, {
        grant: ended,
        receipt: { ...d.receipt, reason },
        ahead: ahead?.then((m) => m.get(ended.requestId)),
      });
      settleLater(
        p,
        Promise.all([cancelled, told]).then(() => ({ grant: ended, receipt: d.receipt })),
      );
    }
    for (const [id, err] of failed) {
      const grant = revoking.find((g) => g.id === id)!;
      const p = byId.get(id)!;
      await revokeFailed(this.deps, grant, err).catch((e: unknown) =>
        logger.error({ grantId: id, err: String(e) }, 'could not record the failed revocation'),
      );
      for (const w of p.waiters) w.reject(err);
    }
  }

  /**
   * The "ended" message to the people, NOTIFY_CONCURRENCY at a time; never rejects (notify logs failures). None
   * starts while a batch runs (revocation comes first on a busy event loop) unless it has waited NOTIFY_MAX_WAIT_MS.
   */
  private notifyEnded(requestId: RequestId, known: KnownState): Promise<void> {
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

function settle(p: Pending, result: RevokeResult | undefined): void {
  for (const w of p.waiters) w.resolve(result ?? { grant: p.grant });
}

function settleLater(p: Pending, result: Promise<RevokeResult>): void {
  result.then(
    (r) => settle(p, r),
    (err: unknown) => p.waiters.forEach((w) => w.reject(err)),
  );
}

/**
 * Lock → kill sessions → drop, then mark the grant ended, now. Idempotent: an ended grant is returned as is; a
 * user already gone is success ("already_absent"); only the caller whose conditional update wins writes the audit
 * row (with `actor`). A failure is recorded (attempts, error, failing-since; flagged after the alert threshold)
 * and rethrown.
 */
export function revoke(
  deps: CoreDeps,
  grantId: GrantId,
  actor: Actor = SYSTEM_ACTOR,
  reason = 'expired',
  kind: EndKind = 'expired',
): Promise<RevokeResult> {
  return deps.broker.exclusive(grantId, async () => {
    const grant = await getGrant(deps, grantId);
    if (grant.status === 'revoked' || grant.status === 'failed') return { grant };
    return revokeNow(deps, grant, { kind, reason, actor });
  });
}

export type DueCheck = { due: false; dueAt: number } | { due: true; result?: RevokeResult };

/** The revoke job's entry: never revokes before expiresAt (re-read from the state DB, which extensions move). */
export async function revokeIfDue(deps: CoreDeps, grantId: GrantId): Promise<DueCheck> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) return { due: true };
  if (grant.status === 'revoked' || grant.status === 'failed') return { due: true, result: { grant } };
  if (grant.status !== 'revoking' && deps.clock.now() < grant.expiresAt) return { due: false, dueAt: grant.expiresAt };
  // Batched with every other due grant of its database: a burst of expiries is a few statements.
  return { due: true, result: await revokeDue(deps, grant) };
}

/**
 * Ends a grant that is due (expiresAt passed) or already `revoking`, together with every other due grant of its
 * database: an expiry, the revoke job's or the sweeper's (overdue). Resolves with the ended grant and, for the
 * caller that ended it, the receipt.
 */
export function revokeDue(deps: CoreDeps, grant: Grant, end: Ending = EXPIRED): Promise<RevokeResult> {
  if (grant.status !== 'revoking' && deps.clock.now() < grant.expiresAt) {
    return Promise.reject(new Error(`grant #${grant.id} is not due until ${new Date(grant.expiresAt).toISOString()}`));
  }
  return deps.broker.revocation.end(grant, end, true);
}

/** Ends a live (or `revoking`) grant now, whatever its expiry: an early revoke, or a failed provisioning's cleanup. */
export function revokeNow(deps: CoreDeps, grant: Grant, end: Ending): Promise<RevokeResult> {
  return deps.broker.revocation.end(grant, end, false);
}

/** Waits for running revocation batches and their notifications (shutdown). */
export function revocationsIdle(deps: CoreDeps): Promise<void> {
  return deps.broker.revocation.idle();
}

/** The audit row of a finished revocation. */
function revokedEvent(grant: Grant, actor: Actor, reason: string, receipt: RevocationReceipt): AuditEvent {
  return {
    at: receipt.at,
    type: 'grant.revoked',
    actor,
    requestId: grant.requestId,
    grantId: grant.id,
    database: grant.database,
    level: grant.level,
    detail: {
      reason,
      username: grant.username,
      sessionsTerminated: receipt.sessionsTerminated,
      user: receipt.userOutcome,
      expiresAt: grant.expiresAt,
      lateMs: Math.max(0, receipt.at - grant.expiresAt),
      ...(receipt.activity && { activity: receipt.activity }),
    },
  };
}

/** Records a failed attempt on a `revoking` grant (attempts, error, failing-since; flagged after the threshold). */
async function revokeFailed(deps: CoreDeps, grant: Grant, err: unknown): Promise<void> {
  const now = deps.clock.now();
  const error = describeError(err);
  const failingSince = grant.revokeFailingSince ?? now;
  const flag = !grant.flaggedAt && now - failingSince >= deps.revokeAlertAfterMs;
  deps.logger.error({ grantId: grant.id, attempts: grant.revokeAttempts + 1, error }, 'revocation failed; will retry');
  await deps.store.transaction(async (tx) => {
    await tx.transitionGrant(grant.id, ['revoking'], {
      revokeAttempts: grant.revokeAttempts + 1,
      lastError: error,
      revokeFailingSince: failingSince,
      ...(flag && { flaggedAt: now }),
    });
    const base = {
      actor: SYSTEM_ACTOR,
      requestId: grant.requestId,
      grantId: grant.id,
      database: grant.database,
      level: grant.level,
    };
    await tx.appendAudit([
      { ...base, at: now, type: 'grant.revoke_failed', detail: { error, attempts: grant.revokeAttempts + 1 } },
      ...(flag
        ? [
            {
              ...base,
              at: now,
              type: 'grant.revoke_flagged' as const,
              detail: { error, failingForMs: now - failingSince },
            },
          ]
        : []),
    ]);
  });
  if (flag) {
    deps.logger.error({ grantId: grant.id, failingForMs: now - failingSince }, 'revocation keeps failing: flagged');
    await notify(deps, grant.requestId, (v) => deps.notifier.revocationStuck(v, error));
  }
}
