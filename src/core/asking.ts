/** Use cases that ask for access: validate, request (or ask to extend), the policy's own approvals (auto-approval,
 *  break-glass), an administrator's direct grant. */
import { finishAction, receivedDetail, type ActionContext } from './action-context.js';
import { databaseOf, type CoreDeps } from './deps.js';
import { formatDuration, parseDuration } from './duration.js';
import { BrokerError } from './errors.js';
import { getGrant } from './grant-access.js';
import { autoApprovalsUsed, budgetUsed, decideAutomatically, type NamedIncident } from './auto-approve.js';
import type { ApprovalScope, Bundle, DatabaseEntry } from './catalog.js';
import { assertRoomForMembers, bundlePendingLimit, validateBundleRequest } from './bundles.js';
import { incidentOfTicket } from './incident-ticket.js';
import { LIVE_GRANT_STATUSES, type AccessRequest, type Actor, type ApproverRef, type Grant } from './model.js';
import { isRequester, personKey } from './policy.js';
import type { NewRequest, StateStore } from './ports.js';
import { auditingRefusals } from './refusals.js';
import { cleanLine, cleanText } from './text.js';
import { notify } from './view.js';
import { assertRoomFor, enqueueProvision, grantRowFor } from './granting.js';
import type { GrantId } from './model.js';
import { trySelfExtension } from './self-extension.js';

export interface RequestInput {
  database: string;
  level: string;
  /** "1h", "30m" … or milliseconds. */
  duration: string | number;
  reason: string;
  ticket?: string;
  /** A PagerDuty incident id (or `og:<Opsgenie alert id>`): the grant also ends when the incident resolves. */
  incident?: string;
}

export interface RequestOptions {
  /** Immediate access for a listed break-glass user; alerted and reviewed afterwards. */
  breakGlass?: boolean;
  /** A chat action from the inbox: its row is finished in the transaction that opens the request. */
  action?: ActionContext;
  /**
   * Who the access is for, when someone asks on their behalf (`… for @person`): the chat edge's resolution of the
   * person named, which throws a BrokerError (FORBIDDEN) for anyone who is not a person of this organisation. Called
   * after the asker's rate is taken, inside the refusal audit. They become the request's requester (holder of the
   * grant, counted by the limits and the rate) and the asker is recorded as `askedBy`; neither may approve. The
   * asker themselves (`for @me`) makes an ordinary request.
   */
  beneficiary?: () => Promise<Actor>;
}

/** A PagerDuty incident id, or `og:` and an Opsgenie alert id. */
const INCIDENT_ID = /^(?:[A-Z0-9]{5,20}|og:[0-9a-f][0-9a-f-]{7,59})$/;

export interface ValidRequest {
  database: string;
  level: string;
  durationMs: number;
  reason: string;
  ticket?: string;
}

export const MAX_REASON_LENGTH = 500;
export const MAX_TICKET_LENGTH = 200;

function parseRequestedDuration(duration: string | number): number {
  const ms = typeof duration === 'number' ? duration : parseDuration(duration);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new BrokerError('INVALID_INPUT', `duration "${String(duration)}" is not a duration such as 30m or 2h`, {
      field: 'duration',
    });
  }
  return ms;
}

/** Reasons and tickets are stored, audited and shown to others: bidi and control characters never reach them. */
function validReason(reason: string): string {
  const text = cleanText(reason).trim();
  if (!text) throw new BrokerError('INVALID_INPUT', 'a reason is required', { field: 'reason' });
  if (text.length > MAX_REASON_LENGTH) {
    throw new BrokerError('INVALID_INPUT', `the reason is longer than ${MAX_REASON_LENGTH} characters`, {
      field: 'reason',
    });
  }
  return text;
}

/** Checks a request against the catalog. Throws a BrokerError naming the field; touches nothing. */
export function validateRequest(deps: Pick<CoreDeps, 'catalog'>, input: RequestInput): ValidRequest {
  const db = databaseOf(deps.catalog, input.database);
  if (input.level === '')
    throw new BrokerError('UNKNOWN_LEVEL', `name a level for ${db.name}: ${[...db.levels.keys()].join(', ')}`, {
      field: 'level',
      valid: [...db.levels.keys()],
    });
  if (!db.levels.has(input.level)) {
    throw new BrokerError('UNKNOWN_LEVEL', `unknown level "${input.level}" for ${db.name}`, {
      field: 'level',
      valid: [...db.levels.keys()],
    });
  }
  const durationMs = parseRequestedDuration(input.duration);
  if (durationMs > db.maxDuration) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `duration ${formatDuration(durationMs)} is longer than ${db.name}'s maximum of ${formatDuration(db.maxDuration)}`,
      { field: 'duration' },
    );
  }
  const reason = validReason(input.reason);
  const ticket = (input.ticket !== undefined && cleanLine(input.ticket).trim()) || undefined;
  if (ticket && ticket.length > MAX_TICKET_LENGTH) {
    throw new BrokerError('INVALID_INPUT', `the ticket is longer than ${MAX_TICKET_LENGTH} characters`, {
      field: 'ticket',
    });
  }
  return { database: db.name, level: input.level, durationMs, reason, ...(ticket && { ticket }) };
}

/** A request as a form files it: for a database (validateRequest) or for a bundle (its members' checks). */
export function validateAnyRequest(deps: Pick<CoreDeps, 'catalog'>, input: RequestInput): ValidRequest {
  const bundle = deps.catalog.bundles?.get(input.database);
  return bundle ? validateBundleRequest(deps.catalog, bundle, input) : validateRequest(deps, input);
}

/** Resolves who may approve; refuses at once when nobody can (rather than leaving a request nobody sees). */
async function resolveApprovers(
  deps: CoreDeps,
  db: ApprovalScope,
): Promise<{ approvers: ApproverRef[]; unavailable: string[] }> {
  if (db.approval.approvers.length === 0) {
    throw new BrokerError(
      'FORBIDDEN',
      `${db.name} has no approvers configured; ask an administrator (db-access grant)`,
    );
  }
  const res = await deps.approvers.resolve(db);
  if (res.approvers.length === 0) {
    const why = res.unavailable.length ? ` (unavailable: ${res.unavailable.join('; ')})` : '';
    throw new BrokerError('FORBIDDEN', `nobody could be found to approve access to ${db.name}${why}`);
  }
  return res;
}

/** A request for the approvers. `bundle`: it names a bundle (row.database is its name), whose members are checked
 *  against the person's limits now and again, under their lock, when it is approved. */
export async function openRequest(
  deps: CoreDeps,
  row: Omit<NewRequest, 'approvers' | 'status' | 'createdAt' | 'requiredApprovals'>,
  policyNotes: string[] = [],
  act?: ActionContext,
  bundle?: Bundle,
): Promise<AccessRequest> {
  const db: ApprovalScope & { limits: Pick<DatabaseEntry['limits'], 'pendingRequestsPerPerson'> } = bundle
    ? { ...bundle, limits: { pendingRequestsPerPerson: bundlePendingLimit(deps.catalog, bundle) } }
    : databaseOf(deps.catalog, row.database);
  const { approvers, unavailable } = await resolveApprovers(deps, db);
  const now = deps.clock.now();
  const firstTier = db.approval.escalation[0];
  const req = await deps.store.transaction(async (tx) => {
    await assertFewPending(tx, db, row.requester, row.askedBy && row.requester);
    if (bundle)
      await assertRoomForMembers(tx, deps.catalog, bundle, row.requester, whoIs(row.askedBy && row.requester).you);
    const created = await tx.createRequest({
      ...row,
      status: 'pending',
      requiredApprovals: bundle
        ? bundle.approval.required
        : (deps.catalog.databases.get(row.database)?.levels.get(row.level)?.required ?? db.approval.required),
      createdAt: now,
      approvers,
      decideBy: now + db.approval.timeoutMs,
      tier: 0,
      ...(firstTier && { nextEscalationAt: now + firstTier.afterMs }),
      ...(unavailable.length > 0 && { unavailableSources: unavailable }),
    });
    await tx.appendAudit([
      {
        at: now,
        type: 'request.created',
        actor: row.askedBy ?? row.requester,
        requestId: created.id,
        ...(created.extendsGrantId !== undefined && { grantId: created.extendsGrantId }),
        database: created.database,
        level: created.level,
        detail: {
          durationMs: created.durationMs,
          reason: created.reason,
          ticket: created.ticket ?? null,
          extendsGrantId: created.extendsGrantId ?? null,
          approvers: approvers.map((a) => a.email ?? a.id),
          unavailable,
          incident: created.incidentId ?? null,
          ...(bundle && { bundle: bundle.name, members: bundle.members.map((m) => ({ ...m })) }),
          requester: personRef(row.askedBy ?? row.requester),
          beneficiary: personRef(row.requester),
          ...(policyNotes.length > 0 && { autoApprove: policyNotes }),
          ...receivedDetail(act),
        },
      },
    ]);
    await finishAction(tx, act, `request #${created.id} opened`, now);
    return created;
  });
  // Just written: no approvals, no grant (the view need not read them).
  await notify(deps, req.id, (v) => deps.notifier.requestOpened(v), { grant: null, ahead: Promise.resolve([req, []]) });
  return { ...req, autoApproveNotes: policyNotes };
}

/**
 * A request, routed by the database's policy: the same level already held → an extension of that grant; over the
 * per-person limit → refused; break-glass → granted at once, alerted, to be reviewed; an auto-approve rule that
 * fits → approved at once, saying which rule; otherwise → the approvers (and later escalation tiers) decide.
 */
export async function requestAccess(
  deps: CoreDeps,
  requester: Actor,
  input: RequestInput,
  opts: RequestOptions = {},
): Promise<AccessRequest> {
  const what = { action: opts.breakGlass ? 'break-glass' : 'request', database: input.database, level: input.level };
  return auditingRefusals(
    deps,
    requester,
    what,
    async () => {
      // The asker's own bucket first: someone flooding another person with requests is stopped by their own rate
      // before they can spend the other person's (or make a single directory lookup).
      await admit(deps, requester, opts.action);
      const forWhom = opts.beneficiary && (await opts.beneficiary());
      const other = forWhom && !isRequester(requester, { requester: forWhom }) ? forWhom : undefined;
      if (other) await admit(deps, other, opts.action, other);
      return routeRequest(deps, requester, input, opts, other);
    },
    opts.action,
  );
}

/** How refusals name the person the access is for: "you", or them. */
function whoIs(beneficiary: Actor | undefined): { you: string; hold: string; have: string; your: string } {
  if (!beneficiary) return { you: 'you', hold: 'you already hold', have: 'you already have', your: 'your' };
  const name = beneficiary.name ?? beneficiary.email ?? beneficiary.id;
  return { you: name, hold: `${name} already holds`, have: `${name} already has`, your: `${name}'s` };
}

/** `beneficiary`: the person the access is for when not `asker` (they hold it; the asker is recorded). */
async function routeRequest(
  deps: CoreDeps,
  asker: Actor,
  input: RequestInput,
  opts: RequestOptions,
  beneficiary?: Actor,
): Promise<AccessRequest> {
  const bundle = deps.catalog.bundles?.get(input.database);
  if (bundle) return requestBundle(deps, asker, bundle, input, opts, beneficiary);
  const valid = validateRequest(deps, input);
  const db = databaseOf(deps.catalog, valid.database);
  const act = opts.action;
  if (opts.breakGlass && beneficiary)
    throw new BrokerError('FORBIDDEN', 'break-glass access is only ever for yourself; ask for someone else normally');
  const requester = beneficiary ?? asker;
  const incident = await namedIncident(deps, input, valid, requester);
  const scope = incident?.unmatched ? undefined : incident;
  const url = scope?.info?.url;
  const row = {
    ...valid,
    requester,
    ...(beneficiary && { askedBy: asker }),
    ...(scope && { incidentId: scope.id }),
    ...(url && { incidentUrl: url }),
  };
  // An incident that could not be read still scopes the access (the sweeper keeps asking); approvers are told.
  const notes = scope?.error ? [`incident ${scope.id} could not be read: ${scope.error}`] : [];
  if (opts.breakGlass) return breakGlass(deps, db, row, act);

  const who = whoIs(beneficiary);
  const live = await deps.store.listGrants({ statuses: LIVE_GRANT_STATUSES, database: db.name, heldBy: requester });
  const same = live.find((g) => g.level === valid.level && g.status !== 'revoking');
  if (same?.status === 'active')
    return openExtension(deps, requester, same.id, valid.durationMs, valid.reason, act, beneficiary && asker);
  if (same) {
    throw new BrokerError(
      'FORBIDDEN',
      `${who.your} ${valid.level} access to ${db.name} (grant #${same.id}) is being set up; once it is active, ask to extend it instead`,
    );
  }
  if (live.length >= db.limits.activeGrantsPerPerson) {
    throw new BrokerError(
      'FORBIDDEN',
      `${who.hold} ${live.length} live grant(s) on ${db.name} (the limit is ${db.limits.activeGrantsPerPerson}); end one first`,
    );
  }

  // Access nobody asked for themselves is always decided by a person: a rule about the requester (on call, in a
  // group, responding to an incident) says nothing about whoever asked for them.
  if (beneficiary)
    return openRequest(deps, row, [...notes, 'asked for someone else: auto-approval does not apply'], act);
  const auto = await decideAutomatically(deps, db, requester, valid.level, valid.durationMs, act?.receivedAt, incident);
  if (auto.approved) {
    let req: AccessRequest;
    try {
      const budget = { rule: auto.rule, limit: auto.budget };
      req = await openApproved(
        deps,
        { ...row, tier: 0, breakGlass: false },
        auto.explanation,
        'request.auto_approved',
        { rule: auto.rule + 1, ...(auto.respondingTo && { respondingTo: auto.respondingTo }) },
        act,
        budget,
      );
    } catch (err) {
      // Spent by a request of the same person that committed first: this one goes to people, saying so.
      if (!(err instanceof BudgetSpent)) throw err;
      return openRequest(deps, row, [...notes, err.message], act);
    }
    const channel = auto.respondingTo ? incident?.info?.slackChannel : undefined;
    if (channel) await notify(deps, req.id, (v) => deps.notifier.incidentAccessGranted(v, channel));
    return req;
  }
  return openRequest(deps, row, [...notes, ...auto.reasons], act);
}

/** The incident a request names: as an id (`pd:`, a PagerDuty URL, `og:`, the Slack form's choice) or, failing
 *  that, as its number in the ticket (`INC-<n>`, among `requester`'s open incidents: incident-ticket.ts). */
async function namedIncident(
  deps: CoreDeps,
  input: RequestInput,
  valid: ValidRequest,
  requester: Actor,
): Promise<NamedIncident | undefined> {
  if (input.incident) return checkIncident(deps, input.incident);
  const byNumber = await incidentOfTicket(deps, valid.ticket, requester);
  if (byNumber?.unmatched !== undefined) return { id: valid.ticket!, unmatched: byNumber.unmatched };
  return checkIncident(deps, byNumber?.id);
}

/**
 * The incident a request names: its id checked, and what its source says about it. A source that does not answer
 * is not a refusal (the access is still scoped to the incident; no rule that needs the incident approves); an
 * incident the source says does not exist, or that has resolved, is.
 */
async function checkIncident(deps: CoreDeps, incident: string | undefined): Promise<NamedIncident | undefined> {
  if (!incident) return undefined;
  const id = incident
    .trim()
    .replace(/^.*\/incidents\//, '')
    .replace(/[/?#].*$/, '');
  if (!INCIDENT_ID.test(id))
    throw new BrokerError('INVALID_INPUT', `"${incident}" is not a PagerDuty incident id or og:<Opsgenie alert id>`, {
      field: 'incident',
    });
  if (!deps.incidents)
    throw new BrokerError(
      'INVALID_INPUT',
      'incident-scoped access needs PagerDuty or Opsgenie (PAGERDUTY_TOKEN, OPSGENIE_API_KEY)',
      {
        field: 'incident',
      },
    );
  let info;
  try {
    info = await deps.incidents.incident(id);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof Error && (err as Error & { notFound?: unknown }).notFound === true)
      throw new BrokerError('INVALID_INPUT', `incident ${id} could not be read: ${message}`, { field: 'incident' });
    return { id, error: message };
  }
  if (info.status === 'resolved')
    throw new BrokerError('INVALID_INPUT', `incident ${id} is already resolved`, { field: 'incident' });
  return { id, info };
}

/** Break-glass: a listed user, a reason, a short cap; access now, an alert, and a review that is chased if ignored. */
async function breakGlass(
  deps: CoreDeps,
  db: DatabaseEntry,
  row: Omit<NewRequest, 'approvers' | 'status' | 'createdAt' | 'requiredApprovals'>,
  act?: ActionContext,
): Promise<AccessRequest> {
  const bg = db.approval.breakGlass;
  if (!bg) throw new BrokerError('FORBIDDEN', `${db.name} has no break-glass procedure`);
  const email = row.requester.email?.toLowerCase();
  if (!email || !bg.users.includes(email))
    throw new BrokerError('FORBIDDEN', `you are not on ${db.name}'s break-glass list`);
  if (row.durationMs > bg.maxDurationMs) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `break-glass access is capped at ${formatDuration(bg.maxDurationMs)} on ${db.name}`,
      { field: 'duration' },
    );
  }
  const now = deps.clock.now();
  const req = await openApproved(
    deps,
    { ...row, tier: 0, breakGlass: true, reviewBy: now + bg.reviewWithinMs },
    `break-glass by ${row.requester.name ?? email}: review due by ${new Date(now + bg.reviewWithinMs).toISOString()}`,
    'request.break_glass',
    { reviewBy: now + bg.reviewWithinMs },
    act,
  );
  await notify(deps, req.id, (v) => deps.notifier.breakGlassUsed(v));
  return req;
}

/** The auto-approval budget was spent by the time the approving transaction held the person's lock. */
class BudgetSpent extends Error {}

/** A request approved by policy (auto-approval, break-glass): request, grant row and audit in one transaction. */
async function openApproved(
  deps: CoreDeps,
  row: Omit<NewRequest, 'approvers' | 'status' | 'createdAt' | 'requiredApprovals'>,
  note: string,
  auditType: 'request.auto_approved' | 'request.break_glass',
  detail: Record<string, unknown>,
  act?: ActionContext,
  budget?: { rule: number; limit: number },
): Promise<AccessRequest> {
  const now = deps.clock.now();
  const db = databaseOf(deps.catalog, row.database);
  const { req, grant } = await deps.store.transaction(async (tx) => {
    // Break-glass is for when the rules are in the way: it is capped by its own duration and reviewed instead.
    if (!row.breakGlass) await assertRoomFor(tx, db, row.requester, row.level, 'you');
    // Counted again under the person's lock (assertRoomFor took it): concurrent requests cannot both take the last one.
    if (budget) {
      const used = await autoApprovalsUsed(tx, now, db, row.requester);
      if (used >= budget.limit) throw new BudgetSpent(budgetUsed(budget.rule, used, budget.limit));
    }
    const created = await tx.createRequest({
      ...row,
      status: 'approved',
      requiredApprovals: 0,
      createdAt: now,
      decidedAt: now,
      decisionNote: note,
      approvers: [],
    });
    const g = await tx.createGrant(grantRowFor(created, now));
    await tx.appendAudit([
      {
        at: now,
        type: auditType,
        actor: row.requester,
        requestId: created.id,
        grantId: g.id,
        database: db.name,
        level: created.level,
        detail: {
          ...detail,
          note,
          requester: row.requester,
          durationMs: created.durationMs,
          reason: created.reason,
          username: g.username,
          expiresAt: g.expiresAt,
          incident: created.incidentId ?? null,
          ...receivedDetail(act),
        },
      },
    ]);
    await finishAction(tx, act, `request #${created.id} approved by policy`, now);
    return { req: created, grant: g };
  });
  await enqueueProvision(deps, grant.id);
  await notify(deps, req.id, (v) => deps.notifier.requestOpened(v));
  // The user may have been made while the approval message was being posted: its activation then found no message
  // to update. Rendered again from the state DB now (a no-op unless newer than what was posted: message versions).
  await notify(deps, req.id, (v) => deps.notifier.requestChanged(v));
  return req;
}

/** Asks to extend one's own active grant: applied at once when the database's self-extension policy allows it
 *  (self-extension.ts), else approved like a request, then applied with `extend`. */
export async function requestExtension(
  deps: CoreDeps,
  requester: Actor,
  grantId: GrantId,
  duration: string | number,
  reason: string,
  act?: ActionContext,
): Promise<AccessRequest> {
  return auditingRefusals(
    deps,
    requester,
    { action: 'extend', grantId },
    async () => {
      await admit(deps, requester, act);
      return openExtension(deps, requester, grantId, duration, reason, act);
    },
    act,
  );
}

/** `askedBy`: who asked, when it was not the grant's holder (`requester`) but someone on their behalf. */
async function openExtension(
  deps: CoreDeps,
  requester: Actor,
  grantId: GrantId,
  duration: string | number,
  reason: string,
  act?: ActionContext,
  askedBy?: Actor,
): Promise<AccessRequest> {
  const grant = await getGrant(deps, grantId);
  if (!isRequester(requester, grant)) throw new BrokerError('FORBIDDEN', `grant #${grantId} is not yours to extend`);
  if (grant.status !== 'active')
    throw new BrokerError('ALREADY_DECIDED', `grant #${grantId} is ${grant.status}, not active`);
  const durationMs = parseRequestedDuration(duration);
  const db = databaseOf(deps.catalog, grant.database);
  const remaining = Math.max(grant.expiresAt, deps.clock.now()) + durationMs - deps.clock.now();
  if (remaining > db.maxDuration) {
    throw new BrokerError(
      'DURATION_TOO_LONG',
      `that would leave ${formatDuration(remaining)}, more than ${db.name}'s maximum of ${formatDuration(db.maxDuration)}`,
      { field: 'duration' },
    );
  }
  const why = validReason(reason);
  const applied = await trySelfExtension(deps, requester, grantId, durationMs, why, act);
  if (applied) return applied;
  const original = await deps.store.getRequest(grant.requestId);
  return openRequest(
    deps,
    {
      requester,
      ...(askedBy && { askedBy }),
      database: grant.database,
      level: grant.level,
      durationMs,
      reason: why,
      extendsGrantId: grantId,
      ...(original?.ticket !== undefined && { ticket: original.ticket }),
    },
    [],
    act,
  );
}

/**
 * Commands per person are rate-limited across replicas (one bucket per person, whichever platform they use). A
 * request for someone else takes from the asker's bucket and from theirs (`beneficiary`): many people cannot
 * flood one person with requests either.
 */
async function admit(deps: CoreDeps, person: Actor, act?: ActionContext, beneficiary?: Actor): Promise<void> {
  // An action processed again after a crash was admitted when it first arrived.
  if (!deps.requestLimiter || (act && act.attempt > 1)) return;
  const { allowed, retryAfterMs } = await deps.requestLimiter.take(`requests:${personKey(person)}`);
  if (!allowed) {
    const wait = formatDuration(Math.max(1_000, retryAfterMs));
    throw new BrokerError(
      'RATE_LIMITED',
      beneficiary
        ? `too many requests for ${whoIs(beneficiary).you} in a short time; try again in ${wait}`
        : `you have sent too many requests in a short time; try again in ${wait}`,
    );
  }
}

/** Under the requester's lock: pending requests on this database stay under the catalog's cap. `beneficiary`: the
 *  requester, when someone else asked for them (named in the refusal). */
async function assertFewPending(
  tx: StateStore,
  db: { name: string; limits: Pick<DatabaseEntry['limits'], 'pendingRequestsPerPerson'> },
  requester: Actor,
  beneficiary?: Actor,
): Promise<void> {
  await tx.lockPerson(personKey(requester));
  const pending = await tx.listRequests({ statuses: ['pending'], database: db.name, requestedBy: requester });
  if (pending.length >= db.limits.pendingRequestsPerPerson) {
    throw new BrokerError(
      'FORBIDDEN',
      `${whoIs(beneficiary).have} ${pending.length} request(s) waiting on ${db.name} (the limit is ${db.limits.pendingRequestsPerPerson}); wait for a decision first`,
    );
  }
}

/**
 * A bundle: one request for all its members, always decided by the bundle's approvers (no auto-approval, no
 * break-glass, no incident scope). Refused at once when any member could not be given now.
 */
async function requestBundle(
  deps: CoreDeps,
  asker: Actor,
  bundle: Bundle,
  input: RequestInput,
  opts: RequestOptions,
  beneficiary?: Actor,
): Promise<AccessRequest> {
  if (opts.breakGlass) throw new BrokerError('FORBIDDEN', `break-glass is per database; ${bundle.name} is a bundle`);
  if (input.incident !== undefined)
    throw new BrokerError('INVALID_INPUT', `a bundle's access is not scoped to an incident; ask without it`, {
      field: 'incident',
    });
  const valid = validateBundleRequest(deps.catalog, bundle, input);
  const requester = beneficiary ?? asker;
  return openRequest(
    deps,
    { ...valid, requester, ...(beneficiary && { askedBy: asker }) },
    beneficiary ? ['asked for someone else'] : [],
    opts.action,
    bundle,
  );
}

/** A person as the audit names them: their email, or their platform id. */
function personRef(a: Actor): string {
  return a.email ?? `${a.platform}:${a.id}`;
}

/**
 * An administrator issues access directly (runbooks, automation): request, approval and grant row in one
 * transaction, audited as an admin grant. The caller provisions inline and hands the credentials over once.
 */
export async function createAdminGrant(
  deps: CoreDeps,
  admin: Actor,
  grantee: Actor,
  input: RequestInput,
): Promise<{ request: AccessRequest; grant: Grant }> {
  const valid = validateRequest(deps, input);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const note = `issued by administrator ${admin.name ?? admin.id}`;
    const request = await tx.createRequest({
      ...valid,
      requester: grantee,
      status: 'approved',
      requiredApprovals: 0,
      createdAt: now,
      decidedAt: now,
      decisionNote: note,
      approvers: [],
    });
    await tx.recordApproval({ requestId: request.id, approver: admin, decision: 'approve', at: now, note });
    const grant = await tx.createGrant(grantRowFor(request, now));
    await tx.appendAudit([
      {
        at: now,
        type: 'grant.admin_issued',
        actor: admin,
        requestId: request.id,
        grantId: grant.id,
        database: valid.database,
        level: valid.level,
        detail: {
          grantee: grantee.email ?? grantee.id,
          durationMs: valid.durationMs,
          reason: valid.reason,
          ticket: valid.ticket ?? null,
          username: grant.username,
          expiresAt: grant.expiresAt,
        },
      },
    ]);
    return { request, grant };
  });
}
