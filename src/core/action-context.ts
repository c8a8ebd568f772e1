/**
 * A chat action taken from the inbox (core/inbox.ts): the use case decides it with the facts of the time it was
 * received, finishes its inbox row in the transaction of its effect, and audits both times (the audit row's `at` is
 * when it was processed, `detail.receivedAt` when the platform delivered it).
 *
 * What "as of when it was received" covers:
 * - the approval deadline (decideBy) is checked against receivedAt, and the decision is dated receivedAt;
 * - eligibility uses the escalation tier the request had at receivedAt (tierWhenReceived): a tier reached while the
 *   action waited (a crash, a slow replica) does not make its sender eligible after the fact;
 * - who was on call (PagerDuty schedules and escalation-policy levels, Opsgenie schedules): the vendors are asked who
 *   was on call at receivedAt, to the second (PagerDuty `since`/`until`, Opsgenie `date`; oncall/sources.ts), so
 *   an action recovered after a shift change counts for whoever was on call when it was clicked, and not for whoever
 *   came on call since; the same holds for an auto-approval rule's "requester is on call". An action processed
 *   within the resolver's cache TTL of its receipt (the normal case) is answered from the "now" cache, which is no
 *   fresher than that anyway;
 * - a rule's refusal of it is audited with receivedAt too.
 * What cannot be known as of receipt, and is therefore resolved when the action is processed:
 * - who is in a Slack user group: Slack keeps no history of a group's members, so it is the membership when the
 *   action is processed (cached for a short TTL). Recording it at receipt would put an external API call inside
 *   Slack's 3-second acknowledgement (the inbox write is one insert). An action processed right after its
 *   acknowledgement (the normal case) sees it within milliseconds of receipt; a recovered one, as of its recovery;
 * - the catalog (approver lists, limits) of the process that processes it;
 * - limits on what a person holds (live grants, pending requests): checked in the transaction that writes the
 *   effect, because they bound what is held at once and access is given when the effect is written.
 */
import type { BrokerError } from './errors.js';
import type { AccessRequest } from './model.js';
import type { StateStore } from './ports.js';

export interface ActionContext {
  /** The chat_inbox row this action is. */
  inboxId: number;
  /** When the platform delivered it (deadlines are checked against this, not against when it was processed). */
  receivedAt: number;
  /** 1 when processed right after the acknowledgement; more after a crash (recovery). */
  attempt: number;
}

/** The action was finished by another processing of it (a second replica, a recovery): its effect is not repeated. */
export class AlreadyProcessed extends Error {
  override readonly name = 'AlreadyProcessed';
  constructor(readonly inboxId: number) {
    super(`chat action ${inboxId} was already processed`);
  }
}

/** A refusal of a chat action whose inbox row was finished with it (and its audit row, for a rule's refusal) in one
 *  transaction: the processing only has to tell the person. */
export class ActionRefused extends Error {
  override readonly name = 'ActionRefused';
  constructor(readonly refusal: BrokerError) {
    super(refusal.message, { cause: refusal });
  }
}

/** The inbox outcome of a refused action. */
export function refusedOutcome(err: BrokerError): string {
  return `refused: ${err.code}: ${err.message}`;
}

/** Inside the effect's transaction, as its last step: marks the action done. AlreadyProcessed is thrown (here or as
 *  the transaction commits, rolling the effect back) when another processing got there first. A no-op without an
 *  action context (CLI, API, tests). */
export async function finishAction(
  tx: StateStore,
  act: ActionContext | undefined,
  outcome: string,
  at: number,
): Promise<void> {
  if (!act) return;
  await tx.finishInboxActionAtCommit(act.inboxId, outcome, at, () => new AlreadyProcessed(act.inboxId));
}

/** The audit detail that says the action was received earlier than it was processed. */
export function receivedDetail(act: ActionContext | undefined): { receivedAt?: number } {
  return act ? { receivedAt: act.receivedAt } : {};
}

/**
 * The escalation tier `req` had when the action was received: the request's tier less the escalations audited
 * after receivedAt. Without an action context, or at tier 0, the request's tier as it is (no read).
 */
export async function tierWhenReceived(
  store: StateStore,
  req: AccessRequest,
  act: ActionContext | undefined,
): Promise<number> {
  if (!act || req.tier === 0) return req.tier;
  const later = await store.listAudit({ requestId: req.id, type: 'request.escalated', since: act.receivedAt + 1 });
  let tier = req.tier;
  for (const e of later) {
    const reached = Number(e.detail.tier);
    if (Number.isSafeInteger(reached) && reached >= 1) tier = Math.min(tier, reached - 1);
  }
  return tier;
}
