/**
 * The core's ports: one per outside system, request/response shaped. Adapters implement them; the core never
 * imports an adapter (enforced by eslint). Contracts are stated on each method and checked by test/contract.
 */
import type { AccessLevel, ApprovalScope, DatabaseEntry, EngineName, OnCallRef } from './catalog.js';
import type { Credentials } from './credentials.js';
import type { RequestView } from './view.js';
import type {
  AccessRequest,
  Actor,
  Approval,
  ApproverRef,
  AuditEvent,
  Grant,
  GrantId,
  GrantActivity,
  GrantStatus,
  RequestId,
  RequestStatus,
  StatementSummary,
  SelfExtension,
} from './model.js';

export interface Clock {
  /** Epoch milliseconds. The only source of time for the core. */
  now(): number;
}

/** The pino subset the core uses. Never pass a secret in `obj`. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

// ---------------------------------------------------------------------------------------------------------------
// Target databases (Vault dbplugin v5 is the model)
// ---------------------------------------------------------------------------------------------------------------

export interface EngineCheck {
  /** Short name: "connect", "read-only", "create users", "kill sessions", "role orders_read", "event scheduler". */
  name: string;
  ok: boolean;
  /** Plain words: what works, or what is missing. */
  detail: string;
  /** The exact statement a DBA runs to fix it, when there is one. */
  fix?: string;
  /** A failed check with severity 'warning' does not stop the broker from working. */
  severity: 'error' | 'warning';
}

export interface EngineCapabilities {
  engine: EngineName;
  flavour: 'postgresql' | 'mysql' | 'mariadb';
  serverVersion: string;
  readOnly: boolean;
  /** What expires the user when the broker is down: PostgreSQL VALID UNTIL, a MySQL EVENT, or nothing. */
  expiryBackstop: 'valid_until' | 'event' | 'none';
  checks: EngineCheck[];
}

export interface NewUserRequest {
  /** Idempotency key, also written into the user's marker. */
  grantId: number;
  /** Generated and persisted by the broker before the call: /^jit_[a-z0-9_]{1,26}$/. */
  username: string;
  /** [A-Za-z0-9]{32,}. PostgreSQL receives only a SCRAM-SHA-256 verifier of it. Absent: the user is created (or
   *  adopted) with no usable password — PostgreSQL `PASSWORD NULL`, MySQL/MariaDB an authentication string no
   *  password matches — and can log in only once updateUser sets one (the reveal). */
  password?: string;
  expiresAt: number;
  level: AccessLevel;
}

export interface NewUserResponse {
  /** adopted = a leftover of the same grant (a crash after CREATE): converged, password reset (or removed). */
  outcome: 'created' | 'adopted';
}

export interface UpdateUserRequest {
  grantId: number;
  username: string;
  newPassword?: string;
  newExpiresAt?: number;
}

export interface DisableUserResponse {
  /** Sessions of the user that were terminated. */
  sessionsTerminated: number;
  /** false when the user did not exist (already dropped): success, nothing to do. */
  existed: boolean;
}

export interface DeleteUserResponse {
  outcome: 'dropped' | 'already_absent';
}

export interface ManagedUser {
  username: string;
  /** From the marker the user cannot edit. */
  grantId: number;
  expiresAt?: number;
  sessions: number;
}

/** A session of a managed user as the server reports it (DatabaseEngine.observeSessions). Never statement text. */
export interface ObservedSession {
  username: string;
  /** Stable for the session's life on its server: PostgreSQL "<pid>@<backend_start ms>", MySQL/MariaDB the
   *  connection id. */
  sessionKey: string;
  /** When the session started (PostgreSQL backend_start; MySQL/MariaDB now − TIME, to the second). */
  startedAt?: number;
  /** Client IP address; 'local' for a Unix socket. */
  clientAddress?: string;
  /** PostgreSQL application_name; MySQL/MariaDB connection attribute program_name where performance_schema is on. */
  application?: string;
  /** PostgreSQL state (active, idle …); MySQL/MariaDB COMMAND (Query, Sleep …). */
  state?: string;
}

export interface DatabaseEngine {
  readonly engine: EngineName;
  /** Connect; report version, read-only state, privileges and capabilities in plain words. Never throws for a
   *  missing privilege: that is a failed check. Throws TargetError('retryable') when the server is unreachable. */
  initialize(): Promise<EngineCapabilities>;
  /** Create each user with its marker, access level, guard-rails and expiry backstop, in one DDL section for the
   *  engine (one lock, one commit), so a burst of approvals costs a few statements instead of a few per user.
   *  Idempotent on grantId: a leftover user whose marker carries the same grant is adopted (password reset, access
   *  re-applied); a user with that name and any other marker or none is refused with TargetError('conflict') and
   *  left untouched. The map, keyed by username, has an entry for every request given: its response, or the error
   *  that user alone failed with while the others proceed. Throws only when nothing could be done (server down:
   *  TargetError('retryable')). */
  newUsers(reqs: readonly NewUserRequest[]): Promise<Map<string, NewUserResponse | Error>>;
  /** Rotate the password and/or move the expiry (VALID UNTIL, backstop event, marker). Refuses a user that is
   *  not this grant's with TargetError('conflict'). */
  updateUser(req: UpdateUserRequest): Promise<void>;
  /** The first step of ending access, for many users in one DDL section (one lock, one commit, one session
   *  sweep): block new logins (NOLOGIN / ACCOUNT LOCK), then terminate every session of each user, waiting until
   *  none is left. A user that does not exist is success (existed: false). The map has an entry for every name
   *  given: its response, or the error that user alone failed with (e.g. not ours: TargetError('conflict')) while
   *  the others proceed. Throws only when nothing could be done (server down). */
  disableUsers(usernames: readonly string[]): Promise<Map<string, DisableUserResponse | Error>>;
  /** The second step, after disableUsers: drop each user and everything it holds — PostgreSQL drops its
   *  privileges and the objects it owns in every database, first handing those objects to the level's onExpiry
   *  role when its marker names one (recorded at creation), never to any other role; the backstop event and marker
   *  go too. A user already gone is success (outcome already_absent). Per-user results as for disableUsers. */
  deleteUsers(usernames: readonly string[]): Promise<Map<string, DeleteUserResponse | Error>>;
  /** Users carrying the broker's prefix and marker, for the orphan sweep. */
  listManagedUsers(): Promise<ManagedUser[]>;
  /** Every session, on the whole server, of these users (allow-listed names; others are ignored), in ONE query
   *  whatever their number: the sweeper samples each server once per pass for all its live grants. Throws
   *  TargetError('retryable') when the server cannot be asked. */
  observeSessions(usernames: readonly string[]): Promise<ObservedSession[]>;
  /** What these users ran, from the server's statement statistics (PostgreSQL pg_stat_statements in this database,
   *  MySQL/MariaDB performance_schema), read before they are dropped: an entry for every name given, only
   *  normalised statement text, never a literal. Statistics the server does not keep are `{ available: false, why }`,
   *  not an error; throws only when the server cannot be asked. */
  statementSummaries(usernames: readonly string[]): Promise<Map<string, StatementSummary>>;
  close(): Promise<void>;
}

/** Admission of commands per person (a token bucket shared by every replica). */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket: allowed, or refused with how long until the next token. Never throws:
   *  when the limiter cannot be asked it admits (and logs), since refusing everyone would block incident access. */
  take(key: string): Promise<{ allowed: boolean; retryAfterMs: number }>;
}

/** Maps a catalog database name to its engine. Engines for the same server share DDL serialisation. */
export interface EngineRegistry {
  get(database: string): DatabaseEngine;
  /** Distinct engines, one per catalog database. */
  all(): Array<{ database: string; engine: DatabaseEngine }>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// State store: the source of truth
// ---------------------------------------------------------------------------------------------------------------

export type NewRequest = Omit<AccessRequest, 'id' | 'tier' | 'breakGlass'> &
  Partial<Pick<AccessRequest, 'tier' | 'breakGlass'>>;
export type NewGrant = Pick<
  Grant,
  'requestId' | 'requester' | 'database' | 'level' | 'username' | 'createdAt' | 'expiresAt'
>;

/** Columns of a grant that a transition or patch may set. `null` clears an optional column. */
export type GrantPatch = {
  [
    K in Exclude<
      keyof Grant,
      'id' | 'requestId' | 'requester' | 'database' | 'level' | 'username' | 'createdAt' | 'selfExtensions'
    >
  ]?: Grant[K] | null;
};

export interface SelfExtendCondition {
  from: number;
  to: number;
  below: number;
  maxLifetimeMs: number;
}

export interface GrantFilter {
  statuses?: readonly GrantStatus[];
  requesterId?: string;
  /**
   * Grants this person requested, as `isRequester` decides it: the same platform account, or the same email
   * (case-insensitive) from any platform. Filtered by the store, so a person's check does not read everyone's grants.
   */
  heldBy?: Pick<Actor, 'platform' | 'id' | 'email'>;
  database?: string;
  /** expiresAt <= this */
  expiresAtOrBefore?: number;
  /** createdAt <= this */
  createdAtOrBefore?: number;
  /** Access held at some moment of [since, until): activated before `until`, not revoked before `since`. */
  heldDuring?: { since: number; until: number };
  ids?: readonly number[];
  limit?: number;
}

export interface RequestFilter {
  statuses?: readonly RequestStatus[];
  requesterId?: string;
  /** Requests this person made, as `isRequester` decides it (same account, or same email from any platform). */
  requestedBy?: Pick<Actor, 'platform' | 'id' | 'email'>;
  database?: string;
  /** decideBy <= this */
  decideByOrBefore?: number;
  /** nextEscalationAt <= this */
  nextEscalationAtOrBefore?: number;
  /** Break-glass requests not reviewed whose reviewBy <= this and not yet escalated. */
  reviewOverdueAt?: number;
  /** Only requests scoped to an incident. */
  withIncident?: boolean;
  createdAtOrAfter?: number;
  ids?: readonly number[];
  /** The member requests of this bundle request. */
  partOf?: RequestId;
  limit?: number;
}

export interface AuditFilter {
  grantId?: GrantId;
  requestId?: RequestId;
  type?: string;
  /** at >= since */
  since?: number;
  /** at < until */
  until?: number;
  /** id > afterId (paging, streaming) */
  afterId?: number;
  limit?: number;
}

/** A session seen by a sweep, for StateStore.recordSessions (text already cleaned and cut by the core). */
export interface SeenSession {
  grantId: GrantId;
  sessionKey: string;
  startedAt?: number;
  clientAddress?: string;
  application?: string;
}

/** Sessions kept per grant; more are counted (GrantActivity.sessionsDropped), not described. */
export const MAX_SESSIONS_PER_GRANT = 50;

export interface AuditVerification {
  ok: boolean;
  rows: number;
  problems: Array<{ id?: number; seq?: number; problem: string }>;
}

export interface MessageRef {
  requestId: RequestId;
  platform: 'slack' | 'teams';
  /** approval | dm | reminder … — one reference per (request, platform, kind). */
  kind: string;
  channel: string;
  messageId: string;
  /** Version of the state last rendered into the message (see claimMessageVersion). */
  version?: number;
}

/** An address the bot may send to later (a Teams conversation reference), stored opaquely per platform and key. */
export interface ChatConversation {
  platform: 'slack' | 'teams';
  /** "user:<id>", "channel:<id>", "tenant:<id>" — the adapter's choice. */
  key: string;
  /** JSON written and read by the adapter only. Never a secret. */
  reference: string;
  updatedAt: number;
}

/** A state-changing chat action, as kept in the inbox (see StateStore.recordInboxAction). */
export type InboxKind = 'approve' | 'deny' | 'revoke' | 'review' | 'request' | 'extend';
export type InboxStatus = 'pending' | 'done' | 'failed';

export interface NewInboxAction {
  platform: 'slack' | 'teams';
  kind: InboxKind;
  /** The platform's user id of who acted (resolved to an Actor when processed), and the name it sent. */
  actorId: string;
  actorName?: string;
  requestId?: RequestId;
  grantId?: GrantId;
  /** What is needed to redo the work (ids, typed text, where to answer). JSON-serialisable; never a secret. */
  payload: Record<string, unknown>;
  receivedAt: number;
  /** The platform's id of this delivery: a second record with the same (platform, dedupeKey) is not stored. */
  dedupeKey?: string;
  /** The recording process processes it at once: it holds the lease until then. */
  claimedBy: string;
  claimedUntil: number;
}

export interface InboxAction extends NewInboxAction {
  id: number;
  status: InboxStatus;
  /** How often processing started (1 after the recording process started it). */
  attempts: number;
  doneAt?: number;
  /** What came of it: "approved", the refusal's code and sentence, the error of a failed action. */
  outcome?: string;
}

/**
 * Contract (test/contract/state-store.contract.ts runs it on SQLite, PostgreSQL and MySQL/MariaDB):
 * - every method is atomic; `transaction` runs several atomically and rolls back if `fn` throws;
 * - conditional transitions return false (and change nothing) when the row is not in an expected state;
 * - the audit log is append-only: nothing here updates or deletes an audit row;
 * - no password is ever stored (the store has no column that could hold one).
 */
export interface StateStore {
  transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T>;

  createRequest(req: NewRequest): Promise<AccessRequest>;
  getRequest(id: RequestId): Promise<AccessRequest | undefined>;
  listRequests(filter: RequestFilter): Promise<AccessRequest[]>;
  /** How many requests are in each of `statuses` (0 when none). */
  countRequests(statuses: readonly RequestStatus[]): Promise<Map<RequestStatus, number>>;
  /** pending → status; false when the request is no longer pending, or — for 'approved' and 'denied' — when its
   *  approval deadline (decideBy) is not after `at`: no approver decides a request once its deadline has passed. */
  decideRequest(id: RequestId, status: Exclude<RequestStatus, 'pending'>, at: number, note?: string): Promise<boolean>;
  /** A pending request at tier `fromTier` moves to `toTier` with these approvers; false when someone got there first. */
  escalateRequest(
    id: RequestId,
    fromTier: number,
    toTier: number,
    approvers: readonly ApproverRef[],
    nextEscalationAt: number | null,
  ): Promise<boolean>;
  /** Break-glass review: sets reviewedAt (first review wins) or reviewEscalatedAt (once); false when already set. */
  markReview(id: RequestId, field: 'reviewedAt' | 'reviewEscalatedAt', at: number): Promise<boolean>;

  /** false when this approver has already decided this request: one row per account and one per person
   *  (personKey: the same email from Slack and Teams is one person), both unique constraints of the store. */
  recordApproval(approval: Approval): Promise<boolean>;
  /**
   * An approval that decides its request by itself: recordApproval, then, when it was recorded, the request
   * pending → approved with `note` as of the approval's time (decideRequest's conditions) — in one statement where
   * the store can. `recorded` false: nothing changed. `decided` false: the approval is recorded but the request was
   * no longer pending or its deadline had passed; the caller rolls the transaction back.
   */
  recordDecidingApproval(approval: Approval, note: string): Promise<{ recorded: boolean; decided: boolean }>;
  /** Inside a transaction: serialises it with every other transaction that locks the same person key, until it
   *  ends. Checks of a person's limits (live grants, pending requests) run under it, so races cannot exceed them. */
  lockPerson(key: string): Promise<void>;
  listApprovals(requestId: RequestId): Promise<Approval[]>;
  /** listApprovals of many requests in one read (in id order; a batch's views read them at once). */
  listApprovalsFor(requestIds: readonly RequestId[]): Promise<Approval[]>;

  /** Unique per requestId and per username: a second insert for the same request throws. */
  createGrant(grant: NewGrant): Promise<Grant>;
  getGrant(id: GrantId): Promise<Grant | undefined>;
  getGrantByRequest(requestId: RequestId): Promise<Grant | undefined>;
  listGrants(filter: GrantFilter): Promise<Grant[]>;
  /** How many grants are in each of `statuses` (0 when none), and how many of those are flagged: gauges, not rows. */
  countGrants(statuses: readonly GrantStatus[]): Promise<Map<GrantStatus, { count: number; flagged: number }>>;
  /** Sets `patch` when the grant's status is one of `from`; false (nothing changed) otherwise. */
  transitionGrant(id: GrantId, from: readonly GrantStatus[], patch: GrantPatch): Promise<boolean>;
  /** transitionGrant for many grants with one patch, atomically: the ids that were in one of `from` (and, with
   *  `expiresAtOrBefore`, expire by then) and now carry `patch`; the others are untouched. */
  transitionGrants(
    ids: readonly GrantId[],
    from: readonly GrantStatus[],
    patch: GrantPatch,
    expiresAtOrBefore?: number,
  ): Promise<GrantId[]>;
  /** Sets remindedAt on an active grant whose reminder has not been sent; false when it was (or it ended). */
  claimReminder(id: GrantId, at: number): Promise<boolean>;

  /**
   * One sweep's sample of sessions at `at`. A session not seen before is kept (first and last seen = `at`) unless
   * its grant already keeps MAX_SESSIONS_PER_GRANT (the earliest are kept), in which case it is only counted in
   * sessionsDropped; one seen before gets lastSeenAt = `at`; an open session of a grant in `sampledGrantIds` that
   * is not in `seen` is marked closed. Returns the sessions kept for the first time by this call (two sweepers
   * racing report each session once) — the caller audits them as `session.seen`.
   */
  recordSessions(at: number, sampledGrantIds: readonly GrantId[], seen: readonly SeenSession[]): Promise<SeenSession[]>;
  /** At revocation: each grant's sessions still open are marked ended by the revocation, and its statement summary
   *  is stored (a later call for the same grant replaces it). */
  closeGrantActivity(ended: ReadonlyArray<{ grantId: GrantId; statements: StatementSummary }>): Promise<void>;
  /**
   * What was done with each grant's access, for receipts and reports (GrantActivity in model.ts), e.g.
   *   { sessions: [{ clientAddress: '10.0.4.7', application: 'psql', count: 3, firstSeenAt, lastSeenAt,
   *                  endedByRevocation: 1 }],
   *     sessionsDropped: 0,
   *     statements: { available: true, source: 'pg_stat_statements', calls: 42, totalMs: 12.5, rows: 310,
   *                   byKind: { SELECT: 30, UPDATE: 12 }, top: [{ query: 'SELECT … WHERE status = $1', calls: 30,
   *                   totalMs: 8.1, rows: 300 }] } }
   * or `statements: { available: false, why: 'pg_stat_statements is not installed in database appdb' }`.
   * An entry for every id given that exists
   * (grants with no session seen have `sessions: []`, `sessionsDropped: 0`; `statements` is absent until the grant
   * is revoked). Sessions are grouped by (clientAddress, application), earliest first. One or two queries, whatever
   * the number of ids.
   */
  grantActivity(grantIds: readonly GrantId[]): Promise<Map<GrantId, GrantActivity>>;
  /** The holder's own extension, as one conditional update: moves an active grant's expiry from `from` to `to`,
   *  counts it and clears remindedAt, only while its expiry is still `from`, it has fewer than `below`
   *  self-extensions and `to` is at most `maxLifetimeMs` after its activation; false (nothing changed) otherwise. */
  selfExtendGrant(id: GrantId, c: SelfExtendCondition): Promise<boolean>;

  /** Appends to the hash-chained audit log (in order, atomically with the enclosing transaction). */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  /** Walks the audit chain; names each row at which it breaks (edited, inserted, deleted). */
  verifyAudit(): Promise<AuditVerification>;
  /** Takes (or renews) the lease on an audit consumer for `owner` until `until`; returns the position it has
   *  reached, or undefined while another owner's lease is live. */
  leaseAuditCursor(name: string, owner: string, now: number, until: number): Promise<number | undefined>;
  /** Moves the consumer forward, only while `owner` holds the lease and the position is still `from`. */
  advanceAuditCursor(name: string, owner: string, from: number, to: number): Promise<boolean>;

  /** Insert or replace the reference of (request, platform, kind). */
  saveMessageRef(ref: MessageRef): Promise<void>;
  /** Raises the message's version to `version` when it is lower; false (nothing changed) otherwise. Renderers
   *  update a message only after winning this, so racing processes never move a message backwards. */
  claimMessageVersion(ref: Pick<MessageRef, 'requestId' | 'platform' | 'kind'>, version: number): Promise<boolean>;
  getMessageRefs(requestId: RequestId): Promise<MessageRef[]>;
  /** The references of all these requests (in id order), for views built in a batch. */
  listMessageRefsFor(requestIds: readonly RequestId[]): Promise<MessageRef[]>;
  /** Insert or replace the conversation at (platform, key). */
  saveConversation(c: ChatConversation): Promise<void>;
  getConversation(platform: ChatConversation['platform'], key: string): Promise<ChatConversation | undefined>;
  /** First writer wins: inserts `c` unless a conversation exists at (platform, key); returns the one stored there
   *  (the caller's, or the earlier writer's, unchanged). Atomic across processes. */
  claimConversation(c: ChatConversation): Promise<ChatConversation>;

  /** Records a chat action before it is acknowledged: one insert, `pending`, attempts 1. Undefined (nothing
   *  stored) when (platform, dedupeKey) is already recorded: a redelivery. */
  recordInboxAction(action: NewInboxAction): Promise<InboxAction | undefined>;
  /** Leases up to `limit` pending actions received at or before `receivedBefore` whose lease has lapsed (at `now`)
   *  to `owner` until `until`, counting an attempt on each; returns them in id (arrival) order. Two callers never
   *  hold the same action at once. */
  claimInboxActions(
    owner: string,
    now: number,
    until: number,
    receivedBefore: number,
    limit: number,
  ): Promise<InboxAction[]>;
  /** pending → `status` with its outcome; false (nothing changed) when it was no longer pending. Called inside the
   *  transaction of the action's effect, so the effect and "done" commit together. */
  finishInboxAction(
    id: number,
    outcome: string,
    at: number,
    status?: Exclude<InboxStatus, 'pending'>,
  ): Promise<boolean>;
  /**
   * finishInboxAction (to done) as the last word of the transaction of the action's effect: the store may make the
   * change with the statement that ends the transaction. When the action is no longer pending, `lost()` is thrown —
   * by this call or by transaction() — and nothing of the transaction commits.
   */
  finishInboxActionAtCommit(id: number, outcome: string, at: number, lost: () => Error): Promise<void>;
  /** Actions in `statuses` (all when absent), oldest first. */
  listInboxActions(filter?: {
    statuses?: readonly InboxStatus[];
    requestIds?: readonly RequestId[];
  }): Promise<InboxAction[]>;
  /** Deletes up to `limit` finished actions (done or failed) that finished before `finishedBefore`; returns how many.
   *  A pending action is never deleted. */
  pruneInboxActions(finishedBefore: number, limit: number): Promise<number>;

  /** This installation's id: created at random on first use, the same for every process on this store. */
  installationId(): Promise<string>;

  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Scheduling (BullMQ). Redis only schedules; losing every job loses no grant (the sweeper reads the state DB).
// ---------------------------------------------------------------------------------------------------------------

export interface Scheduler {
  /** Enqueue provisioning now. Idempotent per grant (deterministic job id). */
  provision(grantId: GrantId): Promise<void>;
  /** Revoke at `at` (never earlier). Idempotent; moves an existing pending job. */
  revokeAt(grantId: GrantId, at: number): Promise<void>;
  /** Revoke jobs for grants just activated (none has one yet), in one call. Idempotent per grant. */
  scheduleRevokes(grants: ReadonlyArray<{ grantId: GrantId; at: number }>): Promise<void>;
  /** Remove a pending revoke job (after an early revoke). Absent job = success. */
  cancelRevoke(grantId: GrantId): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Approvers (on-call and directory sources)
// ---------------------------------------------------------------------------------------------------------------

export interface ApproverResolution {
  approvers: ApproverRef[];
  /** Sources that failed ("slack user group S0DBAS: usergroups.users.list failed"); the others still apply. */
  unavailable: string[];
}

/** What the chat platform can tell about people (Slack: users.lookupByEmail, usergroups.users.list, users.info):
 *  the approver resolver maps catalog emails and user groups to chat users with it. */
export interface PeopleDirectory {
  readonly platform: 'slack' | 'teams';
  lookupByEmail(email: string): Promise<{ id: string; name?: string; email?: string } | undefined>;
  userInfo(id: string): Promise<{ id: string; name?: string; email?: string } | undefined>;
  /** Slack user-group members; undefined when the platform has no such thing. */
  groupMembers?(groupId: string): Promise<string[]>;
}

/**
 * Resolves a database's approver sources to people, at request time and again at click time. Implementations
 * may cache for a short TTL. A failing source never throws: it is reported in `unavailable`.
 */
export interface ApproverDirectory {
  /** The approvers, plus escalation tiers 1..`tier` when given (eligibility once a request has escalated). On-call
   *  sources are asked who was on call at `at` (ms since the epoch; now when omitted); Slack user groups always
   *  answer with their current members (they keep no history). */
  resolve(db: ApprovalScope, tier?: number, at?: number): Promise<ApproverResolution>;
  /** Only escalation tier `tier` (1-based) — who to ask when it is reached; `at` as for resolve. */
  resolveTier(db: ApprovalScope, tier: number, at?: number): Promise<ApproverResolution>;
  /** Is `actor` on call at `at` (now when omitted)? `true` = in any on-call source among the database's approvers.
   *  Throws when the source cannot be asked (the caller then does not auto-approve). */
  isOnCall(db: DatabaseEntry, actor: Actor, ref: OnCallRef, at?: number): Promise<{ onCall: boolean; label: string }>;
  /** Is `actor` in this chat user group? Throws when it cannot be told. */
  isInGroup(actor: Actor, groupId: string): Promise<boolean>;
}

export interface IncidentInfo {
  id: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  title: string;
  url: string;
  /** The number people call it by (PagerDuty's incident number, Opsgenie's tiny id): `INC-<n>` in a request names
   *  the requester's open incident numbered n. */
  number?: number;
  /** Lower-cased emails of the people responding to it: assigned to it or having acknowledged it (absent when the
   *  source did not say; an empty list means nobody). */
  responders?: readonly string[];
  /** The Slack channel linked to it (a channel id), when the source links one. */
  slackChannel?: string;
}

/** Incidents a grant may be scoped to (PagerDuty). */
export interface IncidentDirectory {
  /** Throws when the source cannot tell; the error has `notFound: true` when the source says there is no such
   *  incident. */
  incident(id: string): Promise<IncidentInfo>;
  /** Open incidents `email` is assigned to or has acknowledged (for choosing one in a form, and for matching
   *  `INC-<n>` to one). Throws when no source can be asked. */
  openIncidentsOf?(email: string): Promise<OpenIncidents>;
}

/** A person's open incidents as far as they could be read. */
export interface OpenIncidents {
  incidents: IncidentInfo[];
  /** Why each source that could not be asked was not (its incidents are missing from the list). */
  unanswered: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// People (chat). Every method receives the chat-neutral view (core/view.ts) and renders it; none may throw into
// the lifecycle (the core logs and carries on), and none receives a password except grantActivated with
// `delivery: message`.
// ---------------------------------------------------------------------------------------------------------------

export interface Notifier {
  /** A new request (or extension request) needs a decision: post the approval message. */
  requestOpened(view: RequestView): Promise<void>;
  /** An approval was recorded, or the request was approved (provisioning), denied, expired, or its grant extended. */
  requestChanged(view: RequestView): Promise<void>;
  /** The user exists. `credentials` only for databases with `delivery: message`. */
  grantActivated(view: RequestView, credentials?: Credentials): Promise<void>;
  /** Revoked or failed; `view.receipt` says what the revocation did. */
  grantEnded(view: RequestView): Promise<void>;
  provisionFailed(view: RequestView, error: string, willRetry: boolean): Promise<void>;
  /** Revocation has failed for longer than the alert threshold: a human must look. */
  revocationStuck(view: RequestView, error: string): Promise<void>;
  /** The grant expires within the reminder window. */
  expiresSoon(view: RequestView): Promise<void>;
  /** The holder extended the grant of `view` (its own request's view) without approval: a line in its thread. */
  grantSelfExtended(view: RequestView, ext: SelfExtension): Promise<void>;
  /** Nobody decided in time: escalation tier `tier` was reached and `asked` are now asked too. */
  requestEscalated(view: RequestView, tier: number, asked: readonly ApproverRef[]): Promise<void>;
  /** Access was granted by break-glass: alert the security channel; an approver must review it. */
  breakGlassUsed(view: RequestView): Promise<void>;
  /** A break-glass grant was not reviewed in time. */
  reviewOverdue(view: RequestView): Promise<void>;
  /** Auto-approved because the requester responds to the request's incident: a line in that incident's Slack
   *  channel (`slackChannel`, from the incident source). */
  incidentAccessGranted(view: RequestView, slackChannel: string): Promise<void>;
}

export type { Actor };
