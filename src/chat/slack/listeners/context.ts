/** What the Slack listeners share: the core, who people are, and the views a person's lists are made of. */
import type { CoreDeps } from '../../../core/deps.js';
import type { Actor } from '../../../core/model.js';
import { isRequester, matchApprover } from '../../../core/policy.js';
import type { Logger } from '../../../core/ports.js';
import { loadRequestView, type RequestView } from '../../../core/view.js';
import type { SlackPeople } from '../people.js';
import type { SlackNotifier } from '../notifier.js';

export interface SlackContext {
  core: CoreDeps;
  people: SlackPeople;
  /** For updates only the Slack side knows about (the break-glass alert after a review). */
  notifier?: SlackNotifier;
  logger: Logger;
  /** My pending requests and live grants, newest first. */
  viewsOf(actor: Actor): Promise<RequestView[]>;
  /** Pending requests I may decide (eligible now, not mine), oldest first. */
  approvableBy(actor: Actor): Promise<RequestView[]>;
}

const LIVE_PHASES = new Set(['pending', 'provisioning', 'active', 'revoking']);

export function makeSlackContext(core: CoreDeps, people: SlackPeople, notifier?: SlackNotifier): SlackContext {
  return {
    core,
    people,
    ...(notifier && { notifier }),
    logger: core.logger,
    async viewsOf(actor) {
      const requests = await core.store.listRequests({ requesterId: actor.id, statuses: ['pending', 'approved'] });
      const views = await Promise.all(requests.map((r) => loadRequestView(core, r.id)));
      // An approved extension shows through the grant it extended; a pending one is listed as a request.
      return views.filter((v) => LIVE_PHASES.has(v.phase) && (v.request.extendsGrantId === undefined || v.phase === 'pending')).reverse();
    },
    async approvableBy(actor) {
      const pending = await core.store.listRequests({ statuses: ['pending'] });
      const out: RequestView[] = [];
      for (const req of pending) {
        if (isRequester(actor, req)) continue;
        const db = core.catalog.databases.get(req.database);
        if (!db) continue;
        const { approvers } = await core.approvers.resolve(db, req.tier);
        if (matchApprover(actor, approvers)) out.push(await loadRequestView(core, req.id));
      }
      return out;
    },
  };
}
