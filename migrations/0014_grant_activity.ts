/**
 * What was done with a grant's access, from the target servers' own statistics: `grant_sessions` holds the
 * sessions of its user the sweeper saw (where from, which application, first and last seen, how they ended), at
 * most a fixed number per grant; `grant_activity` counts those kept and those only counted, and holds the statement
 * summary read at revocation (JSON of normalised statement shapes and counts — never a literal, never a password).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const d = knex.client.dialect as string;
  const mysql = d === 'mysql' || d === 'mysql2' || d === 'mariadb';
  await knex.schema.createTable('grant_activity', (t) => {
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_bin');
    }
    t.integer('grant_id').primary();
    t.integer('sessions_kept').notNullable().defaultTo(0);
    t.integer('sessions_dropped').notNullable().defaultTo(0);
    // When the grant's sessions were last recorded: a session past the cap is counted as dropped only if it started
    // after that (else it was counted when first seen), so the count is of sessions, not of sightings.
    t.bigInteger('last_sample_at').nullable();
    t.text('statements').nullable(); // JSON StatementSummary, written at revocation
  });
  await knex.schema.createTable('grant_sessions', (t) => {
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_bin');
    }
    t.increments('id');
    t.integer('grant_id').notNullable();
    t.string('session_key', 64).notNullable();
    t.bigInteger('started_at').nullable();
    t.string('client_address', 64).nullable();
    t.string('application', 64).nullable();
    t.bigInteger('first_seen_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
    t.string('ended', 16).nullable(); // NULL (open when last sampled) | closed | revoked
    t.unique(['grant_id', 'session_key'], { indexName: 'grant_sessions_grant_key_uq' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('grant_sessions');
  await knex.schema.dropTable('grant_activity');
}
