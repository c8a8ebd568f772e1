/** A state store on a fresh, uniquely named database of the machine's PostgreSQL (migrated), dropped by `drop()`. */
import { randomBytes } from 'node:crypto';
import type { StateStore } from '../../src/core/ports.js';
import { createKnex, migrateLatest, openStateStore } from '../../src/store/index.js';
import type { KnexStateStore } from '../../src/store/knex-state-store.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432';

export interface PgStateDb {
  url: string;
  store: StateStore;
  /** Closes the store and drops the database. */
  drop(): Promise<void>;
}

export async function freshPgStateDb(prefix: string): Promise<PgStateDb> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const url = `${SERVER}/${name}`;
  const admin = createKnex(`${SERVER}/postgres`, { preparedStatements: false });
  await admin.raw(`create database "${name}"`);
  await migrateLatest(url);
  const store = await openStateStore(url);
  return {
    url,
    store,
    async drop() {
      await store.close();
      await admin.raw(`drop database if exists "${name}" with (force)`);
      await admin.destroy();
    },
  };
}

/** The statements `store` (a knex store) sends while `fn` runs. */
export async function statementsDuring(store: StateStore, fn: () => Promise<unknown>): Promise<string[]> {
  const knex = (store as KnexStateStore).knex;
  const seen: string[] = [];
  const listen = (q: { sql: string }) => seen.push(q.sql);
  knex.on('query', listen);
  try {
    await fn();
  } finally {
    knex.off('query', listen);
  }
  return seen;
}
