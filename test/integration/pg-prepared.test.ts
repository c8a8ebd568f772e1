/**
 * The PostgreSQL state store prepares each statement once per connection, on a fresh database on the machine's
 * server: the server keeps one prepared statement per text and plans it from there; a column added under a
 * prepared `select *` (a migration during a rolling upgrade) and a pooler that loses prepared statements are both
 * survived, outside and inside a transaction; DATABASE_PREPARED_STATEMENTS=false prepares nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { createKnex, migrateLatest, openStateStore, storeOptions } from '../../src/store/index.js';
import { capturingLogger } from '../support/logs.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432';
const db = `dba_prepared_${randomBytes(4).toString('hex')}`;
const url = `${SERVER}/${db}`;
let admin: Knex;
/** Changes the schema as a migration would, from a connection of its own. */
let ddl: Knex;

beforeAll(async () => {
  admin = createKnex(`${SERVER}/postgres`, { preparedStatements: false });
  await admin.raw(`create database "${db}"`);
  await migrateLatest(url);
  ddl = createKnex(url, { preparedStatements: false });
});

afterAll(async () => {
  await ddl?.destroy();
  await admin.raw(`drop database if exists "${db}" with (force)`);
  await admin.destroy();
});

type Conn = unknown;

/** Prepared statements of the connection, by text. */
async function prepared(knex: Knex, conn: Conn): Promise<Map<string, { plans: number }>> {
  const res = (await knex
    .raw('select statement, generic_plans + custom_plans as plans from pg_prepared_statements')
    .connection(conn)) as { rows: { statement: string; plans: string }[] };
  return new Map(res.rows.map((r) => [r.statement, { plans: Number(r.plans) }]));
}

const selectGrants = (knex: Knex, conn: Conn) => knex('grants').select('*').where({ id: 0 }).connection(conn);
const SELECT_GRANTS = 'select * from "grants" where "id" = $1';

async function withConnection<T>(knex: Knex, fn: (conn: Conn) => Promise<T>): Promise<T> {
  const conn = (await knex.client.acquireConnection()) as Conn;
  try {
    return await fn(conn);
  } finally {
    await knex.client.releaseConnection(conn);
  }
}

describe('PostgreSQL state store: prepared statements', () => {
  it('prepares a statement once per connection and runs it from there', async () => {
    const knex = createKnex(url);
    try {
      await withConnection(knex, async (conn) => {
        for (let i = 0; i < 3; i++) await selectGrants(knex, conn);
        const seen = await prepared(knex, conn);
        // One prepared statement for three runs, planned three times (the parse happened once).
        expect(seen.get(SELECT_GRANTS)).toEqual({ plans: 3 });
        // Transaction control is never prepared.
        await knex.transaction(async (trx) => trx('grants').select('id').limit(1));
        expect([...(await prepared(knex, conn)).keys()].some((s) => /^(begin|commit)/i.test(s))).toBe(false);
      });
    } finally {
      await knex.destroy();
    }
  });

  it('a column added under a prepared select * is survived outside and inside a transaction', async () => {
    const knex = createKnex(url);
    const store = await openStateStore(url);
    try {
      await withConnection(knex, async (conn) => {
        await selectGrants(knex, conn);
        expect((await prepared(knex, conn)).has(SELECT_GRANTS)).toBe(true);
        await ddl.raw('alter table grants add column prepared_probe_a int');
        // Without the new generation this fails with 0A000 "cached plan must not change result type".
        const rows = (await selectGrants(knex, conn)) as unknown[];
        expect(rows).toEqual([]);
      });
      // Inside a transaction: the store's only connection prepared the select, the column lands, then the
      // transaction's first statement is that select; the store runs the transaction again, prepared afresh.
      expect(await store.listGrants({ statuses: ['active'] })).toEqual([]);
      await ddl.raw('alter table grants add column prepared_probe_b int');
      let attempts = 0;
      const n = await store.transaction(async (tx) => {
        attempts++;
        return (await tx.listGrants({ statuses: ['active'] })).length;
      });
      expect(n).toBe(0);
      expect(attempts).toBe(2);
    } finally {
      await ddl.raw(
        'alter table grants drop column if exists prepared_probe_a, drop column if exists prepared_probe_b',
      );
      await store.close();
      await knex.destroy();
    }
  });

  it('a pooler that loses a prepared statement: warned once, then nothing is prepared', async () => {
    const logs = capturingLogger();
    const knex = createKnex(url, { logger: logs.logger });
    try {
      await withConnection(knex, async (conn) => {
        await selectGrants(knex, conn);
        // What a pooler in transaction mode does: the next statement lands on a server connection without it.
        await knex.raw('deallocate all').connection(conn);
        expect(await selectGrants(knex, conn)).toEqual([]);
        await knex('requests').select('id').where({ id: 0 }).connection(conn);
        expect((await prepared(knex, conn)).size).toBe(0);
      });
      const lines = logs.logs.map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(lines.filter((l) => /lost a prepared statement/.test(l.msg)).map((l) => l.level)).toEqual([40]);
    } finally {
      await knex.destroy();
    }
  });

  it('DATABASE_PREPARED_STATEMENTS=false prepares nothing', async () => {
    const options = storeOptions(loadSettings({ DATABASE_PREPARED_STATEMENTS: 'false' }));
    expect(options).toEqual({ preparedStatements: false });
    expect(storeOptions(loadSettings({}))).toEqual({ preparedStatements: true });
    const knex = createKnex(url, options);
    try {
      await withConnection(knex, async (conn) => {
        for (let i = 0; i < 2; i++) await selectGrants(knex, conn);
        expect((await prepared(knex, conn)).size).toBe(0);
      });
    } finally {
      await knex.destroy();
    }
  });
});
