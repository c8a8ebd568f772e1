/** Domain records. Times are epoch milliseconds from the injected Clock; ids are store-assigned integers. */

declare const idKind: unique symbol;

/**
 * A request's id. Branded, so a grant's id (or any other number) cannot be passed where a request's is meant: a
 * value becomes one only where the store reads it back (store/rows.ts) or where text from a person or a button is
 * parsed as one (ids.ts `requireRequestId`).
 */
export type RequestId = number & { readonly [idKind]: 'request' };

/** A grant's id, branded like RequestId (ids.ts `requireGrantId`). */
export type GrantId = number & { readonly [idKind]: 'grant' };

/** Who did something. `id` is the platform's immutable id (Slack U…, Teams AAD object id, or `cli:<os user>`). */
export interface Actor {
  platform: 'slack' | 'teams' | 'cli' | 'system';
  id: string;
  email?: string;
  name?: string;
}

export const SYSTEM_ACTOR: Actor = { platform: 'system', id: 'db-access' };

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

/** A person who may decide a request, as resolved from the catalog's approver sources at request time. */
export interface ApproverRef {
  platform: 'slack' | 'teams' | 'email';
  /** Platform user id (Slack U…, Teams AAD id) or, for 'email', the address. */
  id: string;
  email?: string;
  name?: string;
  /** Which source named them: "email", "slack user group S0DBAS", … */
  via: string;
}

export interface AccessRequest {
  id: RequestId;
  /** The person the access is for: they hold the grant, get the DMs and credentials, and are counted by the limits. */
  requester: Actor;
  /** Who asked, when it was someone else on the requester's behalf (`… for @person`). Neither may approve. */
  askedBy?: Actor;
  database: string;
  level: string;
  durationMs: number;
  reason: string;
  ticket?: string;
  status: RequestStatus;
  requiredApprovals: number;
  createdAt: number;
  decidedAt?: number;
  /** Human explanation of the final decision ("approved by …", "auto-approved: …", deny reason). */
  decisionNote?: string;
  /** Eligible approvers resolved when the request was made (mentioned in the approval message). */
  approvers: ApproverRef[];
  /** Approver sources that could not be resolved at request time (named in the approval message). */
  unavailableSources?: string[];
  /** Only on the value a use case returns right after opening the request for people: why no auto-approval rule
   *  fitted (the same list is in its request.created audit row). Never stored. */
  autoApproveNotes?: string[];
  /** Undecided at this time → expired (the approval timeout). */
  decideBy?: number;
  /** Set on a request to extend an existing grant instead of creating one. */
  extendsGrantId?: GrantId;
  /** Escalation tier reached (0 = the approvers; k = approval.escalation[k-1] has been asked too). */
  tier: number;
  /** When the next escalation tier is asked, if nobody decides before. */
  nextEscalationAt?: number;
  /** Granted at once by a break-glass user; an approver must review it by reviewBy. */
  breakGlass: boolean;
  reviewBy?: number;
  reviewedAt?: number;
  /** When the overdue review was escalated (once). */
  reviewEscalatedAt?: number;
  /** Incident the access is scoped to (a PagerDuty incident id, or `og:<Opsgenie alert id>`): the grant ends when
   *  it resolves. */
  incidentId?: string;
  /** The incident's page, as PagerDuty's API gave it. */
  incidentUrl?: string;
  /** A member's request, opened approved when the bundle request it belongs to was approved (its `database` is the
   *  member database; the bundle request's `database` is the bundle's name). */
  partOf?: RequestId;
}

export type Decision = 'approve' | 'deny';

export interface Approval {
  requestId: RequestId;
  approver: Actor;
  decision: Decision;
  note?: string;
  at: number;
}

/**
 * provisioning: row written (username, expiresAt) before any DDL; the user may or may not exist yet.
 * active: the user exists and may log in until expiresAt.
 * revoking: lock → kill → drop in progress (or being retried).
 * revoked: user locked, sessions ended, user gone. Terminal.
 * failed: provisioning gave up; the cleanup path has removed any partial user. Terminal.
 */
export type GrantStatus = 'provisioning' | 'active' | 'revoking' | 'revoked' | 'failed';

export const LIVE_GRANT_STATUSES: readonly GrantStatus[] = ['provisioning', 'active', 'revoking'];

/**
 * Why a grant ended. expired: at its expiry (the revoke job); overdue: past its expiry, ended by the sweeper;
 * revoked_early: by its requester or an approver from chat; admin: by an administrator (CLI);
 * incident_resolved: its PagerDuty incident resolved; provision_failed: its user could not be made (or it expired
 * before it could be) — such a grant ends `failed`.
 */
export type EndKind = 'expired' | 'overdue' | 'revoked_early' | 'admin' | 'incident_resolved' | 'provision_failed';

export const END_KINDS: readonly EndKind[] = [
  'expired',
  'overdue',
  'revoked_early',
  'admin',
  'incident_resolved',
  'provision_failed',
];

export interface Grant {
  id: GrantId;
  requestId: RequestId;
  requester: Actor;
  database: string;
  level: string;
  username: string;
  status: GrantStatus;
  createdAt: number;
  /** While `provisioning`: createdAt + the granted duration, the latest its user may still be made. From
   *  activation: activatedAt + that duration (the grant's clock starts when its user exists), moved by extensions. */
  expiresAt: number;
  /** When the user came to exist: the start of the grant's clock. */
  activatedAt?: number;
  /** Extensions its holder applied without approval (catalog limits.selfExtensions); absent = none. */
  selfExtensions?: number;
  revokeStartedAt?: number;
  revokedAt?: number;
  /** Why it ended, in words for people: 'expired', 'revoked by …', 'provisioning failed: …'. */
  endReason?: string;
  /** Why it ended, for code: set with endReason whenever a grant starts to end. */
  endKind?: EndKind;
  provisionAttempts: number;
  revokeAttempts: number;
  lastError?: string;
  /** Set at the first failed revocation attempt, cleared on success. */
  revokeFailingSince?: number;
  /** Set once when revocation has been failing for the alert threshold. */
  flaggedAt?: number;
  /** When the "expires soon" reminder was sent (cleared by an extension). */
  remindedAt?: number;
}

/** What a holder's own extension did (catalog limits.selfExtensions): shown in the approval thread. */
export interface SelfExtension {
  by: Actor;
  /** The expiry before and after. */
  from: number;
  to: number;
  /** This was self-extension `count` of `of`. */
  count: number;
  of: number;
  /** Less than asked: held to the grant's original duration or to limits.maxLifetime. */
  capped: boolean;
}

/** What a revocation did on the target; stored with the grant and in the audit row. */
export interface RevocationReceipt {
  sessionsTerminated: number;
  userOutcome: 'dropped' | 'already_absent';
  at: number;
  /** What was done with the access, from the server's own statistics (absent on receipts from before it existed). */
  activity?: GrantActivity;
}

/**
 * Sessions of a grant's user that the sweeper saw on the server, grouped by where they came from. Times are when
 * the broker saw them (sampling), not exact connect/disconnect times; `firstSeenAt` is the earliest session start
 * the server reported when it reported one.
 */
export interface SessionGroup {
  /** Client IP address as the server saw it; 'local' for a Unix socket; undefined when the server did not say. */
  clientAddress?: string;
  /** PostgreSQL application_name, MySQL/MariaDB connection attribute program_name; undefined when not known. */
  application?: string;
  /** Sessions in the group. */
  count: number;
  firstSeenAt: number;
  lastSeenAt: number;
  /** Of `count`, how many were still open when the revocation ended them. */
  endedByRevocation: number;
}

/** One normalised statement shape (constants replaced by $1, ?, …; comments removed; at most 200 characters). */
export interface StatementShape {
  query: string;
  calls: number;
  totalMs: number;
  rows: number;
}

/** The user's statements, read from the server before the user was dropped. Never holds a literal. */
export type StatementSummary =
  | {
      available: true;
      /** Where the figures come from. */
      source: 'pg_stat_statements' | 'performance_schema';
      calls: number;
      totalMs: number;
      rows: number;
      /** Calls per statement kind ("SELECT", "INSERT", "SHOW DATABASES" …). */
      byKind: Record<string, number>;
      /** The most called shapes (pg_stat_statements only; at most 3). */
      top: StatementShape[];
    }
  | {
      available: false;
      /** In plain words: what is missing on the server. */
      why: string;
    };

/** What was done with a grant's access (StateStore.grantActivity, the receipt, the grant.revoked audit row). */
export interface GrantActivity {
  /** By (clientAddress, application), earliest first. */
  sessions: SessionGroup[];
  /** Sessions not kept because the grant already had the maximum kept (they are counted, not described). */
  sessionsDropped: number;
  /** Absent until the grant is revoked (it is read just before the user is dropped). */
  statements?: StatementSummary;
}

export type AuditType =
  | 'request.created'
  | 'request.approved'
  | 'request.denied'
  | 'request.expired'
  | 'request.auto_approved'
  | 'request.escalated'
  | 'request.break_glass'
  | 'break_glass.reviewed'
  | 'break_glass.review_escalated'
  | 'approval.recorded'
  | 'grant.admin_issued'
  | 'grant.provisioned'
  | 'grant.provision_failed'
  | 'grant.credentials_issued'
  | 'grant.extended'
  /** The holder extended their own grant without approval, within limits.selfExtensions and limits.maxLifetime. */
  | 'grant.self_extended'
  | 'grant.revoked'
  /** A chat action asked to end a grant early: `at` when it was processed, `detail.receivedAt` when it was clicked
   *  (written with the grant's move to `revoking`; `grant.revoked` follows when the user is gone). */
  | 'grant.revoke_requested'
  | 'grant.revoke_failed'
  | 'grant.revoke_flagged'
  | 'sweeper.orphan_dropped'
  /** Someone opened the access report page or downloaded its CSV (`detail.access`: admin-token or link). */
  | 'report.viewed'
  /** The sweeper saw a session of a grant's user for the first time (detail: session, clientAddress, application). */
  | 'session.seen'
  /** Someone asked for something the rules refuse (not an approver, over a limit, outside the organisation …):
   *  nothing else changed. `detail.action` says what was asked, `detail.code` / `detail.reason` why not. */
  | 'access.refused'
  /** A sign-in from a terminal (`db-access request`): `detail.outcome` code_sent | ok | failed, with the client's
   *  address and user agent and, when failed, why. */
  | 'terminal.login';

export interface AuditEvent {
  id?: number;
  at: number;
  type: AuditType;
  actor: Actor;
  requestId?: RequestId;
  grantId?: GrantId;
  database?: string;
  level?: string;
  /** Secret-free structured detail. */
  detail: Record<string, unknown>;
}
