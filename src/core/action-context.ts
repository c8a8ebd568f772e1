/**
 * A chat action taken from the inbox (core/inbox.ts): the use case decides it with the facts of the time it was
 * received, finishes its inbox row in the transaction of its effect, and audits both times.
 */
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

/** Inside the effect's transaction: marks the action done. Throws AlreadyProcessed (rolling the effect back) when
 *  another processing got there first. A no-op without an action context (CLI, API, tests). */
export async function finishAction(tx: StateStore, act: ActionContext | undefined, outcome: string, at: number): Promise<void> {
  if (!act) return;
  if (!(await tx.finishInboxAction(act.inboxId, outcome, at))) throw new AlreadyProcessed(act.inboxId);
}

/** The audit detail that says the action was received earlier than it was processed. */
export function receivedDetail(act: ActionContext | undefined): { receivedAt?: number } {
  return act ? { receivedAt: act.receivedAt } : {};
}
