/**
 * The StateStore port in memory, for fast core tests: no database, no files. It keeps the port's contract (proven
 * by test/contract/state-store.contract.ts, run against it in test/unit/memory-state-store.test.ts):
 * - every method is atomic; transactions run one at a time (like SQLite's single writer) on a copy of the tables
 *   that replaces them only when `fn` resolves, so a throw rolls everything back; reads outside a transaction see
 *   committed rows only;
 * - conditional updates answer false and change nothing when the row is not in an expected state;
 * - the unique keys of the real schema hold (one grant per request and per username, one approval per request and
 *   account and per request and person, one message reference per request/platform/kind, one conversation per
 *   platform/key, one inbox action per platform/dedupe key), and so do its foreign keys to requests;
 * - the audit log is hash-chained with the real store's row hash (src/store/audit-chain.ts) and append-only.
 *
 * Rows are kept in the real tables' column shapes through the real row mappers (src/store/rows.ts), so optional
 * fields come back absent, text is cut where the real store cuts it and a patch is refused where it refuses it.
 * Rows are never changed in place: an update stores a new row object, which is what makes copying a table cheap.
 */
import { randomBytes } from 'node:crypto';
import { BrokerError } from '../../src/core/errors.js';
import type {
  AccessRequest,
  Actor,
  Approval,
  ApproverRef,
  AuditEvent,
  Grant,
  GrantId,
  GrantStatus,
  RequestId,
  RequestStatus,
  GrantActivity,
  StatementSummary,
} from '../../src/core/model.js';
import type {
  AuditFilter,
  AuditVerification,
  ChatConversation,
  GrantFilter,
  GrantPatch,
  InboxAction,
  InboxStatus,
  MessageRef,
  NewGrant,
  NewInboxAction,
  NewRequest,
  RequestFilter,
  SeenSession,
  SelfExtendCondition,
  StateStore,
} from '../../src/core/ports.js';
import { ChainWalk, GENESIS_HASH, rowHash } from '../../src/store/audit-chain.js';
import { MAX_SESSIONS_PER_GRANT } from '../../src/core/ports.js';
import { addToGroups } from '../../src/core/activity.js';
import { sessionOf, startedSince } from '../../src/store/grant-activity.js';
import { inboxFromRow, newInboxToRow, outcomeText } from '../../src/store/inbox-rows.js';
import {
  approvalFromRow,
  approvalToRow,
  auditFromRow,
  auditToRow,
  grantFromRow,
  grantIdOf,
  grantPatchToRow,
  messageRefFromRow,
  messageRefToRow,
  newGrantToRow,
  requestFromRow,
  requestIdOf,
  requestToRow,
  type Row,
} from '../../src/store/rows.js';

/** The tables, keyed by primary key. Maps are copied per transaction; rows inside them are never mutated. */
export interface MemoryTables {
  requests: Map<number, Row>;
  approvals: Map<number, Row>;
  grants: Map<number, Row>;
  chat_messages: Map<number, Row>;
  audit_events: Map<number, Row>;
  audit_head: Row;
  audit_cursors: Map<string, Row>;
  chat_conversations: Map<string, Row>;
  chat_inbox: Map<number, Row>;
  installation: Map<number, Row>;
  grant_sessions: Map<number, Row>;
  /** Keyed by grant id. */
  grant_activity: Map<number, Row>;
}

type AutoTable =
  'requests' | 'approvals' | 'grants' | 'chat_messages' | 'audit_events' | 'chat_inbox' | 'grant_sessions';

function emptyTables(): MemoryTables {
  return {
    requests: new Map(),
    approvals: new Map(),
    grants: new Map(),
    chat_messages: new Map(),
    audit_events: new Map(),
    audit_head: Object.freeze({ id: 1, last_seq: 0, last_hash: GENESIS_HASH }),
    audit_cursors: new Map(),
    chat_conversations: new Map(),
    chat_inbox: new Map(),
    installation: new Map(),
    grant_sessions: new Map(),
    grant_activity: new Map(),
  };
}

function copyTables(t: MemoryTables): MemoryTables {
  return {
    requests: new Map(t.requests),
    approvals: new Map(t.approvals),
    grants: new Map(t.grants),
    chat_messages: new Map(t.chat_messages),
    audit_events: new Map(t.audit_events),
    audit_head: t.audit_head,
    audit_cursors: new Map(t.audit_cursors),
    chat_conversations: new Map(t.chat_conversations),
    chat_inbox: new Map(t.chat_inbox),
    installation: new Map(t.installation),
    grant_sessions: new Map(t.grant_sessions),
    grant_activity: new Map(t.grant_activity),
  };
}

/** The grant columns only a patch sets (the insert leaves them NULL), named by the real patch mapper. */
const GRANT_PATCH_COLUMNS = Object.keys(
  grantPatchToRow({
    activatedAt: 1,
    revokeStartedAt: 1,
    revokedAt: 1,
    endReason: 'x',
    endKind: 'expired',
    lastError: 'x',
    revokeFailingSince: 1,
    flaggedAt: 1,
    remindedAt: 1,
  }),
);

/** Columns of each table, as the real schema names them (for the no-secret-at-rest dump). */
const COLUMNS: Record<keyof MemoryTables, readonly string[]> = {
  requests: [
    'id',
    ...Object.keys(
      requestToRow({
        requester: { platform: 'cli', id: 'x' },
        database: '',
        level: '',
        durationMs: 0,
        reason: '',
        status: 'pending',
        requiredApprovals: 0,
        createdAt: 0,
        approvers: [],
      }),
    ),
  ],
  approvals: [
    'id',
    ...Object.keys(
      approvalToRow({ requestId: 0 as RequestId, approver: { platform: 'cli', id: 'x' }, decision: 'approve', at: 0 }),
    ),
  ],
  grants: [
    'id',
    ...Object.keys(
      newGrantToRow({
        requestId: 0 as RequestId,
        requester: { platform: 'cli', id: 'x' },
        database: '',
        level: '',
        username: '',
        createdAt: 0,
        expiresAt: 0,
      }),
    ),
    ...GRANT_PATCH_COLUMNS,
  ],
  chat_messages: ['id', 'request_id', 'platform', 'kind', 'channel', 'message_id', 'version'],
  audit_events: [
    'id',
    'at',
    'type',
    'actor_platform',
    'actor_id',
    'actor_email',
    'actor_name',
    'request_id',
    'grant_id',
    'database_name',
    'level',
    'detail',
    'seq',
    'prev_hash',
    'hash',
  ],
  audit_head: ['id', 'last_seq', 'last_hash'],
  audit_cursors: ['name', 'last_id', 'lease_owner', 'lease_until'],
  chat_conversations: ['platform', 'conversation_key', 'reference', 'updated_at'],
  chat_inbox: [
    'id',
    'platform',
    'kind',
    'actor_id',
    'actor_name',
    'request_id',
    'grant_id',
    'payload',
    'received_at',
    'dedupe_key',
    'status',
    'attempts',
    'claimed_by',
    'claimed_until',
    'done_at',
    'outcome',
  ],
  installation: ['id', 'installation_id'],
  grant_sessions: [
    'id',
    'grant_id',
    'session_key',
    'started_at',
    'client_address',
    'application',
    'first_seen_at',
    'last_seen_at',
    'ended',
  ],
  grant_activity: ['grant_id', 'sessions_kept', 'sessions_dropped', 'last_sample_at', 'statements'],
};

/** One at a time, in arrival order. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const before = this.tail;
    this.tail = before.then(() => next);
    await before;
    return release;
  }
}

/** What every handle on one in-memory database shares: committed tables, id sequences, the writer lock. */
export class MemoryDatabase {
  committed: MemoryTables = emptyTables();
  /** Like database sequences, ids are not given back when a transaction rolls back. */
  readonly sequences: Record<AutoTable, number> = {
    requests: 0,
    approvals: 0,
    grants: 0,
    chat_messages: 0,
    audit_events: 0,
    chat_inbox: 0,
    grant_sessions: 0,
  };
  readonly writer = new Mutex();
  closed = false;

  nextId(table: AutoTable): number {
    return ++this.sequences[table];
  }
}

interface TxState {
  tables: MemoryTables;
  /** Audit events of this transaction, chained and stored when it commits (see flushAudit). */
  pendingAudit: AuditEvent[];
  open: boolean;
}

type Person = Pick<Actor, 'platform' | 'id' | 'email'>;

/** The real store's byPerson: the same platform account, or the same email in any case. */
function heldBy(row: Row, person: Person): boolean {
  if (row.requester_platform === person.platform && row.requester_id === person.id) return true;
  const email = person.email?.toLowerCase();
  return email !== undefined && typeof row.requester_email === 'string' && row.requester_email.toLowerCase() === email;
}

/** Access held at some moment of [since, until): activated before `until`, not revoked before `since`. */
function heldDuring(row: Row, range: { since: number; until: number }): boolean {
  if (row.activated_at === null || row.activated_at === undefined || Number(row.activated_at) >= range.until)
    return false;
  return row.revoked_at === null || row.revoked_at === undefined || Number(row.revoked_at) >= range.since;
}

const byId = (rows: Iterable<[number, Row]>): Row[] => [...rows].sort(([a], [b]) => a - b).map(([, r]) => r);

const conversationKey = (platform: string, key: string): string => `${platform}\u0000${key}`;

function foreignKeyError(table: string, requestId: unknown): Error {
  return new Error(`state store: ${table}.request_id ${String(requestId)} names no request (foreign key)`);
}

export class MemoryStateStore implements StateStore {
  /**
   * @param db the database this handle works on; a second handle on the same one is another "process"
   * @param tx set on the handle `transaction(fn)` hands to `fn`
   */
  constructor(
    readonly db: MemoryDatabase = new MemoryDatabase(),
    private readonly tx?: TxState,
  ) {}

  /** The tables this handle reads: its transaction's copy, or the committed ones. */
  private read(): MemoryTables {
    this.assertUsable();
    return this.tx ? this.tx.tables : this.db.committed;
  }

  private assertUsable(): void {
    if (this.db.closed) throw new Error('state store: closed');
    if (this.tx && !this.tx.open) throw new Error('state store: this transaction has already ended');
  }

  /**
   * One statement: inside a transaction it changes the transaction's copy; outside, it waits for the writer lock
   * and commits a changed copy, so a statement that throws half-way changes nothing.
   */
  private async write<T>(statement: (t: MemoryTables) => T): Promise<T> {
    this.assertUsable();
    if (this.tx) return statement(this.tx.tables);
    const release = await this.db.writer.acquire();
    try {
      this.assertUsable();
      const copy = copyTables(this.db.committed);
      const result = statement(copy);
      this.db.committed = copy;
      return result;
    } finally {
      release();
    }
  }

  async transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T> {
    this.assertUsable();
    if (this.tx) return fn(this); // nested: the same transaction
    const release = await this.db.writer.acquire();
    const state: TxState = { tables: copyTables(this.db.committed), pendingAudit: [], open: true };
    try {
      const tx = new MemoryStateStore(this.db, state);
      const result = await fn(tx);
      tx.flushAudit();
      this.assertUsable();
      this.db.committed = state.tables;
      return result;
    } finally {
      state.open = false;
      release();
    }
  }

  /** Chains and stores the transaction's buffered audit events, just before it commits. */
  private flushAudit(): void {
    const state = this.tx!;
    const events = state.pendingAudit.splice(0);
    if (events.length === 0) return;
    const t = state.tables;
    let prev = String(t.audit_head.last_hash);
    let seq = Number(t.audit_head.last_seq);
    for (const e of events) {
      const row = auditToRow(e);
      seq++;
      const hash = rowHash(seq, prev, row);
      const id = this.db.nextId('audit_events');
      t.audit_events.set(id, Object.freeze({ id, ...row, seq, prev_hash: prev, hash }));
      prev = hash;
    }
    t.audit_head = Object.freeze({ id: 1, last_seq: seq, last_hash: prev });
  }

  // --- requests -----------------------------------------------------------------------------------------------

  async createRequest(req: NewRequest): Promise<AccessRequest> {
    return this.write((t) => {
      const id = this.db.nextId('requests');
      const row = Object.freeze({ id, ...requestToRow(req) });
      t.requests.set(id, row);
      return requestFromRow(row);
    });
  }

  async getRequest(id: number): Promise<AccessRequest | undefined> {
    const row = this.read().requests.get(id);
    return row ? requestFromRow(row) : undefined;
  }

  async listRequests(filter: RequestFilter): Promise<AccessRequest[]> {
    const ids = filter.ids ? new Set(filter.ids) : undefined;
    const statuses = filter.statuses ? new Set<unknown>(filter.statuses) : undefined;
    const out = byId(this.read().requests).filter(
      (r) =>
        (!statuses || statuses.has(r.status)) &&
        (filter.requesterId === undefined || r.requester_id === filter.requesterId) &&
        (filter.requestedBy === undefined || heldBy(r, filter.requestedBy)) &&
        (filter.database === undefined || r.database_name === filter.database) &&
        (filter.decideByOrBefore === undefined ||
          (r.decide_by !== null && Number(r.decide_by) <= filter.decideByOrBefore)) &&
        (filter.nextEscalationAtOrBefore === undefined ||
          (r.next_escalation_at !== null && Number(r.next_escalation_at) <= filter.nextEscalationAtOrBefore)) &&
        (filter.reviewOverdueAt === undefined ||
          (r.break_glass === true &&
            r.reviewed_at === null &&
            r.review_escalated_at === null &&
            r.review_by !== null &&
            Number(r.review_by) <= filter.reviewOverdueAt)) &&
        (!filter.withIncident || r.incident_id !== null) &&
        (filter.createdAtOrAfter === undefined || Number(r.created_at) >= filter.createdAtOrAfter) &&
        (!ids || ids.has(Number(r.id))) &&
        (filter.partOf === undefined ||
          (r.part_of !== null && r.part_of !== undefined && Number(r.part_of) === filter.partOf)),
    );
    return out.slice(0, filter.limit ?? out.length).map(requestFromRow);
  }

  async countRequests(statuses: readonly RequestStatus[]): Promise<Map<RequestStatus, number>> {
    const counts = new Map(statuses.map((st) => [st, 0]));
    for (const r of this.read().requests.values()) {
      const st = r.status as RequestStatus;
      if (counts.has(st)) counts.set(st, counts.get(st)! + 1);
    }
    return counts;
  }

  async decideRequest(
    id: number,
    status: Exclude<RequestStatus, 'pending'>,
    at: number,
    note?: string,
  ): Promise<boolean> {
    if ((status as RequestStatus) === 'pending') throw new Error('state store: decideRequest cannot set pending');
    return this.write((t) => {
      const row = t.requests.get(id);
      if (!row || row.status !== 'pending') return false;
      // A decision by approvers counts only before the approval deadline; expiring is what happens after it.
      if ((status === 'approved' || status === 'denied') && row.decide_by !== null && !(Number(row.decide_by) > at))
        return false;
      t.requests.set(id, Object.freeze({ ...row, status, decided_at: at, decision_note: note ?? null }));
      return true;
    });
  }

  async escalateRequest(
    id: number,
    fromTier: number,
    toTier: number,
    approvers: readonly ApproverRef[],
    nextEscalationAt: number | null,
  ): Promise<boolean> {
    return this.write((t) => {
      const row = t.requests.get(id);
      if (!row || row.status !== 'pending' || Number(row.tier) !== fromTier) return false;
      t.requests.set(
        id,
        Object.freeze({
          ...row,
          tier: toTier,
          approvers: JSON.stringify(approvers),
          next_escalation_at: nextEscalationAt,
        }),
      );
      return true;
    });
  }

  async markReview(id: number, field: 'reviewedAt' | 'reviewEscalatedAt', at: number): Promise<boolean> {
    const column = field === 'reviewedAt' ? 'reviewed_at' : 'review_escalated_at';
    return this.write((t) => {
      const row = t.requests.get(id);
      if (!row || row.break_glass !== true || row[column] !== null) return false;
      t.requests.set(id, Object.freeze({ ...row, [column]: at }));
      return true;
    });
  }

  // --- approvals ----------------------------------------------------------------------------------------------

  async recordDecidingApproval(approval: Approval, note: string): Promise<{ recorded: boolean; decided: boolean }> {
    if (!(await this.recordApproval(approval))) return { recorded: false, decided: false };
    return { recorded: true, decided: await this.decideRequest(approval.requestId, 'approved', approval.at, note) };
  }

  async recordApproval(approval: Approval): Promise<boolean> {
    const row = approvalToRow(approval);
    return this.write((t) => {
      if (!t.requests.has(approval.requestId)) throw foreignKeyError('approvals', approval.requestId);
      for (const a of t.approvals.values()) {
        if (a.request_id !== row.request_id) continue;
        const sameAccount = a.approver_platform === row.approver_platform && a.approver_id === row.approver_id;
        if (sameAccount || a.approver_key === row.approver_key) return false;
      }
      const id = this.db.nextId('approvals');
      t.approvals.set(id, Object.freeze({ id, ...row }));
      return true;
    });
  }

  /** Transactions already run one at a time, so holding a person's lock is holding the transaction. */
  async lockPerson(_key: string): Promise<void> {
    this.assertUsable();
    if (!this.tx) throw new Error('state store: lockPerson needs a transaction');
  }

  async listApprovals(requestId: RequestId): Promise<Approval[]> {
    return byId(this.read().approvals)
      .filter((a) => a.request_id === requestId)
      .map(approvalFromRow);
  }

  async listApprovalsFor(requestIds: readonly RequestId[]): Promise<Approval[]> {
    const wanted = new Set(requestIds);
    return byId(this.read().approvals)
      .filter((a) => wanted.has(requestIdOf(a.request_id, 'approvals.request_id')))
      .map(approvalFromRow);
  }

  // --- grants -------------------------------------------------------------------------------------------------

  async createGrant(grant: NewGrant): Promise<Grant> {
    const row = newGrantToRow(grant);
    return this.write((t) => {
      if (!t.requests.has(grant.requestId)) throw foreignKeyError('grants', grant.requestId);
      for (const g of t.grants.values()) {
        if (g.request_id === row.request_id || g.username === row.username) {
          throw new BrokerError(
            'ALREADY_DECIDED',
            `request ${grant.requestId} already has a grant, or the username ${grant.username} is taken`,
            {},
          );
        }
      }
      const id = this.db.nextId('grants');
      const stored = Object.freeze({ id, ...row });
      t.grants.set(id, stored);
      return grantFromRow(stored);
    });
  }

  async getGrant(id: number): Promise<Grant | undefined> {
    const row = this.read().grants.get(id);
    return row ? grantFromRow(row) : undefined;
  }

  async getGrantByRequest(requestId: RequestId): Promise<Grant | undefined> {
    const row = byId(this.read().grants).find((g) => g.request_id === requestId);
    return row ? grantFromRow(row) : undefined;
  }

  async listGrants(filter: GrantFilter): Promise<Grant[]> {
    const ids = filter.ids ? new Set(filter.ids) : undefined;
    const statuses = filter.statuses ? new Set<unknown>(filter.statuses) : undefined;
    const out = byId(this.read().grants).filter(
      (g) =>
        (!statuses || statuses.has(g.status)) &&
        (filter.requesterId === undefined || g.requester_id === filter.requesterId) &&
        (filter.heldBy === undefined || heldBy(g, filter.heldBy)) &&
        (filter.database === undefined || g.database_name === filter.database) &&
        (filter.expiresAtOrBefore === undefined || Number(g.expires_at) <= filter.expiresAtOrBefore) &&
        (filter.createdAtOrBefore === undefined || Number(g.created_at) <= filter.createdAtOrBefore) &&
        (filter.heldDuring === undefined || heldDuring(g, filter.heldDuring)) &&
        (!ids || ids.has(Number(g.id))),
    );
    return out.slice(0, filter.limit ?? out.length).map(grantFromRow);
  }

  async countGrants(statuses: readonly GrantStatus[]): Promise<Map<GrantStatus, { count: number; flagged: number }>> {
    const counts = new Map(statuses.map((st) => [st, { count: 0, flagged: 0 }]));
    for (const g of this.read().grants.values()) {
      const c = counts.get(g.status as GrantStatus);
      if (!c) continue;
      c.count++;
      if (g.flagged_at !== null && g.flagged_at !== undefined) c.flagged++;
    }
    return counts;
  }

  async transitionGrant(id: number, from: readonly GrantStatus[], patch: GrantPatch): Promise<boolean> {
    const set = grantPatchToRow(patch);
    if (from.length === 0) return false;
    return this.write((t) => {
      const row = t.grants.get(id);
      if (!row || !from.includes(row.status as GrantStatus)) return false;
      t.grants.set(id, Object.freeze({ ...row, ...set }));
      return true;
    });
  }

  async transitionGrants(
    ids: readonly GrantId[],
    from: readonly GrantStatus[],
    patch: GrantPatch,
    expiresAtOrBefore?: number,
  ): Promise<GrantId[]> {
    if (ids.length === 0 || from.length === 0) return [];
    const set = grantPatchToRow(patch);
    return this.write((t) => {
      const won = [...new Set(ids)]
        .filter((id) => {
          const row = t.grants.get(id);
          return (
            row !== undefined &&
            from.includes(row.status as GrantStatus) &&
            (expiresAtOrBefore === undefined || Number(row.expires_at) <= expiresAtOrBefore)
          );
        })
        .sort((a, b) => a - b);
      for (const id of won) t.grants.set(id, Object.freeze({ ...t.grants.get(id)!, ...set }));
      return won;
    });
  }

  async claimReminder(id: number, at: number): Promise<boolean> {
    return this.write((t) => {
      const row = t.grants.get(id);
      if (!row || row.status !== 'active' || (row.reminded_at !== null && row.reminded_at !== undefined)) return false;
      t.grants.set(id, Object.freeze({ ...row, reminded_at: at }));
      return true;
    });
  }

  // --- grant activity (sessions seen, statement summaries) ------------------------------------------------------

  async recordSessions(
    at: number,
    sampledGrantIds: readonly GrantId[],
    seen: readonly SeenSession[],
  ): Promise<SeenSession[]> {
    return this.write((t) => {
      const fresh: SeenSession[] = [];
      const previous = new Map(seen.map((x) => [x.grantId, t.grant_activity.get(x.grantId)?.last_sample_at]));
      const keys = new Map<string, number>();
      for (const [id, r] of t.grant_sessions) keys.set(`${String(r.grant_id)} ${String(r.session_key)}`, id);
      for (const s of seen) {
        const key = `${s.grantId} ${s.sessionKey}`;
        const id = keys.get(key);
        if (id !== undefined) {
          t.grant_sessions.set(id, Object.freeze({ ...t.grant_sessions.get(id)!, last_seen_at: at, ended: null }));
          continue;
        }
        const a = t.grant_activity.get(s.grantId) ?? { grant_id: s.grantId, sessions_kept: 0, sessions_dropped: 0 };
        if (Number(a.sessions_kept) >= MAX_SESSIONS_PER_GRANT) {
          const last = previous.get(s.grantId);
          if (startedSince(s, last === null || last === undefined ? undefined : Number(last)))
            t.grant_activity.set(s.grantId, Object.freeze({ ...a, sessions_dropped: Number(a.sessions_dropped) + 1 }));
          continue;
        }
        t.grant_activity.set(s.grantId, Object.freeze({ ...a, sessions_kept: Number(a.sessions_kept) + 1 }));
        const newId = this.db.nextId('grant_sessions');
        t.grant_sessions.set(
          newId,
          Object.freeze({
            id: newId,
            grant_id: s.grantId,
            session_key: s.sessionKey,
            started_at: s.startedAt ?? null,
            client_address: s.clientAddress?.slice(0, 64) ?? null,
            application: s.application?.slice(0, 64) ?? null,
            first_seen_at: at,
            last_seen_at: at,
            ended: null,
          }),
        );
        keys.set(key, newId);
        fresh.push(s);
      }
      for (const id of previous.keys()) {
        const a = t.grant_activity.get(id) ?? { grant_id: id, sessions_kept: 0, sessions_dropped: 0 };
        t.grant_activity.set(id, Object.freeze({ ...a, last_sample_at: at }));
      }
      const sampled = new Set(sampledGrantIds);
      for (const [id, r] of t.grant_sessions) {
        if (
          sampled.has(grantIdOf(r.grant_id, 'grant_sessions.grant_id')) &&
          r.ended === null &&
          Number(r.last_seen_at) < at
        )
          t.grant_sessions.set(id, Object.freeze({ ...r, ended: 'closed' }));
      }
      return fresh;
    });
  }

  async closeGrantActivity(ended: ReadonlyArray<{ grantId: GrantId; statements: StatementSummary }>): Promise<void> {
    await this.write((t) => {
      for (const e of ended) {
        for (const [id, r] of t.grant_sessions)
          if (r.grant_id === e.grantId && r.ended === null)
            t.grant_sessions.set(id, Object.freeze({ ...r, ended: 'revoked' }));
        const a = t.grant_activity.get(e.grantId) ?? { grant_id: e.grantId, sessions_kept: 0, sessions_dropped: 0 };
        t.grant_activity.set(e.grantId, Object.freeze({ ...a, statements: JSON.stringify(e.statements) }));
      }
    });
  }

  async grantActivity(grantIds: readonly GrantId[]): Promise<Map<GrantId, GrantActivity>> {
    const t = this.read();
    const out = new Map<GrantId, GrantActivity>();
    for (const id of grantIds) {
      if (!t.grants.has(id) || out.has(id)) continue;
      const a = t.grant_activity.get(id);
      const entry: GrantActivity = { sessions: [], sessionsDropped: Number(a?.sessions_dropped ?? 0) };
      if (typeof a?.statements === 'string') entry.statements = JSON.parse(a.statements) as StatementSummary;
      const rows = byId(t.grant_sessions).filter((r) => r.grant_id === id);
      rows.sort((x, y) => Number(x.first_seen_at) - Number(y.first_seen_at) || Number(x.id) - Number(y.id));
      for (const r of rows) addToGroups(entry.sessions, sessionOf(r));
      out.set(id, entry);
    }
    return out;
  }

  async selfExtendGrant(id: GrantId, c: SelfExtendCondition): Promise<boolean> {
    return this.write((t) => {
      const row = t.grants.get(id);
      if (!row || row.status !== 'active' || Number(row.expires_at) !== c.from) return false;
      if (Number(row.self_extensions ?? 0) >= c.below) return false;
      if (row.activated_at === null || row.activated_at === undefined) return false;
      if (Number(row.activated_at) + c.maxLifetimeMs < c.to) return false;
      const self_extensions = Number(row.self_extensions ?? 0) + 1;
      t.grants.set(id, Object.freeze({ ...row, expires_at: c.to, reminded_at: null, self_extensions }));
      return true;
    });
  }

  // --- audit (append-only: there is no update or delete) -------------------------------------------------------

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.assertUsable();
    if (!this.tx) return this.transaction((tx) => tx.appendAudit(events));
    // Stored when the transaction commits (and dropped with it if it rolls back).
    this.tx.pendingAudit.push(
      ...events.map((e) => ({ ...e, detail: JSON.parse(JSON.stringify(e.detail ?? {})) as Record<string, unknown> })),
    );
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    const out = byId(this.read().audit_events).filter(
      (r) =>
        (filter.since === undefined || Number(r.at) >= filter.since) &&
        (filter.until === undefined || Number(r.at) < filter.until) &&
        (filter.afterId === undefined || Number(r.id) > filter.afterId) &&
        (filter.grantId === undefined || r.grant_id === filter.grantId) &&
        (filter.requestId === undefined || r.request_id === filter.requestId) &&
        (filter.type === undefined || r.type === filter.type),
    );
    return out.slice(0, filter.limit ?? out.length).map(auditFromRow);
  }

  /** The real store's chain walk (src/store/audit-chain.ts), over these rows. */
  async verifyAudit(): Promise<AuditVerification> {
    const t = this.read();
    const all = [...t.audit_events.values()];
    const chained = all
      .filter((r) => r.seq !== null && r.seq !== undefined)
      .sort((a, b) => Number(a.seq) - Number(b.seq));
    const walk = new ChainWalk();
    for (const r of chained) walk.visit(r);
    return walk.finish(all.length - chained.length, t.audit_head);
  }

  async leaseAuditCursor(name: string, owner: string, now: number, until: number): Promise<number | undefined> {
    return this.write((t) => {
      const row = t.audit_cursors.get(name) ?? { name, last_id: 0, lease_owner: null, lease_until: null };
      const free = row.lease_until === null || Number(row.lease_until) < now || row.lease_owner === owner;
      if (!free) {
        t.audit_cursors.set(name, Object.freeze(row));
        return undefined;
      }
      t.audit_cursors.set(name, Object.freeze({ ...row, lease_owner: owner, lease_until: until }));
      return Number(row.last_id);
    });
  }

  async advanceAuditCursor(name: string, owner: string, from: number, to: number): Promise<boolean> {
    return this.write((t) => {
      const row = t.audit_cursors.get(name);
      if (!row || row.lease_owner !== owner || Number(row.last_id) !== from) return false;
      t.audit_cursors.set(name, Object.freeze({ ...row, last_id: to }));
      return true;
    });
  }

  // --- chat message references --------------------------------------------------------------------------------

  private findMessage(
    t: MemoryTables,
    ref: Pick<MessageRef, 'requestId' | 'platform' | 'kind'>,
  ): [number, Row] | undefined {
    for (const entry of t.chat_messages) {
      const r = entry[1];
      if (r.request_id === ref.requestId && r.platform === ref.platform && r.kind === ref.kind) return entry;
    }
    return undefined;
  }

  async saveMessageRef(ref: MessageRef): Promise<void> {
    const row = messageRefToRow(ref);
    return this.write((t) => {
      if (!t.requests.has(ref.requestId)) throw foreignKeyError('chat_messages', ref.requestId);
      const found = this.findMessage(t, ref);
      // Upsert: channel, message id and version are replaced (version 0 when the caller gives none).
      if (found)
        t.chat_messages.set(
          found[0],
          Object.freeze({ ...found[1], channel: row.channel, message_id: row.message_id, version: row.version }),
        );
      else {
        const id = this.db.nextId('chat_messages');
        t.chat_messages.set(id, Object.freeze({ id, ...row }));
      }
    });
  }

  async claimMessageVersion(
    ref: Pick<MessageRef, 'requestId' | 'platform' | 'kind'>,
    version: number,
  ): Promise<boolean> {
    return this.write((t) => {
      const found = this.findMessage(t, ref);
      if (!found || !(Number(found[1].version) < version)) return false;
      t.chat_messages.set(found[0], Object.freeze({ ...found[1], version }));
      return true;
    });
  }

  async getMessageRefs(requestId: RequestId): Promise<MessageRef[]> {
    return byId(this.read().chat_messages)
      .filter((r) => r.request_id === requestId)
      .map(messageRefFromRow);
  }

  async listMessageRefsFor(requestIds: readonly RequestId[]): Promise<MessageRef[]> {
    const wanted = new Set(requestIds);
    return byId(this.read().chat_messages)
      .filter((r) => wanted.has(requestIdOf(r.request_id, 'chat_messages.request_id')))
      .map(messageRefFromRow);
  }

  // --- chat conversations -------------------------------------------------------------------------------------

  async saveConversation(c: ChatConversation): Promise<void> {
    return this.write((t) => {
      t.chat_conversations.set(
        conversationKey(c.platform, c.key),
        Object.freeze({
          platform: c.platform,
          conversation_key: c.key,
          reference: c.reference,
          updated_at: c.updatedAt,
        }),
      );
    });
  }

  async getConversation(platform: ChatConversation['platform'], key: string): Promise<ChatConversation | undefined> {
    const row = this.read().chat_conversations.get(conversationKey(platform, key));
    return row ? { platform, key, reference: String(row.reference), updatedAt: Number(row.updated_at) } : undefined;
  }

  async claimConversation(c: ChatConversation): Promise<ChatConversation> {
    const k = conversationKey(c.platform, c.key);
    const row = await this.write((t) => {
      const held = t.chat_conversations.get(k);
      if (held) return held;
      const stored = Object.freeze({
        platform: c.platform,
        conversation_key: c.key,
        reference: c.reference,
        updated_at: c.updatedAt,
      });
      t.chat_conversations.set(k, stored);
      return stored;
    });
    return { platform: c.platform, key: c.key, reference: String(row.reference), updatedAt: Number(row.updated_at) };
  }

  // --- chat inbox -----------------------------------------------------------------------------------------------

  async recordInboxAction(action: NewInboxAction): Promise<InboxAction | undefined> {
    const row = newInboxToRow(action);
    return this.write((t) => {
      if (row.dedupe_key !== null) {
        for (const r of t.chat_inbox.values())
          if (r.platform === row.platform && r.dedupe_key === row.dedupe_key) return undefined;
      }
      const id = this.db.nextId('chat_inbox');
      t.chat_inbox.set(id, Object.freeze({ id, ...row, done_at: null, outcome: null }));
      return { ...action, id, status: 'pending' as const, attempts: 1 };
    });
  }

  async claimInboxActions(
    owner: string,
    now: number,
    until: number,
    receivedBefore: number,
    limit: number,
  ): Promise<InboxAction[]> {
    return this.write((t) => {
      const due = byId(t.chat_inbox)
        .filter(
          (r) =>
            r.status === 'pending' &&
            Number(r.received_at) <= receivedBefore &&
            (r.claimed_until === null || Number(r.claimed_until) < now),
        )
        .slice(0, limit);
      return due.map((r) => {
        const claimed = Object.freeze({
          ...r,
          claimed_by: owner,
          claimed_until: until,
          attempts: Number(r.attempts) + 1,
        });
        t.chat_inbox.set(Number(r.id), claimed);
        return inboxFromRow(claimed);
      });
    });
  }

  async finishInboxAction(
    id: number,
    outcome: string,
    at: number,
    status: Exclude<InboxStatus, 'pending'> = 'done',
  ): Promise<boolean> {
    return this.write((t) => {
      const row = t.chat_inbox.get(id);
      if (!row || row.status !== 'pending') return false;
      t.chat_inbox.set(id, Object.freeze({ ...row, status, outcome: outcomeText(outcome), done_at: at }));
      return true;
    });
  }

  async finishInboxActionAtCommit(id: number, outcome: string, at: number, lost: () => Error): Promise<void> {
    if (!(await this.finishInboxAction(id, outcome, at))) throw lost();
  }

  async listInboxActions(
    filter: { statuses?: readonly InboxStatus[]; requestIds?: readonly RequestId[] } = {},
  ): Promise<InboxAction[]> {
    const statuses = filter.statuses ? new Set<unknown>(filter.statuses) : undefined;
    const requestIds = filter.requestIds ? new Set<unknown>(filter.requestIds) : undefined;
    return byId(this.read().chat_inbox)
      .filter((r) => (!statuses || statuses.has(r.status)) && (!requestIds || requestIds.has(r.request_id)))
      .map(inboxFromRow);
  }

  async pruneInboxActions(finishedBefore: number, limit: number): Promise<number> {
    return this.write((t) => {
      const due = byId(t.chat_inbox)
        .filter(
          (r) =>
            (r.status === 'done' || r.status === 'failed') &&
            Number(r.claimed_until) < finishedBefore &&
            r.done_at !== null &&
            Number(r.done_at) < finishedBefore,
        )
        .slice(0, limit);
      for (const r of due) t.chat_inbox.delete(Number(r.id));
      return due.length;
    });
  }

  async installationId(): Promise<string> {
    const known = this.read().installation.get(1);
    if (known) return String(known.installation_id);
    return this.write((t) => {
      const row = t.installation.get(1) ?? Object.freeze({ id: 1, installation_id: randomBytes(8).toString('hex') });
      t.installation.set(1, row);
      return String(row.installation_id);
    });
  }

  // --- lifecycle ----------------------------------------------------------------------------------------------

  async ping(): Promise<void> {
    this.assertUsable();
  }

  async close(): Promise<void> {
    if (this.tx) throw new Error('state store: close the root store, not a transaction');
    this.db.closed = true;
  }

  // --- for tests ----------------------------------------------------------------------------------------------

  /** Every table's columns and committed rows, as the real store's dumpTables gives them (no-secret checks). */
  dumpTables(): Record<string, { columns: string[]; rows: Row[] }> {
    const t = this.db.committed;
    const out: Record<string, { columns: string[]; rows: Row[] }> = {};
    for (const name of Object.keys(COLUMNS) as Array<keyof MemoryTables>) {
      const table = t[name];
      const rows = table instanceof Map ? [...table.values()].map((r) => ({ ...r })) : [{ ...table }];
      out[name] = { columns: [...COLUMNS[name]], rows };
    }
    return out;
  }
}
