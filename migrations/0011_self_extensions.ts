/**
 * Self-extensions: `grants.self_extensions` counts the extensions a grant's holder applied without approval (the
 * catalog's `limits.selfExtensions`). It only moves by a conditional update that also checks the limit, so two
 * concurrent extensions on two replicas cannot both take the last one. Existing grants start at 0.
 * (A grant's activation moment is `grants.activated_at`, present since the first migration.)
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grants', (t) => {
    t.integer('self_extensions').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grants', (t) => {
    t.dropColumn('self_extensions');
  });
}
