/**
 * Chat journey: approvers resolved at request time (mentioned in the approval message), the approval deadline,
 * extension requests, the "expires soon" reminder mark, and the version of each chat message's rendered state.
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
  // The rendered state's version: a message is only ever updated forward (web and worker race to update it).
  await knex.schema.alterTable('chat_messages', (t) => {
    t.bigInteger('version').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('chat_messages', (t) => {
    t.dropColumn('version');
  });
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
