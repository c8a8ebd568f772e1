/**
 * Access asked for someone else (`… for @person`): `requests.requester_*` stays the person the access is for (who
 * holds the grant and is counted by the limits) and `requests.asked_by_*` records who asked, on their behalf. All
 * four are NULL when the requester asked for themselves (every request made before this column).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.string('asked_by_platform', 16).nullable();
    t.string('asked_by_id', 255).nullable();
    t.string('asked_by_email', 320).nullable();
    t.string('asked_by_name', 255).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.dropColumn('asked_by_platform');
    t.dropColumn('asked_by_id');
    t.dropColumn('asked_by_email');
    t.dropColumn('asked_by_name');
  });
}
