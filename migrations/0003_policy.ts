/**
 * Approver routing and access policy: escalation tier reached and when the next one is due, break-glass
 * (review deadline and review), and the PagerDuty incident a grant is scoped to.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.integer('tier').notNullable().defaultTo(0);
    t.bigInteger('next_escalation_at').nullable();
    t.boolean('break_glass').notNullable().defaultTo(false);
    t.bigInteger('review_by').nullable();
    t.bigInteger('reviewed_at').nullable();
    t.bigInteger('review_escalated_at').nullable();
    t.string('incident_id', 64).nullable();
    t.string('incident_url', 512).nullable();
    t.index(['status', 'next_escalation_at'], 'requests_status_escalation_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.dropIndex(['status', 'next_escalation_at'], 'requests_status_escalation_idx');
    for (const c of [
      'incident_url',
      'incident_id',
      'review_escalated_at',
      'reviewed_at',
      'review_by',
      'break_glass',
      'next_escalation_at',
      'tier',
    ])
      t.dropColumn(c);
  });
}
