/** What the Slack listeners share: the core, who people are, and the views a person's lists are made of. */
import type { CoreDeps } from '../../../core/deps.js';
import type { Actor } from '../../../core/model.js';
import { approvableBy, viewsOf } from '../../../core/listing.js';
import type { Logger } from '../../../core/ports.js';
import type { RequestView } from '../../../core/view.js';
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

export function makeSlackContext(core: CoreDeps, people: SlackPeople, notifier?: SlackNotifier): SlackContext {
  return {
    core,
    people,
    ...(notifier && { notifier }),
    logger: core.logger,
    viewsOf: (actor) => viewsOf(core, actor),
    approvableBy: (actor) => approvableBy(core, actor),
  };
}
