/** The audit log's hash chain (src/store/audit-chain.ts): seq, prev_hash, hash per row, and the chain head. */
import type { Knex } from 'knex';
import { AUDIT_HEAD, GENESIS_HASH, rowHash } from '../src/store/audit-chain.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.bigInteger('seq').nullable();
    t.string('prev_hash', 64).nullable();
    t.string('hash', 64).nullable();
    t.unique(['seq'], { indexName: 'audit_events_seq_uq' });
  });
  await knex.schema.createTable(AUDIT_HEAD, (t) => {
    t.integer('id').primary();
    t.bigInteger('last_seq').notNullable();
    t.string('last_hash', 64).notNullable();
  });
  // Rows written before the chain existed are chained in id order.
  let prev = GENESIS_HASH;
  let seq = 0;
  for (const row of (await knex('audit_events').orderBy('id', 'asc')) as Array<Record<string, unknown>>) {
    seq++;
    const hash = rowHash(seq, prev, row);
    await knex('audit_events').where({ id: row.id }).update({ seq, prev_hash: prev, hash });
    prev = hash;
  }
  await knex(AUDIT_HEAD).insert({ id: 1, last_seq: seq, last_hash: prev });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable(AUDIT_HEAD);
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropUnique(['seq'], 'audit_events_seq_uq');
    t.dropColumn('hash');
    t.dropColumn('prev_hash');
    t.dropColumn('seq');
  });
}
