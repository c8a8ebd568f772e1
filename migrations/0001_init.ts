/**
 * The broker's own state. Times are BIGINT epoch milliseconds (exact and portable); ids are auto-increment
 * integers. No column holds a password or any other secret: the store has nowhere to put one.
 * MySQL/MariaDB tables are InnoDB, utf8mb4 with a binary collation, so text compares exactly as on PostgreSQL
 * and SQLite (Slack/Teams ids and generated usernames are case-sensitive).
 */
import type { Knex } from 'knex';

function isMysql(knex: Knex): boolean {
  const d = knex.client.dialect as string;
  return d === 'mysql' || d === 'mysql2' || d === 'mariadb';
}

function actorColumns(t: Knex.CreateTableBuilder, prefix: string): void {
  t.string(`${prefix}_platform`, 16).notNullable();
  t.string(`${prefix}_id`, 255).notNullable();
  t.string(`${prefix}_email`, 320).nullable();
  t.string(`${prefix}_name`, 255).nullable();
}

export async function up(knex: Knex): Promise<void> {
  const mysql = isMysql(knex);
  const table = (t: Knex.CreateTableBuilder) => {
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_bin');
    }
  };

  await knex.schema.createTable('requests', (t) => {
    table(t);
    t.increments('id');
    actorColumns(t, 'requester');
    t.string('database_name', 128).notNullable();
    t.string('level', 64).notNullable();
    t.bigInteger('duration_ms').notNullable();
    t.text('reason').notNullable();
    t.text('ticket').nullable();
    t.string('status', 16).notNullable();
    t.integer('required_approvals').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('decided_at').nullable();
    t.text('decision_note').nullable();
    t.index(['status'], 'requests_status_idx');
    t.index(['requester_id'], 'requests_requester_idx');
  });

  await knex.schema.createTable('approvals', (t) => {
    table(t);
    t.increments('id');
    t.integer('request_id').unsigned().notNullable().references('id').inTable('requests');
    actorColumns(t, 'approver');
    t.string('decision', 8).notNullable();
    t.text('note').nullable();
    t.bigInteger('at').notNullable();
    t.unique(['request_id', 'approver_id'], { indexName: 'approvals_request_approver_uq' });
  });

  await knex.schema.createTable('grants', (t) => {
    table(t);
    t.increments('id');
    t.integer('request_id').unsigned().notNullable().references('id').inTable('requests');
    actorColumns(t, 'requester');
    t.string('database_name', 128).notNullable();
    t.string('level', 64).notNullable();
    t.string('username', 64).notNullable();
    t.string('status', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('activated_at').nullable();
    t.bigInteger('revoke_started_at').nullable();
    t.bigInteger('revoked_at').nullable();
    t.text('end_reason').nullable();
    t.integer('provision_attempts').notNullable().defaultTo(0);
    t.integer('revoke_attempts').notNullable().defaultTo(0);
    t.text('last_error').nullable();
    t.bigInteger('revoke_failing_since').nullable();
    t.bigInteger('flagged_at').nullable();
    t.unique(['request_id'], { indexName: 'grants_request_uq' });
    t.unique(['username'], { indexName: 'grants_username_uq' });
    t.index(['status', 'expires_at'], 'grants_status_expires_idx');
    t.index(['requester_id'], 'grants_requester_idx');
  });

  await knex.schema.createTable('chat_messages', (t) => {
    table(t);
    t.increments('id');
    t.integer('request_id').unsigned().notNullable().references('id').inTable('requests');
    t.string('platform', 16).notNullable();
    t.string('kind', 64).notNullable();
    t.string('channel', 255).notNullable();
    t.string('message_id', 255).notNullable();
    t.unique(['request_id', 'platform', 'kind'], { indexName: 'chat_messages_request_platform_kind_uq' });
  });

  // Append-only. No foreign keys: an event may name a grant this store never had (an orphan user's marker).
  await knex.schema.createTable('audit_events', (t) => {
    table(t);
    t.bigIncrements('id');
    t.bigInteger('at').notNullable();
    t.string('type', 64).notNullable();
    actorColumns(t, 'actor');
    t.integer('request_id').nullable();
    t.integer('grant_id').nullable();
    t.string('database_name', 128).nullable();
    t.string('level', 64).nullable();
    t.text('detail', 'mediumtext').notNullable();
    t.index(['request_id'], 'audit_events_request_idx');
    t.index(['grant_id'], 'audit_events_grant_idx');
    t.index(['type'], 'audit_events_type_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const name of ['audit_events', 'chat_messages', 'grants', 'approvals', 'requests']) {
    await knex.schema.dropTableIfExists(name);
  }
}
