/**
 * The audit log's hash chain: each row carries its position (`seq`), the previous row's hash and its own
 * SHA-256 over both and its stored columns. Editing, inserting or deleting a row breaks the chain at that row,
 * and `audit_head` (updated in the same transaction) catches rows cut off the end. Tamper-evident, not
 * tamper-proof: someone who can rewrite every row and the head can forge a consistent log — ship the log off
 * the box (export / webhook) for that.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Row } from './rows.js';

export const GENESIS_HASH = '0'.repeat(64);
export const AUDIT_HEAD = 'audit_head';

export const HASHED_COLUMNS = [
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
] as const;

/** Normalises a stored value the same way on every dialect (pg returns BIGINT as a string). */
function norm(column: string, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (column === 'at' || column === 'request_id' || column === 'grant_id') return Number(v);
  return String(v);
}

/**
 * A row's hash is SHA-256 over the JSON array `[seq, prevHash, ...hashed columns]`. The columns' part, `tail`, is
 * that array's text after `[seq,"prevHash",` — made here, so a server that chains rows itself (commit-writes.ts)
 * needs only to put the position and the previous hash in front of it.
 */
export function hashTail(row: Row): string {
  return JSON.stringify(HASHED_COLUMNS.map((c) => norm(c, row[c]))).slice(1);
}

export function rowHash(seq: number, prevHash: string, row: Row): string {
  return createHash('sha256')
    .update(`[${JSON.stringify(seq)},${JSON.stringify(prevHash)},${hashTail(row)}`)
    .digest('hex');
}

export interface ChainProblem {
  /** The audit row's id, when the problem is at a row. */
  id?: number;
  seq?: number;
  problem: string;
}

export interface ChainVerification {
  ok: boolean;
  rows: number;
  problems: ChainProblem[];
}

/**
 * The chain check over rows given in `seq` order: `visit` each chained row, then `finish` with the number of rows
 * that carry no position and the head row. One walk, whatever holds the rows (this store pages them; the in-memory
 * store has them at hand).
 */
export class ChainWalk {
  private prev = GENESIS_HASH;
  private expectedSeq = 1;
  private rows = 0;
  private readonly problems: ChainProblem[] = [];

  /** The last position visited (where the next page starts). */
  get lastSeq(): number {
    return this.expectedSeq - 1;
  }

  visit(r: Row): void {
    this.rows++;
    const id = Number(r.id);
    const seq = Number(r.seq);
    const expected = this.expectedSeq;
    if (seq !== expected) {
      this.problems.push({
        id,
        seq,
        problem:
          seq > expected
            ? `row(s) with seq ${expected}${seq - 1 > expected ? `–${seq - 1}` : ''} are missing before row ${id} (deleted)`
            : `row ${id} repeats seq ${seq} (inserted)`,
      });
    }
    if (String(r.prev_hash) !== this.prev)
      this.problems.push({
        id,
        seq,
        problem: `row ${id} does not follow the row before it (a row was deleted or inserted before it)`,
      });
    if (rowHash(seq, String(r.prev_hash), r) !== String(r.hash))
      this.problems.push({ id, seq, problem: `row ${id} was modified (its hash does not match its content)` });
    this.prev = String(r.hash);
    this.expectedSeq = seq + 1;
  }

  finish(unchained: number, head: Row | undefined): ChainVerification {
    const problems = [...this.problems];
    if (unchained > 0)
      problems.push({ problem: `${unchained} row(s) carry no chain position (inserted outside the broker)` });
    if (!head) problems.push({ problem: 'the chain head is missing' });
    else if (Number(head.last_seq) !== this.expectedSeq - 1 || String(head.last_hash) !== this.prev) {
      problems.push({
        problem: `the log ends at seq ${this.expectedSeq - 1} but the head says ${String(head.last_seq)}: rows were deleted from the end, or the head was altered`,
      });
    }
    return { ok: problems.length === 0, rows: this.rows, problems };
  }
}

/** Walks the whole chain in order, a page at a time; names every row at which it breaks. */
export async function verifyChain(knex: Knex): Promise<ChainVerification> {
  const walk = new ChainWalk();
  const PAGE = 1000;
  for (;;) {
    const page = (await knex('audit_events')
      .where('seq', '>', walk.lastSeq)
      .orderBy('seq', 'asc')
      .limit(PAGE)) as Row[];
    for (const r of page) walk.visit(r);
    if (page.length < PAGE) break;
  }
  const unchained = (await knex('audit_events').whereNull('seq').count({ n: '*' })) as Array<{ n: number | string }>;
  const head = (await knex(AUDIT_HEAD).where({ id: 1 }).first()) as Row | undefined;
  return walk.finish(Number(unchained[0]?.n ?? 0), head);
}
