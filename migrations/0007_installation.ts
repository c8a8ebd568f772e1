/**
 * The installation's identity: a random id created once per state store, written into every user marker on the
 * targets so that two installations sharing a database server never treat each other's users as orphans.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('installation', (t) => {
    t.integer('id').primary(); // always 1: one row
    t.string('installation_id', 64).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('installation');
}
