/**
 * The chat inbox: every state-changing chat action is written here before it is acknowledged, and marked done in
 * the transaction of its effect. A crash in between leaves it `pending`; whoever holds no live lease on it
 * (claimed_by / claimed_until) processes it again, once. Holds ids, typed text and where to answer — never a
 * password or a token.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const d = knex.client.dialect as string;
  const mysql = d === 'mysql' || d === 'mysql2' || d === 'mariadb';
  await knex.schema.createTable('chat_inbox', (t) => {
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_bin');
    }
    t.increments('id');
    t.string('platform', 16).notNullable();
    t.string('kind', 32).notNullable();
    t.string('actor_id', 255).notNullable();
    t.string('actor_name', 255).nullable();
    t.integer('request_id').nullable();
    t.integer('grant_id').nullable();
    t.text('payload').notNullable(); // JSON: what is needed to redo the work
    t.bigInteger('received_at').notNullable();
    // The platform's own id of this delivery (Slack: the verified signature's digest, or the trigger id): a
    // redelivery is recorded once. NULL where there is none (NULLs never collide in a unique index).
    t.string('dedupe_key', 128).nullable();
    t.string('status', 16).notNullable(); // pending | done | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('claimed_by', 64).nullable();
    t.bigInteger('claimed_until').nullable();
    t.bigInteger('done_at').nullable();
    t.text('outcome').nullable();
    t.unique(['platform', 'dedupe_key'], { indexName: 'chat_inbox_platform_dedupe_uq' });
    t.index(['status', 'claimed_until'], 'chat_inbox_status_claim_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('chat_inbox');
}
