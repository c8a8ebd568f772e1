/**
 * Revocation lateness, read from the broker's state DB once every grant of a target has ended:
 * - done: `revokedAt − expiresAt`, where `revokedAt` is stamped after the user was dropped (lock → kill → drop
 *   finished) — the moment access is really gone;
 * - start: `revokeStartedAt − expiresAt`, when the broker began (locking the user). Never early means its minimum is
 *   ≥ 0. The bench then checks on the target itself that no issued user is left.
 * Two populations are kept apart: grants approved one at a time (expiries spaced as the approvals were) and the
 * burst (all approved at once, so all expiring within the window the approvals took).
 */
import { LIVE_GRANT_STATUSES, type Grant } from '../src/core/model.js';
import { waitFor } from '../test/support/wait.js';
import type { Stage } from './stage.js';
import { rounded, summarize, type Summary } from './stats.js';
import type { BenchTarget } from './targets.js';

export interface Lateness {
  grants: number;
  /** Last expiresAt − first expiresAt of the population: how bunched the expiries were. */
  expiryWindowMs: number;
  done: Summary;
  start: Summary;
}

export interface Revocations {
  /** Every grant of the target, ended. */
  all: Grant[];
  /** Grants the sweeper revoked (the precise revoke job had not done it `graceMs` after expiry). */
  bySweeper: number;
  /** Grants that did not end as revoked at expiry (should be none). */
  notExpired: Array<{ id: number; status: string; endReason?: string }>;
  /** Issued users still present on the target afterwards (should be none). */
  usersLeft: string[];
}

const ENDED = new Set(['revoked', 'failed']);

export async function awaitRevocations(stage: Stage, target: BenchTarget): Promise<Revocations> {
  const mine = () => stage.store.listGrants({ database: target.entry.name });
  const latest = Math.max(...(await mine()).map((g) => g.expiresAt));
  const grants: Grant[] = await waitFor(
    `every ${target.entry.name} grant to be revoked`,
    async () => {
      const gs = await mine();
      return gs.every((g) => ENDED.has(g.status)) ? gs : undefined;
    },
    { timeoutMs: Math.max(0, latest - Date.now()) + 60_000, intervalMs: 250 },
  );
  const usersLeft: string[] = [];
  for (const g of grants) if (await target.userExists(g.username)) usersLeft.push(g.username);
  return {
    all: grants,
    bySweeper: grants.filter((g) => g.endKind === 'overdue').length,
    notExpired: grants
      .filter((g) => g.status !== 'revoked' || (g.endKind !== 'expired' && g.endKind !== 'overdue'))
      .map((g) => ({ id: g.id, status: g.status, ...(g.endReason && { endReason: g.endReason }) })),
    usersLeft,
  };
}

export function lateness(grants: readonly Grant[]): Lateness {
  const expiries = grants.map((g) => g.expiresAt);
  return {
    grants: grants.length,
    expiryWindowMs: grants.length ? Math.max(...expiries) - Math.min(...expiries) : 0,
    done: rounded(summarize(grants.filter((g) => g.revokedAt !== undefined).map((g) => g.revokedAt! - g.expiresAt))),
    start: rounded(
      summarize(grants.filter((g) => g.revokeStartedAt !== undefined).map((g) => g.revokeStartedAt! - g.expiresAt)),
    ),
  };
}

/** Earliest and latest expiry among a target's grants. */
export async function expiryRange(stage: Stage, target: BenchTarget): Promise<{ first: number; last: number }> {
  // Live grants only: the warm-up's, already revoked, expired long before the burst's and must not count.
  const expiries = (await stage.store.listGrants({ database: target.entry.name, statuses: LIVE_GRANT_STATUSES })).map(
    (g) => g.expiresAt,
  );
  return { first: Math.min(...expiries), last: Math.max(...expiries) };
}
