/**
 * The StateStore port on knex: SQLite (better-sqlite3), PostgreSQL (pg) and MySQL/MariaDB (mysql2).
 *
 * Race safety comes from single statements, not from reads: decideRequest and transitionGrant are one
 * `UPDATE … WHERE id = ? AND status IN (…)` whose affected-row count is the answer (mysql2 reports matched rows,
 * CLIENT_FOUND_ROWS, like pg and SQLite), and uniqueness is enforced by unique indexes.
 */
import { verifyChain, type ChainVerification } from './audit-chain.js';
import { finishInboxIn, writeAtCommitIn, type InboxFinish } from './commit-writes.js';
import { recordDecidingApprovalPg } from './deciding-approval.js';
import type {
  AccessRequest,
  Actor,
  Approval,
  ApproverRef,
  AuditEvent,
  Grant,
  GrantActivity,
  GrantId,
  GrantStatus,
  RequestId,
  RequestStatus,
  StatementSummary,
} from '../core/model.js';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { BrokerError } from '../core/errors.js';
import type {
  AuditFilter,
  InboxAction,
  InboxStatus,
  NewInboxAction,
  GrantFilter,
  GrantPatch,
  MessageRef,
  ChatConversation,
  NewGrant,
  NewRequest,
  RequestFilter,
  SeenSession,
  SelfExtendCondition,
  StateStore,
} from '../core/ports.js';
import { closeGrantActivityIn, readGrantActivity, recordSessionsIn } from './grant-activity.js';
import type { StoreDialect } from './url.js';
import { WriteBatcher } from './write-batcher.js';
import { isUniqueViolation } from './errors.js';
import { claimMessageVersionsIn, saveMessageRefsIn, type VersionClaim } from './message-refs.js';
import { recordInboxActionsIn } from './inbox-writes.js';
import { isPoolerLoss, isStalePlan } from './pg-prepared.js';
import { INBOX_TABLE, inboxFromRow } from './inbox-rows.js';
import {
  TABLES,
  approvalFromRow,
  approvalToRow,
  auditFromRow,
  grantFromRow,
  grantIdOf,
  grantPatchToRow,
  messageRefFromRow,
  newGrantToRow,
  num,
  requestFromRow,
  requestToRow,
  type Row,
} from './rows.js';

/** How often a transaction chosen as a deadlock victim is run in all. */
const DEADLOCK_RETRIES = 3;

/** PostgreSQL 40P01 (deadlock detected), MySQL/MariaDB 1213 (ER_LOCK_DEADLOCK). */
/** A deadlock victim, or a PostgreSQL transaction that hit a prepared statement gone stale (pg-prepared.ts). */
function isRetryable(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | undefined;
  return e?.code === '40P01' || e?.errno === 1213 || isStalePlan(err) || isPoolerLoss(err);
}

export class KnexStateStore implements StateStore {
  /**
   * @param knex the root knex instance, or the transaction this store is bound to
   * @param inTransaction true for the store handed to `transaction(fn)`
   */
  constructor(
    readonly knex: Knex,
    readonly dialect: StoreDialect,
    private readonly inTransaction = false,
  ) {}

  private readonly refWrites = new WriteBatcher((refs: MessageRef[]) => saveMessageRefsIn(this.knex, refs));
  private readonly versionClaims = new WriteBatcher((claims: VersionClaim[]) =>
    claimMessageVersionsIn(this.knex, this.dialect, claims),
  );
  private readonly inboxWrites = new WriteBatcher((actions: NewInboxAction[]) =>
    recordInboxActionsIn(this.knex, this.dialect, actions),
  );

  /** Audit events of this transaction, appended to the chain just before it commits (see transaction()). */
  private readonly pendingAudit: AuditEvent[] = [];
  /** The inbox row this transaction finishes as it commits (finishInboxActionAtCommit, PostgreSQL). */
  private pendingFinish: (InboxFinish & { lost: () => Error }) | undefined;

  /**
   * Runs `fn` in one transaction. Audit events it appends are chained at the end, under the chain head's lock: the
   * head is the last lock a transaction takes and is held only for the append, so transactions run side by side
   * until then and their audit rows still go in one order. A transaction chosen as a deadlock victim, or one that met a stale prepared statement, is run again.
   */
  async transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this); // nested: same transaction
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.knex.transaction(async (trx) => {
          if (this.dialect === 'sqlite') {
            // Take SQLite's write lock now (what BEGIN IMMEDIATE does): another process then waits on busy_timeout,
            // instead of both reading and one failing with SQLITE_BUSY when it tries to write.
            await trx.raw(`update ${TABLES.requests} set id = id where 0 = 1`);
          }
          const tx = new KnexStateStore(trx, this.dialect, true);
          const result = await fn(tx);
          const wrote = await tx.writeAtCommit();
          if (this.dialect === 'postgres' && !wrote) {
            // PostgreSQL answers COMMIT of an aborted transaction (an error fn caught and went on from) with a silent
            // ROLLBACK. One more statement turns that into an error, so a resolved transaction() is a committed one.
            // (What writeAtCommit sends, when there is something, is that statement.)
            await trx.raw('select 1');
          }
          return result;
        });
      } catch (err) {
        if (attempt >= DEADLOCK_RETRIES || !isRetryable(err)) throw err;
      }
    }
  }

  /**
   * Writes what the transaction left for its end (audit events, an inbox row's finish); false when there was nothing.
   * Throws the finish's `lost()` when its inbox row was no longer pending.
   */
  private async writeAtCommit(): Promise<boolean> {
    const events = this.pendingAudit.splice(0);
    const finish = this.pendingFinish;
    this.pendingFinish = undefined;
    if (events.length === 0 && !finish) return false;
    if (!(await writeAtCommitIn(this.knex, this.dialect, events, finish))) throw finish!.lost();
    return true;
  }

  // --- requests -----------------------------------------------------------------------------------------------

  async createRequest(req: NewRequest): Promise<AccessRequest> {
    const stored = await this.insertReturningRow(TABLES.requests, requestToRow(req));
    if (!stored) throw new Error('state store: the request insert returned no row');
    return requestFromRow(stored);
  }

  async getRequest(id: number): Promise<AccessRequest | undefined> {
    const row = (await this.knex(TABLES.requests).where({ id }).first()) as Row | undefined;
    return row ? requestFromRow(row) : undefined;
  }

  async listRequests(filter: RequestFilter): Promise<AccessRequest[]> {
    const q = this.knex(TABLES.requests).select('*').orderBy('id', 'asc');
    if (filter.statuses) q.whereIn('status', [...filter.statuses]);
    if (filter.requesterId !== undefined) q.where('requester_id', filter.requesterId);
    if (filter.requestedBy !== undefined) this.byPerson(q, filter.requestedBy);
    if (filter.database !== undefined) q.where('database_name', filter.database);
    if (filter.decideByOrBefore !== undefined) q.where('decide_by', '<=', filter.decideByOrBefore);
    if (filter.nextEscalationAtOrBefore !== undefined)
      q.where('next_escalation_at', '<=', filter.nextEscalationAtOrBefore);
    if (filter.reviewOverdueAt !== undefined) {
      q.where('break_glass', true)
        .whereNull('reviewed_at')
        .whereNull('review_escalated_at')
        .where('review_by', '<=', filter.reviewOverdueAt);
    }
    if (filter.withIncident) q.whereNotNull('incident_id');
    if (filter.createdAtOrAfter !== undefined) q.where('created_at', '>=', filter.createdAtOrAfter);
    if (filter.ids) q.whereIn('id', [...filter.ids]);
    if (filter.partOf !== undefined) q.where('part_of', filter.partOf);
    if (filter.limit !== undefined) q.limit(filter.limit);
    return ((await q) as Row[]).map(requestFromRow);
  }

  async countRequests(statuses: readonly RequestStatus[]): Promise<Map<RequestStatus, number>> {
    const counts = new Map(statuses.map((st) => [st, 0]));
    if (statuses.length === 0) return counts;
    const rows = (await this.knex(TABLES.requests)
      .select('status')
      .count({ n: '*' })
      .whereIn('status', [...statuses])
      .groupBy('status')) as Row[];
    for (const r of rows) counts.set(r.status as RequestStatus, Number(r.n));
    return counts;
  }

  async decideRequest(
    id: number,
    status: Exclude<RequestStatus, 'pending'>,
    at: number,
    note?: string,
  ): Promise<boolean> {
    if ((status as RequestStatus) === 'pending') throw new Error('state store: decideRequest cannot set pending');
    const q = this.knex(TABLES.requests).where({ id, status: 'pending' satisfies RequestStatus });
    // A decision by approvers counts only before the approval deadline; expiring is what happens after it.
    if (status === 'approved' || status === 'denied')
      q.where((w) => w.whereNull('decide_by').orWhere('decide_by', '>', at));
    const changed = await q.update({ status, decided_at: at, decision_note: note ?? null });
    return changed === 1;
  }

  // --- approvals ----------------------------------------------------------------------------------------------

  async recordApproval(approval: Approval): Promise<boolean> {
    const row = approvalToRow(approval);
    if (this.dialect === 'mysql') {
      // A duplicate-key error in InnoDB rolls back the statement only, never the transaction. (INSERT IGNORE would
      // also swallow a foreign-key failure.)
      try {
        await this.knex(TABLES.approvals).insert(row);
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    }
    // PostgreSQL aborts the whole transaction on an error: ON CONFLICT DO NOTHING keeps the duplicate quiet.
    // No conflict target: a second row of the same account or of the same person (approver_key) is ignored alike.
    const inserted = (await this.knex(TABLES.approvals).insert(row).onConflict().ignore().returning('id')) as unknown[];
    return inserted.length === 1;
  }

  async recordDecidingApproval(approval: Approval, note: string): Promise<{ recorded: boolean; decided: boolean }> {
    if (this.dialect === 'postgres') return recordDecidingApprovalPg(this.knex, approvalToRow(approval), note);
    if (!(await this.recordApproval(approval))) return { recorded: false, decided: false };
    return { recorded: true, decided: await this.decideRequest(approval.requestId, 'approved', approval.at, note) };
  }

  async lockPerson(key: string): Promise<void> {
    if (!this.inTransaction) throw new Error('state store: lockPerson needs a transaction');
    // Inserting the row, or "updating" it when it exists, takes its row lock until the transaction ends (SQLite's
    // transactions already run one at a time).
    await this.knex(TABLES.personLocks).insert({ person_key: key }).onConflict('person_key').merge();
  }

  async listApprovals(requestId: RequestId): Promise<Approval[]> {
    const rows = (await this.knex(TABLES.approvals).where({ request_id: requestId }).orderBy('id', 'asc')) as Row[];
    return rows.map(approvalFromRow);
  }

  async listApprovalsFor(requestIds: readonly RequestId[]): Promise<Approval[]> {
    if (requestIds.length === 0) return [];
    const rows = (await this.knex(TABLES.approvals)
      .whereIn('request_id', [...requestIds])
      .orderBy('id', 'asc')) as Row[];
    return rows.map(approvalFromRow);
  }

  // --- grants -------------------------------------------------------------------------------------------------

  async createGrant(grant: NewGrant): Promise<Grant> {
    let stored: Row | undefined;
    try {
      // PostgreSQL: ON CONFLICT DO NOTHING instead of an error, so the enclosing transaction stays usable without
      // a savepoint (MySQL and SQLite roll back only the statement).
      stored = await this.insertReturningRow(TABLES.grants, newGrantToRow(grant), {
        ignoreConflicts: this.dialect === 'postgres',
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    if (!stored) {
      throw new BrokerError(
        'ALREADY_DECIDED',
        `request ${grant.requestId} already has a grant, or the username ${grant.username} is taken`,
        {},
      );
    }
    return grantFromRow(stored);
  }

  async getGrant(id: number): Promise<Grant | undefined> {
    const row = (await this.knex(TABLES.grants).where({ id }).first()) as Row | undefined;
    return row ? grantFromRow(row) : undefined;
  }

  async getGrantByRequest(requestId: RequestId): Promise<Grant | undefined> {
    const row = (await this.knex(TABLES.grants).where({ request_id: requestId }).first()) as Row | undefined;
    return row ? grantFromRow(row) : undefined;
  }

  async listGrants(filter: GrantFilter): Promise<Grant[]> {
    const q = this.knex(TABLES.grants).select('*').orderBy('id', 'asc');
    if (filter.statuses) q.whereIn('status', [...filter.statuses]);
    if (filter.requesterId !== undefined) q.where('requester_id', filter.requesterId);
    if (filter.heldBy !== undefined) this.byPerson(q, filter.heldBy);
    if (filter.database !== undefined) q.where('database_name', filter.database);
    if (filter.expiresAtOrBefore !== undefined) q.where('expires_at', '<=', filter.expiresAtOrBefore);
    if (filter.createdAtOrBefore !== undefined) q.where('created_at', '<=', filter.createdAtOrBefore);
    if (filter.heldDuring !== undefined) {
      const { since, until } = filter.heldDuring;
      q.where('activated_at', '<', until).where((w) => w.whereNull('revoked_at').orWhere('revoked_at', '>=', since));
    }
    if (filter.ids) q.whereIn('id', [...filter.ids]);
    if (filter.limit !== undefined) q.limit(filter.limit);
    return ((await q) as Row[]).map(grantFromRow);
  }

  /** Rows whose requester is this person, as `isRequester` decides it (same account, or same email any case). */
  private byPerson(q: Knex.QueryBuilder, person: Pick<Actor, 'platform' | 'id' | 'email'>): void {
    const { platform, id, email } = person;
    q.where((w) => {
      w.where({ requester_platform: platform, requester_id: id });
      if (email) w.orWhereRaw('lower(requester_email) = ?', [email.toLowerCase()]);
    });
  }

  async countGrants(statuses: readonly GrantStatus[]): Promise<Map<GrantStatus, { count: number; flagged: number }>> {
    const counts = new Map(statuses.map((st) => [st, { count: 0, flagged: 0 }]));
    if (statuses.length === 0) return counts;
    const rows = (await this.knex(TABLES.grants)
      .select('status')
      .count({ n: '*' })
      .count({ flagged: 'flagged_at' })
      .whereIn('status', [...statuses])
      .groupBy('status')) as Row[];
    for (const r of rows) counts.set(r.status as GrantStatus, { count: Number(r.n), flagged: Number(r.flagged) });
    return counts;
  }

  async transitionGrant(id: number, from: readonly GrantStatus[], patch: GrantPatch): Promise<boolean> {
    const set = grantPatchToRow(patch);
    if (from.length === 0) return false;
    // An empty patch still answers "is it in one of `from`?" with the same single statement.
    const values = Object.keys(set).length > 0 ? set : { status: this.knex.ref('status') };
    const changed = await this.knex(TABLES.grants)
      .where({ id })
      .whereIn('status', [...from])
      .update(values);
    return changed === 1;
  }

  async transitionGrants(
    ids: readonly GrantId[],
    from: readonly GrantStatus[],
    patch: GrantPatch,
    expiresAtOrBefore?: number,
  ): Promise<GrantId[]> {
    if (ids.length === 0 || from.length === 0) return [];
    const set = grantPatchToRow(patch);
    const changes = Object.keys(set).length > 0 ? set : { status: this.knex.ref('status') };
    if (this.dialect === 'postgres') {
      // One statement: the UPDATE locks each row and re-checks the condition on its latest version (READ COMMITTED),
      // so of two racing transitions exactly one changes a row, and RETURNING says which.
      const u = this.knex(TABLES.grants)
        .whereIn('id', [...ids])
        .whereIn('status', [...from]);
      if (expiresAtOrBefore !== undefined) u.where('expires_at', '<=', expiresAtOrBefore);
      return ((await u.update(changes).returning('id')) as Row[])
        .map((r) => grantIdOf(r.id, 'grants.id'))
        .sort((a, b) => a - b);
    }
    if (!this.inTransaction) return this.transaction((tx) => tx.transitionGrants(ids, from, patch, expiresAtOrBefore));
    // Which rows qualify is read under a row lock (SQLite: the transaction already holds the write lock), so the
    // update changes exactly those; MariaDB has no UPDATE … RETURNING.
    const q = this.knex(TABLES.grants)
      .select('id')
      .whereIn('id', [...ids])
      .whereIn('status', [...from]);
    if (expiresAtOrBefore !== undefined) q.where('expires_at', '<=', expiresAtOrBefore);
    const won = ((await (this.dialect === 'sqlite' ? q : q.forUpdate())) as Row[]).map((r) =>
      grantIdOf(r.id, 'grants.id'),
    );
    if (won.length === 0) return [];
    await this.knex(TABLES.grants).whereIn('id', won).update(changes);
    return won.sort((a, b) => a - b);
  }

  async escalateRequest(
    id: number,
    fromTier: number,
    toTier: number,
    approvers: readonly ApproverRef[],
    nextEscalationAt: number | null,
  ): Promise<boolean> {
    const changed = await this.knex(TABLES.requests)
      .where({ id, status: 'pending' satisfies RequestStatus, tier: fromTier })
      .update({ tier: toTier, approvers: JSON.stringify(approvers), next_escalation_at: nextEscalationAt });
    return changed === 1;
  }

  async markReview(id: number, field: 'reviewedAt' | 'reviewEscalatedAt', at: number): Promise<boolean> {
    const column = field === 'reviewedAt' ? 'reviewed_at' : 'review_escalated_at';
    const changed = await this.knex(TABLES.requests)
      .where({ id, break_glass: true })
      .whereNull(column)
      .update({ [column]: at });
    return changed === 1;
  }

  async claimReminder(id: number, at: number): Promise<boolean> {
    const changed = await this.knex(TABLES.grants)
      .where({ id, status: 'active' satisfies GrantStatus })
      .whereNull('reminded_at')
      .update({ reminded_at: at });
    return changed === 1;
  }

  async selfExtendGrant(id: number, c: SelfExtendCondition): Promise<boolean> {
    // One statement: the row lock and the re-check of every condition on its latest version decide which of two
    // racing extensions counts.
    const changed = await this.knex(TABLES.grants)
      .where({ id, status: 'active' satisfies GrantStatus, expires_at: c.from })
      .where('self_extensions', '<', c.below)
      .whereNotNull('activated_at')
      .whereRaw('activated_at + ? >= ?', [c.maxLifetimeMs, c.to])
      .update({ expires_at: c.to, reminded_at: null, self_extensions: this.knex.raw('self_extensions + 1') });
    return changed === 1;
  }

  // --- audit (append-only: there is no update or delete) -------------------------------------------------------

  async recordSessions(
    at: number,
    sampledGrantIds: readonly GrantId[],
    seen: readonly SeenSession[],
  ): Promise<SeenSession[]> {
    if (seen.length === 0 && sampledGrantIds.length === 0) return [];
    return this.transaction((tx) =>
      recordSessionsIn((tx as KnexStateStore).knex, this.dialect, at, sampledGrantIds, seen),
    );
  }

  async closeGrantActivity(ended: ReadonlyArray<{ grantId: GrantId; statements: StatementSummary }>): Promise<void> {
    if (ended.length === 0) return;
    await this.transaction((tx) => closeGrantActivityIn((tx as KnexStateStore).knex, this.dialect, ended));
  }

  grantActivity(grantIds: readonly GrantId[]): Promise<Map<GrantId, GrantActivity>> {
    return readGrantActivity(this.knex, grantIds);
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (!this.inTransaction) return this.transaction((tx) => tx.appendAudit(events));
    // Written when the transaction is about to commit (and dropped with it if it rolls back).
    this.pendingAudit.push(...events);
  }

  async leaseAuditCursor(name: string, owner: string, now: number, until: number): Promise<number | undefined> {
    await this.knex('audit_cursors').insert({ name, last_id: 0 }).onConflict('name').ignore();
    const taken = await this.knex('audit_cursors')
      .where({ name })
      .andWhere((q) => q.whereNull('lease_until').orWhere('lease_until', '<', now).orWhere('lease_owner', owner))
      .update({ lease_owner: owner, lease_until: until });
    if (taken !== 1) return undefined;
    const row = (await this.knex('audit_cursors').where({ name }).first()) as Row;
    return Number(row.last_id);
  }

  async advanceAuditCursor(name: string, owner: string, from: number, to: number): Promise<boolean> {
    const changed = await this.knex('audit_cursors')
      .where({ name, lease_owner: owner, last_id: from })
      .update({ last_id: to });
    return changed === 1;
  }

  async verifyAudit(): Promise<ChainVerification> {
    return verifyChain(this.knex);
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    const q = this.knex(TABLES.audit).select('*').orderBy('id', 'asc');
    if (filter.since !== undefined) q.where('at', '>=', filter.since);
    if (filter.until !== undefined) q.where('at', '<', filter.until);
    if (filter.afterId !== undefined) q.where('id', '>', filter.afterId);
    if (filter.grantId !== undefined) q.where('grant_id', filter.grantId);
    if (filter.requestId !== undefined) q.where('request_id', filter.requestId);
    if (filter.type !== undefined) q.where('type', filter.type);
    if (filter.limit !== undefined) q.limit(filter.limit);
    return ((await q) as Row[]).map(auditFromRow);
  }

  // --- chat message references --------------------------------------------------------------------------------

  /**
   * Outside a transaction, references and version claims go through write batchers (write-batcher.ts): the many a
   * provisioning batch makes at once (a DM reference and an approval-message claim per grant) cost a statement and a
   * commit each otherwise.
   */
  async saveMessageRef(ref: MessageRef): Promise<void> {
    if (this.inTransaction) await saveMessageRefsIn(this.knex, [ref]);
    else await this.refWrites.submit(ref);
  }

  async claimMessageVersion(
    ref: Pick<MessageRef, 'requestId' | 'platform' | 'kind'>,
    version: number,
  ): Promise<boolean> {
    if (this.inTransaction) return (await claimMessageVersionsIn(this.knex, this.dialect, [{ ref, version }]))[0]!;
    return this.versionClaims.submit({ ref, version });
  }

  async getMessageRefs(requestId: RequestId): Promise<MessageRef[]> {
    const rows = (await this.knex(TABLES.chatMessages).where({ request_id: requestId }).orderBy('id', 'asc')) as Row[];
    return rows.map(messageRefFromRow);
  }

  async listMessageRefsFor(requestIds: readonly RequestId[]): Promise<MessageRef[]> {
    if (requestIds.length === 0) return [];
    const rows = (await this.knex(TABLES.chatMessages)
      .whereIn('request_id', [...requestIds])
      .orderBy('id', 'asc')) as Row[];
    return rows.map(messageRefFromRow);
  }

  async saveConversation(c: ChatConversation): Promise<void> {
    await this.knex('chat_conversations')
      .insert({ platform: c.platform, conversation_key: c.key, reference: c.reference, updated_at: c.updatedAt })
      .onConflict(['platform', 'conversation_key'])
      .merge(['reference', 'updated_at']);
  }

  async claimConversation(c: ChatConversation): Promise<ChatConversation> {
    await this.knex('chat_conversations')
      .insert({ platform: c.platform, conversation_key: c.key, reference: c.reference, updated_at: c.updatedAt })
      .onConflict(['platform', 'conversation_key'])
      .ignore();
    const held = await this.getConversation(c.platform, c.key);
    if (!held)
      throw new Error(`state store: chat conversation ${c.platform}/${c.key} vanished right after it was claimed`);
    return held;
  }

  async getConversation(platform: ChatConversation['platform'], key: string): Promise<ChatConversation | undefined> {
    const row = (await this.knex('chat_conversations').where({ platform, conversation_key: key }).first()) as
      Row | undefined;
    if (!row) return undefined;
    return {
      platform,
      key,
      reference: String(row.reference),
      updatedAt: num(row.updated_at, 'chat_conversations.updated_at'),
    };
  }

  // --- chat inbox -----------------------------------------------------------------------------------------------

  /**
   * The listener waits for this before acknowledging (Slack's 3 s budget). On PostgreSQL, outside a transaction,
   * actions recorded at once go in one insert and one commit (write-batcher.ts): a burst of clicks costs a few
   * commits, not one each.
   */
  async recordInboxAction(action: NewInboxAction): Promise<InboxAction | undefined> {
    if (this.dialect === 'postgres' && !this.inTransaction) return this.inboxWrites.submit(action);
    return (await recordInboxActionsIn(this.knex, this.dialect, [action]))[0];
  }

  async claimInboxActions(
    owner: string,
    now: number,
    until: number,
    receivedBefore: number,
    limit: number,
  ): Promise<InboxAction[]> {
    const due = (await this.knex(INBOX_TABLE)
      .select('id')
      .where({ status: 'pending' })
      .where('received_at', '<=', receivedBefore)
      .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now))
      .orderBy('id', 'asc')
      .limit(limit)) as Row[];
    const claimed: InboxAction[] = [];
    for (const { id } of due) {
      // Conditional on the lease still being lapsed: of two claimers, one changes the row.
      const changed = await this.knex(INBOX_TABLE)
        .where({ id, status: 'pending' })
        .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now))
        .update({ claimed_by: owner, claimed_until: until, attempts: this.knex.raw('attempts + 1') });
      if (changed !== 1) continue;
      const row = (await this.knex(INBOX_TABLE).where({ id }).first()) as Row | undefined;
      if (row) claimed.push(inboxFromRow(row));
    }
    return claimed;
  }

  async finishInboxAction(
    id: number,
    outcome: string,
    at: number,
    status: Exclude<InboxStatus, 'pending'> = 'done',
  ): Promise<boolean> {
    return finishInboxIn(this.knex, { id, outcome, at }, status);
  }

  async finishInboxActionAtCommit(id: number, outcome: string, at: number, lost: () => Error): Promise<void> {
    // PostgreSQL: with the audit append, one statement (commit-writes.ts). One row per transaction is deferred.
    if (this.inTransaction && this.dialect === 'postgres' && !this.pendingFinish) {
      this.pendingFinish = { id, outcome, at, lost };
      return;
    }
    if (!(await this.finishInboxAction(id, outcome, at))) throw lost();
  }

  async listInboxActions(
    filter: { statuses?: readonly InboxStatus[]; requestIds?: readonly RequestId[] } = {},
  ): Promise<InboxAction[]> {
    const q = this.knex(INBOX_TABLE).select('*').orderBy('id', 'asc');
    if (filter.statuses) q.whereIn('status', [...filter.statuses]);
    if (filter.requestIds) q.whereIn('request_id', [...filter.requestIds]);
    return ((await q) as Row[]).map(inboxFromRow);
  }

  async pruneInboxActions(finishedBefore: number, limit: number): Promise<number> {
    // Bounding claimed_until too lets the (status, claimed_until) index serve the scan: it is set when an action is
    // recorded or claimed (then + a lease), before it finishes, so this holds a row back by at most one lease beyond
    // `finishedBefore`. Two statements: MySQL takes no LIMIT in a DELETE's IN subquery, PostgreSQL none on DELETE.
    const due = (await this.knex(INBOX_TABLE)
      .select('id')
      .whereIn('status', ['done', 'failed'])
      .where('claimed_until', '<', finishedBefore)
      .where('done_at', '<', finishedBefore)
      .orderBy('id', 'asc')
      .limit(limit)) as Row[];
    if (due.length === 0) return 0;
    const ids = due.map((r) => num(r.id, 'chat_inbox.id'));
    return this.knex(INBOX_TABLE).whereIn('id', ids).whereIn('status', ['done', 'failed']).del();
  }

  async installationId(): Promise<string> {
    const read = async () =>
      ((await this.knex('installation').where({ id: 1 }).first()) as Row | undefined)?.installation_id;
    const known = await read();
    if (known) return String(known);
    await this.knex('installation')
      .insert({ id: 1, installation_id: randomBytes(8).toString('hex') })
      .onConflict('id')
      .ignore();
    return String(await read());
  }

  // --- lifecycle ----------------------------------------------------------------------------------------------

  async ping(): Promise<void> {
    await this.knex.raw('select 1');
  }

  async close(): Promise<void> {
    if (this.inTransaction) throw new Error('state store: close the root store, not a transaction');
    await this.knex.destroy();
  }

  /** INSERT one row and return its auto-increment id (MySQL has no RETURNING: the insert id). */
  /**
   * Inserts and returns the row as stored: one statement where the dialect has RETURNING (PostgreSQL, SQLite), an
   * insert and a read-back on MySQL. With ignoreConflicts (not on MySQL), a row that would violate a unique index
   * is not inserted and undefined comes back.
   */
  private async insertReturningRow(
    table: string,
    row: Row,
    { ignoreConflicts = false } = {},
  ): Promise<Row | undefined> {
    if (this.dialect === 'mysql') {
      const [id] = (await this.knex(table).insert(row)) as unknown[];
      return (await this.knex(table)
        .where({ id: num(id, `${table}.id`) })
        .first()) as Row | undefined;
    }
    const insert = this.knex(table).insert(row);
    const [stored] = (await (ignoreConflicts ? insert.onConflict().ignore() : insert).returning('*')) as Row[];
    return stored;
  }
}
