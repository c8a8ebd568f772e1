import type { Phase, RequestView } from '../core/view.js';

const PHASE_RANK: Record<Phase, number> = {
  pending: 0,
  provisioning: 1,
  active: 2,
  revoking: 3,
  ended: 4,
  failed: 4,
  denied: 4,
  expired: 4,
  cancelled: 4,
};

/**
 * Monotonic version of what an approval message shows: phase, then approvals / attempts / expiry within it.
 * Renderers update a message only after winning StateStore.claimMessageVersion with it, so racing processes
 * never move a message backwards.
 */
export function renderVersion(v: RequestView): number {
  const rank = PHASE_RANK[v.phase];
  // A bundle's message after its decision shows every member: each member's phase only moves forward, and its failed
  // attempts (shown while it is retried) only grow.
  if (v.bundle && v.phase !== 'pending')
    return (
      rank * 1e11 +
      1 +
      v.bundle.members.reduce(
        (sum, m) => sum + (PHASE_RANK[m.phase] + 1) * 100 + Math.min(m.grant?.provisionAttempts ?? 0, 99),
        0,
      )
    );
  const sub =
    v.phase === 'pending'
      ? v.request.tier * 1000 + v.approvals.length
      : v.phase === 'provisioning'
        ? (v.grant?.provisionAttempts ?? 0)
        : v.phase === 'active'
          ? Math.floor((v.grant?.expiresAt ?? 0) / 1000) % 1e10
          : 0;
  return rank * 1e11 + sub;
}
