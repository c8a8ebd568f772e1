/**
 * Revocation lateness, read from the broker's state DB once every grant of a target has ended:
 * - done: `revokedAt − expiresAt`, where `revokedAt` is stamped after the user was dropped (lock → kill → drop
 *   finished) — the moment access is really gone;
 * - start: `revokeStartedAt − expiresAt`, when the broker began (locking the user). Never early means its minimum is
 *   ≥ 0. The bench then checks on the target itself that no issued user is left.
 */
import type { Grant } from '../src/core/model.js';
import { waitFor } from '../test/support/wait.js';
import type { Stage } from './stage.js';
import type { BenchTarget } from './targets.js';

export interface RevocationResult {
  /** Every grant of the target, ended. */
  all: Grant[];
  grants: number;
  /** revokedAt − expiresAt per grant (ms). */
  doneMs: number[];
  /** revokeStartedAt − expiresAt per grant (ms). */
  startMs: number[];
  /** Grants that ended otherwise than revoked at expiry (should be none). */
  notExpired: Array<{ id: number; status: string; endReason?: string }>;
  /** Issued users still present on the target afterwards (should be none). */
  usersLeft: string[];
}

const ENDED = new Set(['revoked', 'failed']);

export async function awaitRevocations(stage: Stage, target: BenchTarget): Promise<RevocationResult> {
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
    grants: grants.length,
    doneMs: grants.filter((g) => g.revokedAt !== undefined).map((g) => g.revokedAt! - g.expiresAt),
    startMs: grants.filter((g) => g.revokeStartedAt !== undefined).map((g) => g.revokeStartedAt! - g.expiresAt),
    notExpired: grants.filter((g) => g.status !== 'revoked' || g.endReason !== 'expired').map((g) => ({ id: g.id, status: g.status, ...(g.endReason && { endReason: g.endReason }) })),
    usersLeft,
  };
}

/** The earliest expiry among a target's grants (to tell whether revocations overlapped the latency phases). */
export async function earliestExpiry(stage: Stage, target: BenchTarget): Promise<number> {
  return Math.min(...(await stage.store.listGrants({ database: target.entry.name })).map((g) => g.expiresAt));
}
