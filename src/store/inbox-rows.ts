/** Rows of `chat_inbox` (migrations/0009_inbox.ts) ↔ InboxAction. */
import type { InboxAction, InboxKind, InboxStatus, NewInboxAction } from '../core/ports.js';
import { MAX_ERROR_TEXT, num, type Row } from './rows.js';
import type { GrantId, RequestId } from '../core/model.js';

export const INBOX_TABLE = 'chat_inbox';

export function newInboxToRow(a: NewInboxAction): Row {
  return {
    platform: a.platform,
    kind: a.kind,
    actor_id: a.actorId,
    actor_name: a.actorName ?? null,
    request_id: a.requestId ?? null,
    grant_id: a.grantId ?? null,
    payload: JSON.stringify(a.payload),
    received_at: a.receivedAt,
    dedupe_key: a.dedupeKey ?? null,
    status: 'pending',
    attempts: 1,
    claimed_by: a.claimedBy,
    claimed_until: a.claimedUntil,
  };
}

const opt = (v: unknown, column: string): number | undefined =>
  v === null || v === undefined ? undefined : num(v, column);
const text = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function inboxFromRow(r: Row): InboxAction {
  const requestId = opt(r.request_id, 'chat_inbox.request_id') as RequestId | undefined;
  const grantId = opt(r.grant_id, 'chat_inbox.grant_id') as GrantId | undefined;
  const doneAt = opt(r.done_at, 'chat_inbox.done_at');
  const actorName = text(r.actor_name);
  const dedupeKey = text(r.dedupe_key);
  const outcome = text(r.outcome);
  return {
    id: num(r.id, 'chat_inbox.id'),
    platform: String(r.platform) as InboxAction['platform'],
    kind: String(r.kind) as InboxKind,
    actorId: String(r.actor_id),
    ...(actorName !== undefined && { actorName }),
    ...(requestId !== undefined && { requestId }),
    ...(grantId !== undefined && { grantId }),
    payload: JSON.parse(String(r.payload)) as Record<string, unknown>,
    receivedAt: num(r.received_at, 'chat_inbox.received_at'),
    ...(dedupeKey !== undefined && { dedupeKey }),
    status: String(r.status) as InboxStatus,
    attempts: num(r.attempts, 'chat_inbox.attempts'),
    claimedBy: String(r.claimed_by ?? ''),
    claimedUntil: opt(r.claimed_until, 'chat_inbox.claimed_until') ?? 0,
    ...(doneAt !== undefined && { doneAt }),
    ...(outcome !== undefined && { outcome }),
  };
}

/** Outcomes are sentences and error text: cut like other error text (MySQL TEXT). */
export function outcomeText(outcome: string): string {
  return outcome.length > MAX_ERROR_TEXT ? `${outcome.slice(0, MAX_ERROR_TEXT)}…` : outcome;
}
