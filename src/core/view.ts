/**
 * The chat-neutral view of a request and its grant: what every chat adapter renders (Block Kit, Adaptive Cards,
 * CLI). Built from the state DB only, so any process can render the current truth.
 */
import type { BundleMember, EngineName } from './catalog.js';
import type { CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import type { AccessRequest, Approval, Grant, GrantActivity, RequestId, RevocationReceipt } from './model.js';
import type { MessageRef, StateStore } from './ports.js';

export type Phase =
  | 'pending' // waiting for approvals
  | 'denied'
  | 'expired' // nobody decided before the approval deadline
  | 'cancelled'
  | 'provisioning' // approved; the user is being created
  | 'active'
  | 'revoking'
  | 'ended' // revoked (expired, revoked early, or extension applied → see request)
  | 'failed'; // provisioning gave up

export interface RequestView {
  request: AccessRequest;
  database: { name: string; description?: string; engine: EngineName };
  /** Approvals recorded so far (decision approve), in order. */
  approvals: Approval[];
  denial?: Approval;
  /** The request's own grant (for an extension request: the grant it extends). */
  grant?: Grant;
  phase: Phase;
  /** What the revocation did, once the grant has ended. */
  receipt?: RevocationReceipt & { reason: string };
  /**
   * The request's chat message references, when they were read with the view (read ahead for a batch). Absent:
   * a notifier reads them itself. Only where the messages are is read here; which version a message shows is
   * decided in the state DB (claimMessageVersion), so these may be a little old.
   */
  messages?: MessageRef[];
  /** A bundle request: its name, and the views of its members' requests (none until it is approved). Its `phase`
   *  is then its members': the earliest any of them is in (every member ended: ended; every member failed: failed). */
  bundle?: { name: string; entries: readonly BundleMember[]; members: RequestView[] };
  /** A member's request: the view of the bundle request it is part of (its approval message and the person's DM are
   *  the bundle's). */
  partOf?: RequestView;
  now: number;
}

const PHASE_ORDER: readonly Phase[] = ['provisioning', 'active', 'revoking', 'failed', 'ended'];

/** An approved bundle request's phase, from its members' (each only moves forward, so this does too). */
function bundlePhase(members: readonly RequestView[]): Phase {
  if (members.length === 0) return 'provisioning';
  if (members.every((m) => m.phase === 'failed')) return 'failed';
  const rank = (p: Phase) => (PHASE_ORDER.indexOf(p) === -1 ? PHASE_ORDER.length : PHASE_ORDER.indexOf(p));
  const earliest = members.reduce((a, m) => (rank(m.phase) < rank(a) ? m.phase : a), members[0]!.phase);
  return earliest === 'failed' ? 'ended' : earliest;
}

export function phaseOf(request: AccessRequest, grant: Grant | undefined): Phase {
  if (request.status === 'pending') return 'pending';
  if (request.status === 'denied' || request.status === 'expired' || request.status === 'cancelled')
    return request.status;
  if (!grant) return 'provisioning';
  if (request.extendsGrantId !== undefined) return grant.status === 'active' ? 'active' : 'ended';
  switch (grant.status) {
    case 'provisioning':
      return 'provisioning';
    case 'active':
      return 'active';
    case 'revoking':
      return 'revoking';
    case 'revoked':
      return 'ended';
    case 'failed':
      return 'failed';
  }
}

/**
 * What a caller already holds, so that building the view reads less: the grant it has just written (the request's
 * own grant), the receipt of the revocation it has just recorded, or the request and its decisions read ahead
 * (while the caller was busy elsewhere; neither changes once the request is approved).
 */
export interface KnownState {
  /** null: known to have none (a request just opened). */
  grant?: Grant | null;
  receipt?: NonNullable<RequestView['receipt']>;
  /** From readAheadMany: undefined when that read failed (the view then reads again). */
  ahead?: Promise<RequestAndDecisions | undefined>;
  /** Building a bundle's view from inside a member's: the member does not read the bundle again. */
  insideBundle?: true;
}

/**
 * The request's message references on `platform`'s side: those read with the view when they hold that platform's
 * approval message, else read now (a request approved by policy is provisioned while its approval message is still
 * being posted, so references read ahead may lack it).
 */
export function messageRefsOf(
  store: Pick<StateStore, 'getMessageRefs'>,
  v: RequestView,
  platform: MessageRef['platform'],
): Promise<MessageRef[]> {
  const known = v.messages;
  return known?.some((r) => r.platform === platform && r.kind === 'approval')
    ? Promise.resolve(known)
    : store.getMessageRefs(v.request.id);
}

/** A request, its decisions and (when read with them) its chat message references. */
export type RequestAndDecisions = [AccessRequest | undefined, Approval[], MessageRef[]?];

/**
 * Requests, their decisions and their message references read now, for KnownState.ahead: three reads for any
 * number. Never rejects (a failed read is an empty map), so it may go unused; a request missing from the map is
 * read again by its view.
 */
export function readAheadMany(
  deps: Pick<CoreDeps, 'store'>,
  requestIds: readonly RequestId[],
): Promise<Map<RequestId, RequestAndDecisions>> {
  const { store } = deps;
  return Promise.all([
    store.listRequests({ ids: requestIds }),
    store.listApprovalsFor(requestIds),
    store.listMessageRefsFor(requestIds),
  ]).then(
    ([requests, approvals, refs]) => {
      const out = new Map<RequestId, [AccessRequest, Approval[], MessageRef[]]>(
        requests.map((r) => [r.id, [r, [], []]]),
      );
      for (const a of approvals) out.get(a.requestId)?.[1].push(a);
      for (const m of refs) out.get(m.requestId)?.[2].push(m);
      return out;
    },
    () => new Map(),
  );
}

function readBoth(deps: Pick<CoreDeps, 'store'>, requestId: RequestId): Promise<RequestAndDecisions> {
  return Promise.all([deps.store.getRequest(requestId), deps.store.listApprovals(requestId)]);
}

export async function loadRequestView(
  deps: Pick<CoreDeps, 'store' | 'catalog' | 'clock'>,
  requestId: RequestId,
  known: KnownState = {},
): Promise<RequestView> {
  const { store } = deps;
  // One round trip's latency, not three: the views are rendered on the way to the person's message.
  const [[request, decisions, messages], own] = await Promise.all([
    known.ahead ? known.ahead.then((r) => r ?? readBoth(deps, requestId)) : readBoth(deps, requestId),
    known.grant === null
      ? undefined
      : known.grant?.requestId === requestId
        ? known.grant
        : store.getGrantByRequest(requestId),
  ]);
  if (!request) throw new BrokerError('NOT_FOUND', `request #${requestId} does not exist`);
  const grant = request.extendsGrantId !== undefined ? await store.getGrant(request.extendsGrantId) : own;
  const entry = deps.catalog.databases.get(request.database);
  const view: RequestView = {
    request,
    database: {
      name: request.database,
      engine: entry?.engine ?? 'postgres',
      ...(entry?.description !== undefined && { description: entry.description }),
    },
    approvals: decisions.filter((a) => a.decision === 'approve'),
    phase: phaseOf(request, grant),
    now: deps.clock.now(),
  };
  const denial = decisions.find((a) => a.decision === 'deny');
  if (denial) view.denial = denial;
  if (grant) view.grant = grant;
  if (messages) view.messages = messages;
  const bundle = request.partOf === undefined ? deps.catalog.bundles?.get(request.database) : undefined;
  if (bundle) {
    const members = await store.listRequests({ partOf: request.id });
    if (bundle.description !== undefined) view.database.description = bundle.description;
    view.bundle = {
      name: bundle.name,
      entries: bundle.members,
      members: await Promise.all(members.map((m) => loadRequestView(deps, m.id, { insideBundle: true }))),
    };
    if (request.status === 'approved') view.phase = bundlePhase(view.bundle.members);
  }
  if (request.partOf !== undefined && !known.insideBundle) view.partOf = await loadRequestView(deps, request.partOf);
  if (
    grant &&
    (grant.status === 'revoked' || grant.status === 'failed') &&
    known.receipt &&
    known.grant?.id === grant.id
  ) {
    view.receipt = known.receipt;
  } else if (grant && (grant.status === 'revoked' || grant.status === 'failed')) {
    const row = (await store.listAudit({ grantId: grant.id, type: 'grant.revoked' }))[0];
    if (row) {
      const d = row.detail as {
        sessionsTerminated?: number;
        user?: 'dropped' | 'already_absent';
        reason?: string;
        activity?: GrantActivity;
      };
      view.receipt = {
        at: row.at,
        sessionsTerminated: d.sessionsTerminated ?? 0,
        userOutcome: d.user ?? 'dropped',
        reason: d.reason ?? grant.endReason ?? 'ended',
        ...(d.activity && { activity: d.activity }),
      };
    }
  }
  return view;
}

/**
 * The view of a request a use case has just returned: one just opened for the approvers (pending, not an extension)
 * has no decision and no grant yet, so its view needs no read; any other is read.
 */
export function viewOfReturned(
  deps: Pick<CoreDeps, 'store' | 'catalog' | 'clock'>,
  request: AccessRequest,
): Promise<RequestView> {
  const fresh = request.status === 'pending' && request.extendsGrantId === undefined;
  return loadRequestView(deps, request.id, fresh ? { grant: null, ahead: Promise.resolve([request, []]) } : {});
}

/**
 * Builds the view and hands it to a notifier method; a failure is logged, never thrown into the lifecycle. Returns
 * the view it built (undefined when it could not be built), so a use case can hand it on instead of reading again.
 */
export async function notify(
  deps: CoreDeps,
  requestId: RequestId,
  send: (view: RequestView) => Promise<void>,
  known?: KnownState,
): Promise<RequestView | undefined> {
  let view: RequestView | undefined;
  try {
    view = await loadRequestView(deps, requestId, known);
    await send(view);
  } catch (err) {
    deps.logger.warn({ requestId, err: err instanceof Error ? err.message : String(err) }, 'notification failed');
  }
  return view;
}
