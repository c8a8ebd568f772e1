/**
 * Chat journey: approvers resolved at request time (mentioned in the approval message), the approval deadline,
 * extension requests, and the "expires soon" reminder mark.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.text('approvers').nullable(); // JSON ApproverRef[]
    t.text('unavailable_sources').nullable(); // JSON string[]
    t.bigInteger('decide_by').nullable();
    t.integer('extends_grant_id').unsigned().nullable();
    t.index(['status', 'decide_by'], 'requests_status_decide_by_idx');
  });
  await knex.schema.alterTable('grants', (t) => {
    t.bigInteger('reminded_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grants', (t) => {
    t.dropColumn('reminded_at');
  });
  await knex.schema.alterTable('requests', (t) => {
    t.dropIndex(['status', 'decide_by'], 'requests_status_decide_by_idx');
    t.dropColumn('extends_grant_id');
    t.dropColumn('decide_by');
    t.dropColumn('unavailable_sources');
    t.dropColumn('approvers');
  });
}
