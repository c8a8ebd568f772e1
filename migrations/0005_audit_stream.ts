/** Where each audit consumer (the SIEM webhook) has got to, and which process holds the right to send. */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_cursors', (t) => {
    t.string('name', 64).primary();
    t.bigInteger('last_id').notNullable().defaultTo(0);
    t.string('lease_owner', 128).nullable();
    t.bigInteger('lease_until').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_cursors');
}
