/**
 * The in-memory StateStore (dev/fakes) is held to the same contract as the real store on SQLite, PostgreSQL and
 * MariaDB/MySQL, so tests of the core on it test the core, not a looser double. The one contract case it cannot run
 * (tampering through knex) is repeated here on its own rows, with the same assertions.
 */
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/model.js';
import { MemoryStateStore } from '../../dev/fakes/memory-state-store.js';
import { stateStoreContract } from '../contract/state-store.contract.js';
import { rid } from '../support/ids.js';

stateStoreContract('in memory (dev/fakes)', async () => {
  const store = new MemoryStateStore();
  return {
    store,
    knexTables: false,
    tables: async () => store.dumpTables(),
    teardown: () => store.close(),
  };
});

describe('in-memory store: the audit chain names tampered rows', () => {
  const who: Actor = { platform: 'slack', id: 'UTAMPER' };
  const T0 = Date.UTC(2031, 0, 2, 3, 4, 5, 678);

  it('verifies a chain built by concurrent appends, and names a modified, a deleted and an inserted row', async () => {
    const store = new MemoryStateStore();
    // Tampering goes around the store, straight to its committed rows, as an intruder with database access would.
    const rows = () => store.db.committed.audit_events;
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store.appendAudit([
          { at: T0 + i, type: 'request.created', actor: who, detail: { i } },
          { at: T0 + i, type: 'approval.recorded', actor: who, detail: { i } },
        ]),
      ),
    );
    const ok = await store.verifyAudit();
    expect(ok).toEqual({ ok: true, rows: 24, problems: [] });
    const bySeq = [...rows().values()].sort((a, b) => Number(a.seq) - Number(b.seq));
    const pickRow = (k: number) => Number(bySeq.at(-k)!.id);

    const edited = pickRow(3);
    rows().set(edited, { ...rows().get(edited)!, detail: '{"i":"tampered"}' });
    const afterEdit = await store.verifyAudit();
    expect(afterEdit.ok).toBe(false);
    expect(afterEdit.problems.map((p) => p.problem)).toContain(
      `row ${edited} was modified (its hash does not match its content)`,
    );

    const deleted = pickRow(6);
    const next = pickRow(5);
    rows().delete(deleted);
    const afterDelete = await store.verifyAudit();
    expect(afterDelete.problems.some((p) => p.id === next && /missing before row/.test(p.problem))).toBe(true);

    const last = bySeq.at(-1)!;
    rows().set(10_000, { ...last, id: 10_000, seq: Number(last.seq) + 1, detail: '{"forged":true}' });
    const afterInsert = await store.verifyAudit();
    expect(afterInsert.problems.some((p) => /modified|does not follow|head/.test(p.problem))).toBe(true);
  });

  it('names rows cut off the end (the head disagrees) and rows with no chain position', async () => {
    const store = new MemoryStateStore();
    await store.appendAudit([
      { at: T0, type: 'request.created', actor: who, detail: {} },
      { at: T0 + 1, type: 'request.approved', actor: who, detail: {} },
    ]);
    const rows = store.db.committed.audit_events;
    const lastId = Math.max(...rows.keys());
    const cut = rows.get(lastId)!;
    rows.delete(lastId);
    expect((await store.verifyAudit()).problems.map((p) => p.problem)).toEqual([
      'the log ends at seq 1 but the head says 2: rows were deleted from the end, or the head was altered',
    ]);
    rows.set(lastId, cut);
    expect((await store.verifyAudit()).ok).toBe(true);
    rows.set(lastId + 1, { ...cut, id: lastId + 1, seq: null, prev_hash: null, hash: null });
    expect((await store.verifyAudit()).problems.map((p) => p.problem)).toEqual([
      '1 row(s) carry no chain position (inserted outside the broker)',
    ]);
  });

  it('a handle used after its transaction ended is refused (as a committed knex transaction is)', async () => {
    const store = new MemoryStateStore();
    let kept: Parameters<Parameters<MemoryStateStore['transaction']>[0]>[0] | undefined;
    await store.transaction(async (tx) => {
      kept = tx;
    });
    await expect(kept!.getRequest(rid(1))).rejects.toThrow(/transaction has already ended/);
  });
});
