/** What a person's lists are made of, on any chat platform: their live requests and grants, and what waits for them. */
import type { CoreDeps } from './deps.js';
import { approvalScopeOf } from './catalog.js';
import type { Actor } from './model.js';
import { isPartyTo, matchApprover } from './policy.js';
import { loadRequestView, type RequestView } from './view.js';

const LIVE_PHASES: ReadonlySet<string> = new Set(['pending', 'provisioning', 'active', 'revoking']);

/** My pending requests and live grants, newest first. */
export async function viewsOf(core: CoreDeps, actor: Actor): Promise<RequestView[]> {
  const requests = await core.store.listRequests({ requesterId: actor.id, statuses: ['pending', 'approved'] });
  const views = await Promise.all(requests.map((r) => loadRequestView(core, r.id)));
  // An approved extension shows through the grant it extended; a pending one is listed as a request.
  return views
    .filter((v) => LIVE_PHASES.has(v.phase) && (v.request.extendsGrantId === undefined || v.phase === 'pending'))
    .reverse();
}

/** Pending requests I may decide (eligible now, neither mine nor asked by me for someone else), oldest first. */
export async function approvableBy(core: CoreDeps, actor: Actor): Promise<RequestView[]> {
  const pending = await core.store.listRequests({ statuses: ['pending'] });
  const out: RequestView[] = [];
  for (const req of pending) {
    if (isPartyTo(actor, req)) continue;
    const db = approvalScopeOf(core.catalog, req.database);
    if (!db) continue;
    const { approvers } = await core.approvers.resolve(db, req.tier);
    if (matchApprover(actor, approvers)) out.push(await loadRequestView(core, req.id));
  }
  return out;
}
