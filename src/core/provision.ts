/**
 * Provisioning: create (or adopt) the user of a `provisioning` grant, then mark it active. Idempotent: the grant
 * row (username, expiry) was written before any DDL, so a retry after a crash adopts the same user.
 *
 * Grants are provisioned in batches: a grant handed over while a batch runs joins the next one (one that arrives
 * when nothing runs starts at once, alone), so a burst of approvals costs a few statements per batch instead of a
 * few per grant — one read of the grants and of their requests, one engine call per database (one DDL section),
 * one state-DB transaction activating them with their audit rows, one call scheduling their revoke jobs. The
 * guarantees are per grant, as if alone: only a `provisioning` grant is worked on, activation is conditional, a
 * failure is recorded for that grant alone (provisionFailed) and rethrown to its caller.
 */
import { backstopSlack, grantedDuration } from './activation.js';
import { buildCredentials, type Credentials } from './credentials.js';
import type { AccessLevel, DatabaseEntry } from './catalog.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import { groupBy } from './group-by.js';
import { generatePassword } from './identifiers.js';
import { SYSTEM_ACTOR, type AuditEvent, type Grant } from './model.js';
import type { NewUserResponse } from './ports.js';
import { expiredBeforeProvisioning, provisionFailed, removeUnwanted } from './provision-failure.js';
import { notify, readAheadMany } from './view.js';
import type { GrantId } from './model.js';

export { MAX_PROVISION_ATTEMPTS } from './provision-failure.js';

/** Grants provisioned by one batch at most. */
export const MAX_PROVISION_BATCH = 100;

export type ProvisionResult =
  | { outcome: 'active'; grant: Grant; credentials?: Credentials; user: 'created' | 'adopted' }
  | { outcome: 'skipped'; grant: Grant };

export interface ProvisionOptions {
  /** The caller hands the credentials over itself (CLI `grant`): a password is set at creation and returned. */
  credentials?: boolean;
}

/**
 * Creates (or adopts) the user of a `provisioning` grant and marks it active. A password is set only when someone
 * will be handed it now: an inline caller asking for `credentials` (returned), or a database with `delivery:
 * message` (sent in the DM). Otherwise (`delivery: reveal`) the user is created with no usable password and the
 * first one is set when the person reveals it, so a grant nobody opened never had a password.
 * Throws on a retryable failure while attempts remain; otherwise the grant ends `failed`, cleaned up.
 */
export function provision(deps: CoreDeps, grantId: GrantId, opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const { broker } = deps;
  return broker.exclusive(grantId, () => broker.provisioning.provision(grantId, opts.credentials === true));
}

interface Waiter {
  resolve: (r: ProvisionResult) => void;
  reject: (err: unknown) => void;
  credentials: boolean;
}

/** A grant of the batch on its way to the engine. */
interface Work {
  grant: Grant;
  db: DatabaseEntry;
  level: AccessLevel;
  /** Undefined: the user is created with no usable password. */
  password: string | undefined;
  /** The granted duration: the grant's clock runs from the moment its user exists. */
  durationMs: number;
}

/** A grant of the batch whose user exists: its expiry, now on the activation clock. */
interface Made extends Work {
  user: NewUserResponse['outcome'];
  expiresAt: number;
}

/** The provisioning batches of one Broker (core/broker.ts). */
export class ProvisionBatcher {
  /** Grant id → callers waiting for it, not yet taken by a batch. */
  private readonly pending = new Map<GrantId, Waiter[]>();
  private draining: Promise<void> | undefined;

  constructor(private readonly deps: CoreDeps) {}

  provision(grantId: GrantId, credentials: boolean): Promise<ProvisionResult> {
    return new Promise<ProvisionResult>((resolve, reject) => {
      const waiters = this.pending.get(grantId);
      if (waiters) waiters.push({ resolve, reject, credentials });
      else this.pending.set(grantId, [{ resolve, reject, credentials }]);
      // Started on the next turn, so grants handed over in the same turn share the first batch.
      this.draining ??= new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
    });
  }

  /** Resolves when no batch runs (for shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const taken = new Map([...this.pending].slice(0, MAX_PROVISION_BATCH));
        for (const id of taken.keys()) this.pending.delete(id);
        await this.runBatch(taken).catch((err: unknown) => {
          for (const waiters of taken.values()) for (const w of waiters) w.reject(err);
        });
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async runBatch(taken: Map<GrantId, Waiter[]>): Promise<void> {
    const { store, clock, catalog, logger } = this.deps;
    const started = clock.now();
    const settle = (id: GrantId, result: Promise<ProvisionResult>) => {
      const waiters = taken.get(id)!;
      taken.delete(id); // settled once; what is left in `taken` when runBatch throws is rejected by drain
      result.then(
        (r) => waiters.forEach((w) => w.resolve(r)),
        (err: unknown) => waiters.forEach((w) => w.reject(err)),
      );
    };
    const grants = await store.listGrants({ ids: [...taken.keys()] });
    const readAt = clock.now();
    const found = new Set(grants.map((g) => g.id));
    for (const id of [...taken.keys()]) {
      if (!found.has(id)) settle(id, Promise.reject(new BrokerError('NOT_FOUND', `grant #${id} does not exist`)));
    }
    const work: Work[] = [];
    for (const grant of grants) {
      if (grant.status !== 'provisioning') settle(grant.id, Promise.resolve({ outcome: 'skipped', grant }));
      else if (clock.now() >= grant.expiresAt) {
        settle(
          grant.id,
          expiredBeforeProvisioning(this.deps, grant).then((g) => ({ outcome: 'skipped' as const, grant: g })),
        );
      } else {
        try {
          const db = databaseOf(catalog, grant.database);
          const level = db.levels.get(grant.level);
          if (!level) throw new BrokerError('UNKNOWN_LEVEL', `level "${grant.level}" is no longer in the catalog`);
          const handedOver = db.delivery === 'message' || taken.get(grant.id)!.some((w) => w.credentials);
          work.push({
            grant,
            db,
            level,
            password: handedOver ? generatePassword() : undefined,
            durationMs: grantedDuration(grant),
          });
        } catch (err) {
          settle(grant.id, Promise.reject(err));
        }
      }
    }
    if (work.length === 0) return;
    // The people's messages need the requests and their approvals: read while the users are being created.
    const ahead = readAheadMany(
      this.deps,
      work.map((w) => w.grant.requestId),
    );
    // The backstop is set before the activation moment is known: later than any expiry a prompt creation gives.
    const askedAt = clock.now();
    const backstopOf = (w: Work) => askedAt + w.durationMs + backstopSlack(w.durationMs);
    const made = await this.newUsers(work, backstopOf);
    // The users exist: each grant's clock starts now.
    const createdAt = clock.now();
    const ok: Made[] = [];
    for (const w of work) {
      const res = made.get(w.grant.id)!;
      if (res instanceof Error)
        settle(
          w.grant.id,
          provisionFailed(this.deps, w.grant, res).then(() => Promise.reject(res)),
        );
      else ok.push({ ...w, user: res.outcome, expiresAt: createdAt + w.durationMs });
    }
    if (ok.length === 0) return;
    await this.catchUpBackstops(ok, backstopOf);
    this.deps.failpoint('provision.after-create-user');

    const now = clock.now();
    const won = await store.transaction(async (tx) => {
      const ids = new Set<GrantId>();
      for (const group of groupBy(ok, (w) => `${w.grant.provisionAttempts}:${w.expiresAt}`).values()) {
        const patch = {
          status: 'active' as const,
          activatedAt: createdAt,
          expiresAt: group[0]!.expiresAt,
          provisionAttempts: group[0]!.grant.provisionAttempts + 1,
          lastError: null,
        };
        for (const id of await tx.transitionGrants(
          group.map((w) => w.grant.id),
          ['provisioning'],
          patch,
        ))
          ids.add(id);
      }
      await tx.appendAudit(
        ok
          .filter((w) => ids.has(w.grant.id))
          .map((w) => provisionedEvent(w.grant, w.user, now, createdAt, w.expiresAt)),
      );
      return ids;
    });
    const active = ok.filter((w) => won.has(w.grant.id));
    // Revoked while the users were being created: what was just made must not outlive the grant.
    for (const w of ok) {
      if (!won.has(w.grant.id))
        settle(
          w.grant.id,
          removeUnwanted(this.deps, w.grant).then((grant) => ({ outcome: 'skipped' as const, grant })),
        );
    }
    logger.info(
      {
        batch: work.length,
        active: active.length,
        failed: work.length - ok.length,
        readMs: readAt - started,
        ddlMs: createdAt - readAt,
        recordMs: clock.now() - now,
      },
      'provisioning batch',
    );
    // The people are told while the revoke jobs are scheduled: neither waits for the other (the sweeper backs the
    // jobs). Each caller's promise settles after its own message and the scheduling.
    const scheduled = this.deps.scheduler
      .scheduleRevokes(active.map((w) => ({ grantId: w.grant.id, at: w.expiresAt })))
      .catch((err: unknown) => {
        logger.warn(
          { err: String(err), grants: active.length },
          'could not schedule the revoke jobs; the sweeper will revoke at expiry',
        );
      });
    for (const w of active) {
      const { lastError: _cleared, ...rest } = w.grant;
      const grant: Grant = {
        ...rest,
        status: 'active',
        activatedAt: createdAt,
        expiresAt: w.expiresAt,
        provisionAttempts: w.grant.provisionAttempts + 1,
      };
      logger.info(
        {
          grantId: grant.id,
          database: grant.database,
          username: grant.username,
          user: w.user,
          expiresAt: grant.expiresAt,
        },
        'grant active',
      );
      const credentials =
        w.password === undefined ? undefined : buildCredentials(w.db, grant.username, w.password, grant.expiresAt);
      const told = notify(
        this.deps,
        grant.requestId,
        (v) => this.deps.notifier.grantActivated(v, w.db.delivery === 'message' ? credentials : undefined),
        {
          grant,
          ahead: ahead.then((m) => m.get(grant.requestId)),
        },
      );
      const result = { outcome: 'active' as const, grant, user: w.user, ...(credentials && { credentials }) };
      settle(
        grant.id,
        Promise.all([told, scheduled]).then(() => result),
      );
    }
  }

  /**
   * A user whose creation outlasted the backstop's slack gets its backstop moved to its expiry. Should that fail,
   * the expiry is held to the backstop instead: the target never refuses the user before the broker ends it, and
   * the broker never promises more than the target will allow.
   */
  private async catchUpBackstops(ok: Made[], backstopOf: (w: Work) => number): Promise<void> {
    await Promise.all(
      ok
        .filter((w) => w.expiresAt > backstopOf(w))
        .map(async (w) => {
          try {
            await this.deps.engines
              .get(w.grant.database)
              .updateUser({ grantId: w.grant.id, username: w.grant.username, newExpiresAt: w.expiresAt });
          } catch (err) {
            this.deps.logger.warn(
              { grantId: w.grant.id, err: String(err) },
              'could not move the backstop to the activation clock; the expiry is held to the backstop',
            );
            w.expiresAt = backstopOf(w);
          }
        }),
    );
  }

  /** One engine call per database, all at once; per grant its response or its error. */
  private async newUsers(
    work: readonly Work[],
    backstopOf: (w: Work) => number,
  ): Promise<Map<GrantId, NewUserResponse | Error>> {
    const out = new Map<GrantId, NewUserResponse | Error>();
    await Promise.all(
      [...groupBy(work, (w) => w.grant.database)].map(async ([database, group]) => {
        try {
          const made = await this.deps.engines.get(database).newUsers(
            group.map((w) => ({
              grantId: w.grant.id,
              username: w.grant.username,
              ...(w.password !== undefined && { password: w.password }),
              expiresAt: backstopOf(w),
              level: w.level,
            })),
          );
          for (const w of group)
            out.set(
              w.grant.id,
              made.get(w.grant.username) ?? new Error(`the engine returned no result for ${w.grant.username}`),
            );
        } catch (err) {
          for (const w of group) out.set(w.grant.id, err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
    return out;
  }
}

function provisionedEvent(
  grant: Grant,
  user: NewUserResponse['outcome'],
  at: number,
  activatedAt: number,
  expiresAt: number,
): AuditEvent {
  return {
    at,
    type: 'grant.provisioned',
    actor: SYSTEM_ACTOR,
    requestId: grant.requestId,
    grantId: grant.id,
    database: grant.database,
    level: grant.level,
    detail: { username: grant.username, user, activatedAt, expiresAt },
  };
}
