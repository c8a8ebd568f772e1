/**
 * What a state-store transaction writes as it ends: its audit events, appended to the hash chain (audit-chain.ts)
 * under the chain head's lock, in order, moving the head with them; and, for a chat action's transaction, the
 * action's inbox row pending → done.
 *
 * PostgreSQL: one statement. The head is locked, the server hashes each row (`sha256` over the same text rowHash
 * hashes: the position and previous hash it holds, then the columns' JSON made here), inserts the rows, moves the
 * head and finishes the inbox row. Elsewhere: the head is read for update, the rows are hashed here and inserted, the
 * head is moved, the inbox row finished.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../core/model.js';
import type { InboxStatus } from '../core/ports.js';
import { AUDIT_HEAD, GENESIS_HASH, HASHED_COLUMNS, hashTail, rowHash } from './audit-chain.js';
import { INBOX_TABLE, outcomeText } from './inbox-rows.js';
import { TABLES, auditToRow, type Row } from './rows.js';
import type { StoreDialect } from './url.js';

/** The type each hashed column is read as from the statement's JSON parameter. */
const COLUMN_TYPES: Record<(typeof HASHED_COLUMNS)[number], string> = {
  at: 'bigint',
  type: 'text',
  actor_platform: 'text',
  actor_id: 'text',
  actor_email: 'text',
  actor_name: 'text',
  request_id: 'integer',
  grant_id: 'integer',
  database_name: 'text',
  level: 'text',
  detail: 'text',
};

const columns = HASHED_COLUMNS.join(', ');

/** An inbox row to move from pending to done (or failed) with the transaction's last statement. */
export interface InboxFinish {
  id: number;
  outcome: string;
  at: number;
}

const FINISH_CTE = `done as (
    update ${INBOX_TABLE} set status = 'done', outcome = ?, done_at = ? where id = ? and status = 'pending' returning id
  ),`;

/**
 * `done`: the inbox row, when there is one. `ev`: the events, numbered from 1. `chain`: the head (0), then each
 * event's position, previous hash and hash in turn. A data-modifying CTE runs to completion whether or not the outer
 * statement reads it. READ COMMITTED: the head's lock waits for a transaction appending at the same time, then reads
 * the head it left; the inbox row's update, for one finishing the same row, then finds it no longer pending.
 */
const pgAppend = (finish: boolean) => `with recursive ${finish ? FINISH_CTE : ''}
  head as (select last_seq, last_hash from ${AUDIT_HEAD} where id = 1 for update),
  ev as (
    select * from json_to_recordset(?::json)
      as e(n integer, ${HASHED_COLUMNS.map((c) => `${c} ${COLUMN_TYPES[c]}`).join(', ')}, tail text)
  ),
  chain(n, seq, prev_hash, hash) as (
    select 0, last_seq, null::text, last_hash::text from head
    union all
    select e.n, c.seq + 1, c.hash,
      encode(sha256(convert_to('[' || (c.seq + 1) || ',' || to_json(c.hash)::text || ',' || e.tail, 'UTF8')), 'hex')
    from chain c join ev e on e.n = c.n + 1
  ),
  appended as (
    insert into ${TABLES.audit} (${columns}, seq, prev_hash, hash)
    select ${HASHED_COLUMNS.map((c) => `e.${c}`).join(', ')}, c.seq, c.prev_hash, c.hash
    from ev e join chain c on c.n = e.n order by e.n
    returning seq
  )
update ${AUDIT_HEAD} set last_seq = t.seq, last_hash = t.hash
  from (select seq, hash from chain order by n desc limit 1) t
  where ${AUDIT_HEAD}.id = 1
returning (select count(*) from appended) as appended${finish ? ', (select count(*) from done) as done' : ''}`;
const PG_APPEND = pgAppend(false);
const PG_APPEND_AND_FINISH = pgAppend(true);

/**
 * Appends `events` and finishes `finish`'s inbox row; returns false when that row was no longer pending (the caller
 * then rolls the transaction back).
 */
export async function writeAtCommitIn(
  knex: Knex,
  dialect: StoreDialect,
  events: readonly AuditEvent[],
  finish?: InboxFinish,
): Promise<boolean> {
  const rows = events.map(auditToRow);
  if (dialect === 'postgres' && rows.length > 0) {
    const param = JSON.stringify(rows.map((r, i) => ({ ...r, n: i + 1, tail: hashTail(r) })));
    const res = (await (finish
      ? knex.raw(PG_APPEND_AND_FINISH, [outcomeText(finish.outcome), finish.at, finish.id, param])
      : knex.raw(PG_APPEND, [param]))) as { rows: Array<{ appended: string | number; done?: string | number }> };
    const out = res.rows[0];
    if (Number(out?.appended ?? 0) === rows.length) return !finish || Number(out?.done) === 1;
    // No head row (the migrations make it; someone removed it): nothing was written; as below, from the start.
  }
  if (finish && !(await finishInboxIn(knex, finish))) return false;
  if (rows.length > 0) await appendHashedHere(knex, dialect, rows);
  return true;
}

/** pending → done; false when the row was no longer pending. */
export async function finishInboxIn(
  knex: Knex,
  finish: InboxFinish,
  status: Exclude<InboxStatus, 'pending'> = 'done',
): Promise<boolean> {
  const changed = await knex(INBOX_TABLE)
    .where({ id: finish.id, status: 'pending' })
    .update({ status, outcome: outcomeText(finish.outcome), done_at: finish.at });
  return changed === 1;
}

async function appendHashedHere(knex: Knex, dialect: StoreDialect, rows: readonly Row[]): Promise<void> {
  const head = (await (dialect === 'sqlite'
    ? knex(AUDIT_HEAD).where({ id: 1 }).first()
    : knex(AUDIT_HEAD).where({ id: 1 }).forUpdate().first())) as Row | undefined;
  let prev = head ? String(head.last_hash) : GENESIS_HASH;
  let seq = head ? Number(head.last_seq) : 0;
  const chained = rows.map((row) => {
    seq++;
    const hash = rowHash(seq, prev, row);
    const out = { ...row, seq, prev_hash: prev, hash };
    prev = hash;
    return out;
  });
  await knex(TABLES.audit).insert(chained);
  await knex(AUDIT_HEAD).where({ id: 1 }).update({ last_seq: seq, last_hash: prev });
}
