/**
 * One person, one approval: every approval row carries the person who decided (`approver_key`: their verified
 * email, lower-case, or platform:id where there is none), unique per request, so the same person approving from
 * Slack and from Teams is one decision — enforced by the database, not only by code. And a row per person to lock
 * (`person_locks`): transactions that check a person's limits before granting (live grants, pending requests)
 * serialise on it, so racing approvals cannot exceed a limit.
 */
import type { Knex } from 'knex';

function isMysql(knex: Knex): boolean {
  const d = knex.client.dialect as string;
  return d === 'mysql' || d === 'mysql2' || d === 'mariadb';
}

/** The same rule as core/policy.ts personKey, in SQL terms, for rows written before this migration. */
function keyOf(r: { approver_platform: string; approver_id: string; approver_email: string | null }): string {
  const email = r.approver_email?.trim().toLowerCase();
  return email ? `email:${email}` : `${r.approver_platform}:${r.approver_id}`;
}

export async function up(knex: Knex): Promise<void> {
  const mysql = isMysql(knex);
  await knex.schema.alterTable('approvals', (t) => {
    t.string('approver_key', 340).notNullable().defaultTo('');
  });
  // Rows of one person from two accounts (decided before the rule) keep their first key; later ones get their own.
  const seen = new Set<string>();
  const rows = (await knex('approvals')
    .select('id', 'request_id', 'approver_platform', 'approver_id', 'approver_email')
    .orderBy('id')) as Array<{
    id: number;
    request_id: number;
    approver_platform: string;
    approver_id: string;
    approver_email: string | null;
  }>;
  for (const r of rows) {
    let key = keyOf(r);
    if (seen.has(`${r.request_id} ${key}`)) key = `${r.approver_platform}:${r.approver_id}#${r.id}`;
    seen.add(`${r.request_id} ${key}`);
    await knex('approvals').where({ id: r.id }).update({ approver_key: key });
  }
  await knex.schema.alterTable('approvals', (t) => {
    t.unique(['request_id', 'approver_key'], { indexName: 'approvals_request_person_uq' });
  });
  await knex.schema.createTable('person_locks', (t) => {
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_bin');
    }
    t.string('person_key', 340).primary();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('person_locks');
  await knex.schema.alterTable('approvals', (t) => {
    t.dropUnique(['request_id', 'approver_key'], 'approvals_request_person_uq');
    t.dropColumn('approver_key');
  });
}
