/**
 * The chat inbox: an acknowledged action is never lost. A listener records a state-changing action
 * (one insert), acknowledges it, then processes it here. Processing calls the action's use case with an
 * ActionContext: the decision is made as of when the action was received, and its inbox row is finished in the
 * transaction of its effect. A crash in between leaves the row pending; recoverInbox (at start of a web process,
 * and every sweep) processes it again once the lease of the process that recorded it has lapsed.
 *
 * Idempotency per kind: every effect commits only together with its row's pending → done (finishInboxAction is
 * conditional), so a second processing of a finished action changes nothing (AlreadyProcessed). A refusal
 * finishes the row too (outcome = the refusal, committed with its audit row) and is never retried. A processing
 * that outlives its lease may run beside a second one (a recovery): whichever finishes the row first acted; the
 * other sees the action's own effect ("already decided", "already revoking") as a refusal, finds the row finished
 * and ends quietly (no refusal audited, nothing told). An unexpected failure marks the row failed
 * (the person is told nothing changed and may try again); only a crash leaves it pending, for at most
 * INBOX_MAX_ATTEMPTS processings.
 */
import { randomUUID } from 'node:crypto';
import { ActionRefused, AlreadyProcessed, refusedOutcome, type ActionContext } from './action-context.js';
import type { CoreDeps } from './deps.js';
import { BrokerError, describeError } from './errors.js';
import { revokeAsUser } from './grant-changes.js';
import { requireGrantId, requireRequestId } from './ids.js';
import type { AccessRequest, Actor, GrantId, RequestId } from './model.js';
import type { InboxAction, NewInboxAction } from './ports.js';
import { requestAccess, requestExtension, type RequestInput } from './asking.js';
import { approve, deny, reviewBreakGlass, type ApproveResult } from './deciding.js';
import type { RevokeResult } from './revocation.js';
import type { RequestView } from './view.js';

/** The recording process holds an action this long: another process takes it over only after that. */
export const INBOX_LEASE_MS = 10_000;
/** A recovery holds what it claimed this long. */
export const INBOX_RECOVERY_LEASE_MS = 60_000;
/** An action whose processing crashed the process this often is given up (failed), not retried again. */
export const INBOX_MAX_ATTEMPTS = 3;
/** Actions recovered per pass. */
const RECOVERY_BATCH = 100;
/** A finished action is kept this long: well past Slack's redeliveries (minutes), whose dedupe keys it holds, and
 *  long enough to look into what came of a click. */
export const INBOX_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Finished actions deleted per statement, and statements per pruning pass: a backlog is worked off over passes. */
export const INBOX_PRUNE_BATCH = 500;
const INBOX_PRUNE_BATCHES_PER_PASS = 10;

/** This process's name on the leases it takes. */
export const INBOX_OWNER = `p${process.pid}-${randomUUID().slice(0, 8)}`;

/** What a processed action did, for the edge to tell the person. */
export type InboxEffect =
  | { kind: 'approve'; result: ApproveResult }
  | { kind: 'deny' | 'request' | 'extend'; request: AccessRequest }
  | { kind: 'review'; view: RequestView }
  | { kind: 'revoke'; result: RevokeResult };

/** ok: the effect happened now. refused: a BrokerError (told to the person). done: an earlier processing did it. */
export type InboxResult = { ok: true; effect: InboxEffect } | { ok: false; error: unknown } | { ok: 'done' };

/** What each chat platform provides for its actions: who the person is, and how to tell them the result. */
export interface InboxEdge {
  actor(action: InboxAction): Promise<Actor>;
  /** The person a request names as who it is for (`payload.for`, a platform user id); throws a BrokerError
   *  (FORBIDDEN) for anyone who is not a person of this organisation. */
  person?(userId: string): Promise<Actor>;
  /** Tells the person what came of their action (never throws: a failed answer is logged). */
  answer(action: InboxAction, result: InboxResult): Promise<void>;
}

export type InboxEdges = Partial<Record<InboxAction['platform'], InboxEdge>>;

/** What `payload` holds for each kind (besides where to answer, which is the edge's). */
export interface InboxPayloads {
  approve: { requestId: RequestId };
  deny: { requestId: RequestId; reason: string };
  revoke: { grantId: GrantId };
  review: { requestId: RequestId };
  /** `for`: the platform user id of the person the access is for, when someone asks on their behalf. */
  request: { input: RequestInput; breakGlass?: boolean; for?: string };
  extend: { grantId: GrantId; duration: string; reason: string };
}

/** Records an action before it is acknowledged, leased to this process (which processes it at once). Undefined
 *  for a redelivery of an action already recorded. */
export async function recordAction(
  deps: Pick<CoreDeps, 'store' | 'clock'>,
  action: Omit<NewInboxAction, 'receivedAt' | 'claimedBy' | 'claimedUntil'>,
): Promise<InboxAction | undefined> {
  const now = deps.clock.now();
  return deps.store.recordInboxAction({
    ...action,
    receivedAt: now,
    claimedBy: INBOX_OWNER,
    claimedUntil: now + INBOX_LEASE_MS,
  });
}

/** Processes one recorded action through its use case; its row is finished whatever the outcome (but a crash). */
export async function processAction(deps: CoreDeps, action: InboxAction, edge: InboxEdge): Promise<InboxResult> {
  await deps.hold?.('inbox.before-process');
  const act: ActionContext = { inboxId: action.id, receivedAt: action.receivedAt, attempt: action.attempts };
  try {
    if (action.attempts > INBOX_MAX_ATTEMPTS)
      throw new Error(`given up after ${action.attempts - 1} processings that did not finish`);
    const actor = await edge.actor(action);
    return { ok: true, effect: await dispatch(deps, action, actor, act, edge) };
  } catch (err) {
    if (err instanceof AlreadyProcessed) return { ok: 'done' };
    if (err instanceof ActionRefused) return { ok: false, error: err.refusal }; // its row was finished with it
    const refused = err instanceof BrokerError;
    const outcome = refused ? refusedOutcome(err) : `failed: ${describeError(err)}`;
    const finished = await deps.store
      .finishInboxAction(action.id, outcome, deps.clock.now(), refused ? 'done' : 'failed')
      .catch((e: unknown) => {
        deps.logger.error(
          { inboxId: action.id, err: describeError(e) },
          'inbox: could not finish a refused or failed action',
        );
        return true;
      });
    if (!finished) return { ok: 'done' }; // another processing finished it meanwhile
    if (!refused)
      deps.logger.error(
        { inboxId: action.id, kind: action.kind, err: describeError(err) },
        'inbox: chat action failed',
      );
    return { ok: false, error: err };
  }
}

async function dispatch(
  deps: CoreDeps,
  action: InboxAction,
  actor: Actor,
  act: ActionContext,
  edge: InboxEdge,
): Promise<InboxEffect> {
  const p = action.payload;
  switch (action.kind) {
    case 'approve':
      return { kind: 'approve', result: await approve(deps, requireRequestId(p.requestId), actor, undefined, act) };
    case 'deny':
      return {
        kind: 'deny',
        request: (await deny(deps, requireRequestId(p.requestId), actor, String(p.reason ?? ''), act)).request,
      };
    case 'revoke':
      return { kind: 'revoke', result: await revokeAsUser(deps, requireGrantId(p.grantId), actor, undefined, act) };
    case 'review':
      return { kind: 'review', view: await reviewBreakGlass(deps, requireRequestId(p.requestId), actor, act) };
    case 'request':
      return {
        kind: 'request',
        request: await requestAccess(deps, actor, p.input as RequestInput, {
          breakGlass: p.breakGlass === true,
          action: act,
          ...(typeof p.for === 'string' && { beneficiary: () => personFor(edge, String(p.for)) }),
        }),
      };
    case 'extend':
      return {
        kind: 'extend',
        request: await requestExtension(
          deps,
          actor,
          requireGrantId(p.grantId),
          String(p.duration),
          String(p.reason),
          act,
        ),
      };
  }
}

async function personFor(edge: InboxEdge, userId: string): Promise<Actor> {
  if (!edge.person) throw new BrokerError('FORBIDDEN', 'access for someone else cannot be asked for from here');
  return edge.person(userId);
}

/**
 * Processes every action left unfinished by a process that died (its lease lapsed), received at least
 * `minAgeMs` ago, one at a time in arrival order (so the actions on one request apply in the order they came).
 * Returns how many were processed. Platforms without an edge here are left for a process that has one.
 */
export async function recoverInbox(deps: CoreDeps, edges: InboxEdges, minAgeMs = 0): Promise<number> {
  // Only Slack records actions (Teams answers each activity once it is done: chat/teams/bot.ts); a process that
  // cannot answer on a platform claims nothing, so it spends none of the attempts of that platform's actions.
  if (!edges.slack) return 0;
  const now = deps.clock.now();
  const claimed = await deps.store.claimInboxActions(
    INBOX_OWNER,
    now,
    now + INBOX_RECOVERY_LEASE_MS,
    now - minAgeMs,
    RECOVERY_BATCH,
  );
  let n = 0;
  for (const action of claimed) {
    const edge = edges[action.platform];
    if (!edge) continue; // not recorded by any platform but Slack (see above)
    deps.logger.warn(
      {
        inboxId: action.id,
        kind: action.kind,
        platform: action.platform,
        attempt: action.attempts,
        receivedAt: action.receivedAt,
      },
      'inbox: processing an action left unfinished',
    );
    const result = await processAction(deps, action, edge);
    if (result.ok !== 'done') await edge.answer(action, result);
    n++;
  }
  return n;
}

/** Deletes actions finished more than `retentionMs` ago, in bounded batches; never an unfinished one. Returns how
 *  many were deleted. */
export async function pruneInbox(
  deps: Pick<CoreDeps, 'store' | 'clock'>,
  retentionMs = INBOX_RETENTION_MS,
  batch = INBOX_PRUNE_BATCH,
): Promise<number> {
  const before = deps.clock.now() - retentionMs;
  let n = 0;
  for (let i = 0; i < INBOX_PRUNE_BATCHES_PER_PASS; i++) {
    const deleted = await deps.store.pruneInboxActions(before, batch);
    n += deleted;
    if (deleted < batch) break;
  }
  return n;
}
