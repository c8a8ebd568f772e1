/**
 * Where click → credentials goes, per one-at-a-time journey, from the grant's own timestamps in the state DB
 * (epoch ms, the broker's clock; same machine as ours, so comparable to the ms):
 * - approve: click sent → grant row written (Bolt, approval checks, the request/approval/grant/audit transaction);
 * - provision: grant written → active (provision job enqueued and picked up, user created on the target, state);
 * - notify: active → credentials DM recorded (the revoke job scheduled, the approval message updated, the DM opened
 *   and sent — in that order, see src/core/provision.ts and src/chat/slack/notifier.ts).
 */
import type { Grant } from '../src/core/model.js';
import type { JourneySample } from './journeys.js';
import { rounded, summarize, type Summary } from './stats.js';

export interface Breakdown {
  approve: Summary;
  provision: Summary;
  notify: Summary;
}

export function breakdown(samples: readonly JourneySample[], grants: readonly Grant[]): Breakdown {
  const byUser = new Map(grants.map((g) => [g.requester.id, g]));
  const approve: number[] = [];
  const provision: number[] = [];
  const notify: number[] = [];
  for (const s of samples) {
    const g = byUser.get(s.userId);
    if (!g || g.activatedAt === undefined) continue;
    approve.push(g.createdAt - s.clickedAtEpoch);
    provision.push(g.activatedAt - g.createdAt);
    notify.push(s.credentialsAtEpoch - g.activatedAt);
  }
  return {
    approve: rounded(summarize(approve)),
    provision: rounded(summarize(provision)),
    notify: rounded(summarize(notify)),
  };
}
