/**
 * Row ↔ model mapping. Every integer column is read through Number(): node-postgres returns BIGINT as a string.
 * Optional model fields are omitted (not set to undefined) when the column is NULL.
 */
import type { GrantPatch, MessageRef, NewGrant, NewRequest } from '../core/ports.js';
import { personKey } from '../core/policy.js';
import type {
  ApproverRef,
  AccessRequest,
  Actor,
  Approval,
  AuditEvent,
  AuditType,
  Decision,
  EndKind,
  Grant,
  GrantId,
  GrantStatus,
  RequestId,
  RequestStatus,
} from '../core/model.js';

export type Row = Record<string, unknown>;

export const TABLES = {
  requests: 'requests',
  approvals: 'approvals',
  grants: 'grants',
  chatMessages: 'chat_messages',
  audit: 'audit_events',
  personLocks: 'person_locks',
} as const;

/** MySQL TEXT holds 65 535 bytes; error text is cut well below that (4 bytes per character worst case). */
export const MAX_ERROR_TEXT = 8_000;

export function num(v: unknown, column: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`state store: column ${column} holds a non-number: ${String(v)}`);
  return n;
}

/** A stored request id: where a number from the state DB becomes a RequestId. */
export const requestIdOf = (v: unknown, column: string): RequestId => num(v, column) as RequestId;

/** A stored grant id: where a number from the state DB becomes a GrantId. */
export const grantIdOf = (v: unknown, column: string): GrantId => num(v, column) as GrantId;

function optNum(v: unknown, column: string): number | undefined {
  return v === null || v === undefined ? undefined : num(v, column);
}

function str(v: unknown, column: string): string {
  if (typeof v !== 'string') throw new Error(`state store: column ${column} holds a non-string: ${String(v)}`);
  return v;
}

function optStr(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}

/** Adds `key: value` only when value is defined. */
function put<T extends object, K extends string, V>(obj: T, key: K, value: V | undefined): T {
  if (value !== undefined) (obj as Record<string, unknown>)[key] = value;
  return obj;
}

function truncate(s: string | undefined | null, max: number): string | undefined | null {
  return typeof s === 'string' && s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

// --- actors ---------------------------------------------------------------------------------------------------

export function actorToRow(prefix: string, a: Actor): Row {
  return {
    [`${prefix}_platform`]: a.platform,
    [`${prefix}_id`]: a.id,
    [`${prefix}_email`]: a.email ?? null,
    [`${prefix}_name`]: a.name ?? null,
  };
}

export function actorFromRow(prefix: string, r: Row): Actor {
  const actor: Actor = {
    platform: str(r[`${prefix}_platform`], `${prefix}_platform`) as Actor['platform'],
    id: str(r[`${prefix}_id`], `${prefix}_id`),
  };
  put(actor, 'email', optStr(r[`${prefix}_email`]));
  put(actor, 'name', optStr(r[`${prefix}_name`]));
  return actor;
}

// --- requests -------------------------------------------------------------------------------------------------

export function requestToRow(req: NewRequest): Row {
  return {
    ...actorToRow('requester', req.requester),
    ...(req.askedBy ? actorToRow('asked_by', req.askedBy) : {}),
    database_name: req.database,
    level: req.level,
    duration_ms: req.durationMs,
    reason: req.reason,
    ticket: req.ticket ?? null,
    status: req.status,
    required_approvals: req.requiredApprovals,
    created_at: req.createdAt,
    decided_at: req.decidedAt ?? null,
    decision_note: req.decisionNote ?? null,
    approvers: JSON.stringify(req.approvers ?? []),
    unavailable_sources: req.unavailableSources?.length ? JSON.stringify(req.unavailableSources) : null,
    decide_by: req.decideBy ?? null,
    extends_grant_id: req.extendsGrantId ?? null,
    tier: req.tier ?? 0,
    next_escalation_at: req.nextEscalationAt ?? null,
    break_glass: req.breakGlass ?? false,
    review_by: req.reviewBy ?? null,
    reviewed_at: req.reviewedAt ?? null,
    review_escalated_at: req.reviewEscalatedAt ?? null,
    incident_id: req.incidentId ?? null,
    incident_url: req.incidentUrl ?? null,
    part_of: req.partOf ?? null,
  };
}

function jsonArray<T>(v: unknown): T[] {
  if (typeof v !== 'string' || v === '') return [];
  const parsed: unknown = JSON.parse(v);
  return Array.isArray(parsed) ? (parsed as T[]) : [];
}

export function requestFromRow(r: Row): AccessRequest {
  const req: AccessRequest = {
    id: requestIdOf(r.id, 'requests.id'),
    requester: actorFromRow('requester', r),
    database: str(r.database_name, 'requests.database_name'),
    level: str(r.level, 'requests.level'),
    durationMs: num(r.duration_ms, 'requests.duration_ms'),
    reason: str(r.reason, 'requests.reason'),
    status: str(r.status, 'requests.status') as RequestStatus,
    requiredApprovals: num(r.required_approvals, 'requests.required_approvals'),
    createdAt: num(r.created_at, 'requests.created_at'),
    approvers: jsonArray<ApproverRef>(r.approvers),
    tier: num(r.tier ?? 0, 'requests.tier'),
    breakGlass: r.break_glass === true || r.break_glass === 1 || r.break_glass === '1',
  };
  put(req, 'nextEscalationAt', optNum(r.next_escalation_at, 'requests.next_escalation_at'));
  put(req, 'reviewBy', optNum(r.review_by, 'requests.review_by'));
  put(req, 'reviewedAt', optNum(r.reviewed_at, 'requests.reviewed_at'));
  put(req, 'reviewEscalatedAt', optNum(r.review_escalated_at, 'requests.review_escalated_at'));
  put(req, 'incidentId', optStr(r.incident_id));
  put(req, 'incidentUrl', optStr(r.incident_url));
  const unavailable = jsonArray<string>(r.unavailable_sources);
  if (unavailable.length) req.unavailableSources = unavailable;
  put(req, 'decideBy', optNum(r.decide_by, 'requests.decide_by'));
  put(req, 'extendsGrantId', optNum(r.extends_grant_id, 'requests.extends_grant_id'));
  put(req, 'ticket', optStr(r.ticket));
  put(req, 'decidedAt', optNum(r.decided_at, 'requests.decided_at'));
  put(req, 'decisionNote', optStr(r.decision_note));
  const partOf = optNum(r.part_of, 'requests.part_of');
  if (partOf !== undefined) req.partOf = requestIdOf(partOf, 'requests.part_of');
  if (r.asked_by_id !== null && r.asked_by_id !== undefined) req.askedBy = actorFromRow('asked_by', r);
  return req;
}

// --- approvals ------------------------------------------------------------------------------------------------

export function approvalToRow(a: Approval): Row {
  return {
    request_id: a.requestId,
    ...actorToRow('approver', a.approver),
    approver_key: personKey(a.approver),
    decision: a.decision,
    note: a.note ?? null,
    at: a.at,
  };
}

export function approvalFromRow(r: Row): Approval {
  const a: Approval = {
    requestId: requestIdOf(r.request_id, 'approvals.request_id'),
    approver: actorFromRow('approver', r),
    decision: str(r.decision, 'approvals.decision') as Decision,
    at: num(r.at, 'approvals.at'),
  };
  put(a, 'note', optStr(r.note));
  return a;
}

// --- grants ---------------------------------------------------------------------------------------------------

export function newGrantToRow(g: NewGrant): Row {
  return {
    request_id: g.requestId,
    ...actorToRow('requester', g.requester),
    database_name: g.database,
    level: g.level,
    username: g.username,
    status: 'provisioning' satisfies GrantStatus,
    created_at: g.createdAt,
    expires_at: g.expiresAt,
    provision_attempts: 0,
    revoke_attempts: 0,
  };
}

export function grantFromRow(r: Row): Grant {
  const g: Grant = {
    id: grantIdOf(r.id, 'grants.id'),
    requestId: requestIdOf(r.request_id, 'grants.request_id'),
    requester: actorFromRow('requester', r),
    database: str(r.database_name, 'grants.database_name'),
    level: str(r.level, 'grants.level'),
    username: str(r.username, 'grants.username'),
    status: str(r.status, 'grants.status') as GrantStatus,
    createdAt: num(r.created_at, 'grants.created_at'),
    expiresAt: num(r.expires_at, 'grants.expires_at'),
    provisionAttempts: num(r.provision_attempts, 'grants.provision_attempts'),
    revokeAttempts: num(r.revoke_attempts, 'grants.revoke_attempts'),
  };
  put(g, 'activatedAt', optNum(r.activated_at, 'grants.activated_at'));
  put(g, 'revokeStartedAt', optNum(r.revoke_started_at, 'grants.revoke_started_at'));
  put(g, 'revokedAt', optNum(r.revoked_at, 'grants.revoked_at'));
  put(g, 'endReason', optStr(r.end_reason));
  put(g, 'endKind', optStr(r.end_kind) as EndKind | undefined);
  put(g, 'lastError', optStr(r.last_error));
  put(g, 'revokeFailingSince', optNum(r.revoke_failing_since, 'grants.revoke_failing_since'));
  put(g, 'flaggedAt', optNum(r.flagged_at, 'grants.flagged_at'));
  put(g, 'remindedAt', optNum(r.reminded_at, 'grants.reminded_at'));
  const selfExtensions = optNum(r.self_extensions, 'grants.self_extensions');
  if (selfExtensions) g.selfExtensions = selfExtensions;
  return g;
}

/** GrantPatch key → column, and whether the column may be cleared (NULL). */
const PATCH_COLUMNS: { readonly [K in keyof Required<GrantPatch>]: { column: string; nullable: boolean } } = {
  status: { column: 'status', nullable: false },
  expiresAt: { column: 'expires_at', nullable: false },
  activatedAt: { column: 'activated_at', nullable: true },
  revokeStartedAt: { column: 'revoke_started_at', nullable: true },
  revokedAt: { column: 'revoked_at', nullable: true },
  endReason: { column: 'end_reason', nullable: true },
  endKind: { column: 'end_kind', nullable: true },
  provisionAttempts: { column: 'provision_attempts', nullable: false },
  revokeAttempts: { column: 'revoke_attempts', nullable: false },
  lastError: { column: 'last_error', nullable: true },
  revokeFailingSince: { column: 'revoke_failing_since', nullable: true },
  flaggedAt: { column: 'flagged_at', nullable: true },
  remindedAt: { column: 'reminded_at', nullable: true },
};

/**
 * The columns a patch sets: `undefined` leaves a column alone, `null` clears it. Unknown keys are refused, so no
 * caller can smuggle a field (a password, say) into an UPDATE.
 */
export function grantPatchToRow(patch: GrantPatch): Row {
  const row: Row = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const spec = (PATCH_COLUMNS as Record<string, { column: string; nullable: boolean } | undefined>)[key];
    if (!spec) throw new Error(`state store: a grant patch cannot set "${key}"`);
    if (value === null && !spec.nullable) throw new Error(`state store: a grant patch cannot clear "${key}"`);
    row[spec.column] =
      key === 'lastError' || key === 'endReason' ? truncate(value as string | null, MAX_ERROR_TEXT) : value;
  }
  return row;
}

// --- chat messages --------------------------------------------------------------------------------------------

export function messageRefToRow(m: MessageRef): Row {
  return {
    request_id: m.requestId,
    platform: m.platform,
    kind: m.kind,
    channel: m.channel,
    message_id: m.messageId,
    version: m.version ?? 0,
  };
}

export function messageRefFromRow(r: Row): MessageRef {
  return {
    requestId: requestIdOf(r.request_id, 'chat_messages.request_id'),
    platform: str(r.platform, 'chat_messages.platform') as MessageRef['platform'],
    kind: str(r.kind, 'chat_messages.kind'),
    channel: str(r.channel, 'chat_messages.channel'),
    messageId: str(r.message_id, 'chat_messages.message_id'),
    version: num(r.version ?? 0, 'chat_messages.version'),
  };
}

// --- audit ----------------------------------------------------------------------------------------------------

export function auditToRow(e: AuditEvent): Row {
  return {
    at: e.at,
    type: e.type,
    ...actorToRow('actor', e.actor),
    request_id: e.requestId ?? null,
    grant_id: e.grantId ?? null,
    database_name: e.database ?? null,
    level: e.level ?? null,
    detail: JSON.stringify(e.detail ?? {}),
  };
}

export function auditFromRow(r: Row): AuditEvent {
  const raw = r.detail;
  let detail: Record<string, unknown>;
  try {
    const parsed: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
    detail =
      parsed && typeof parsed === 'object' && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : { value: parsed };
  } catch {
    detail = { unparsed: String(raw) };
  }
  const e: AuditEvent = {
    id: num(r.id, 'audit_events.id'),
    at: num(r.at, 'audit_events.at'),
    type: str(r.type, 'audit_events.type') as AuditType,
    actor: actorFromRow('actor', r),
    detail,
  };
  put(e, 'requestId', optNum(r.request_id, 'audit_events.request_id'));
  put(e, 'grantId', optNum(r.grant_id, 'audit_events.grant_id'));
  put(e, 'database', optStr(r.database_name));
  put(e, 'level', optStr(r.level));
  return e;
}
