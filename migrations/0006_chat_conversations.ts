/**
 * Where the bot can reach people and channels on platforms that only allow proactive messages into a
 * conversation they have seen (Teams: a conversation reference per user and per channel, captured from inbound
 * activities). Holds addresses only, never a secret.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const d = knex.client.dialect as string;
  const mysql = d === 'mysql' || d === 'mysql2' || d === 'mariadb';
  await knex.schema.createTable('chat_conversations', (t) => {
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_bin');
    }
    t.increments('id');
    t.string('platform', 16).notNullable();
    // "user:<aad object id>", "channel:<channel id>", "tenant:<tenant id>"
    t.string('conversation_key', 255).notNullable();
    t.text('reference').notNullable(); // JSON, opaque to the store
    t.bigInteger('updated_at').notNullable();
    t.unique(['platform', 'conversation_key'], { indexName: 'chat_conversations_platform_key_uq' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('chat_conversations');
}
