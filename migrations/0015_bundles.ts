/**
 * Bundles: a request for a bundle is decided once; its approval then opens one approved request per member database
 * (each with its own grant, provisioned and revoked on its own target). `requests.part_of` links each member's
 * request to the bundle's. NULL for every other request (all requests made before this column).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.bigInteger('part_of').nullable();
    t.index(['part_of'], 'requests_part_of_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('requests', (t) => {
    t.dropIndex(['part_of'], 'requests_part_of_idx');
    t.dropColumn('part_of');
  });
}
