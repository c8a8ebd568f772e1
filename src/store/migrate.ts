/**
 * Schema migrations from code: the list below imports the modules in migrations/, so they run the same under tsx
 * (dev) and from compiled dist/ (node) — no knex CLI, no filesystem scan, no loader for .ts files.
 *
 * knex's own lock (knex_migrations_lock) protects a run. Two additions make concurrent starters safe:
 * - the bookkeeping tables and the single lock row are created race-free before knex looks for them (knex's
 *   check-then-create can otherwise end with two lock rows, which locks migrations forever);
 * - a starter that finds the lock taken waits for it (up to lockTimeoutMs) instead of failing.
 */
import type { Knex } from 'knex';
import * as m0001 from '../../migrations/0001_init.js';
import * as m0002 from '../../migrations/0002_chat.js';
import * as m0003 from '../../migrations/0003_policy.js';
import * as m0004 from '../../migrations/0004_audit_chain.js';
import * as m0005 from '../../migrations/0005_audit_stream.js';
import * as m0006 from '../../migrations/0006_chat_conversations.js';
import * as m0007 from '../../migrations/0007_installation.js';
import * as m0008 from '../../migrations/0008_people.js';
import * as m0009 from '../../migrations/0009_inbox.js';
import * as m0010 from '../../migrations/0010_end_kind.js';
import * as m0011 from '../../migrations/0011_self_extensions.js';
import * as m0012 from '../../migrations/0012_asked_by.js';
import * as m0015 from '../../migrations/0015_bundles.js';
import * as m0014 from '../../migrations/0014_grant_activity.js';
import { connectKnex, dialectOf, type KnexOptions } from './connect.js';
import { StateStoreError } from './errors.js';

export interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
  config?: { transaction?: boolean };
}

type Spec = readonly [name: string, module: MigrationModule];

/** In order. Add new migrations at the end; never rename or edit an applied one. */
const MIGRATIONS: readonly Spec[] = [
  ['0001_init', m0001],
  ['0002_chat', m0002],
  ['0003_policy', m0003],
  ['0004_audit_chain', m0004],
  ['0005_audit_stream', m0005],
  ['0006_chat_conversations', m0006],
  ['0007_installation', m0007],
  ['0008_people', m0008],
  ['0009_inbox', m0009],
  ['0010_end_kind', m0010],
  ['0011_self_extensions', m0011],
  ['0012_asked_by', m0012],
  ['0014_grant_activity', m0014],
  ['0015_bundles', m0015],
];

export const MIGRATION_TABLE = 'knex_migrations';
const LOCK_TABLE = `${MIGRATION_TABLE}_lock`;

export const migrationSource: Knex.MigrationSource<Spec> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: ([name]) => name,
  getMigration: async ([, module]) => module,
};

const config = (): Knex.MigratorConfig => ({ migrationSource, tableName: MIGRATION_TABLE });

export interface MigrateOptions extends KnexOptions {
  /** How long to wait for another starter's migration lock. Default 60 s. */
  lockTimeoutMs?: number;
}

/** Names of the migrations not yet applied. Read-only on a database that was never migrated. */
export async function pendingMigrations(knex: Knex): Promise<string[]> {
  if (!(await knex.schema.hasTable(MIGRATION_TABLE)) || !(await knex.schema.hasTable(LOCK_TABLE))) {
    return MIGRATIONS.map(([name]) => name);
  }
  const [, pending] = (await knex.migrate.list(config())) as [unknown[], Spec[]];
  return pending.map((spec) => migrationSource.getMigrationName(spec));
}

/** Applies every pending migration; returns the names applied (empty when up to date). */
export async function migrateLatest(target: string | Knex, options: MigrateOptions = {}): Promise<string[]> {
  // Migrations run each statement once: nothing to gain from preparing them.
  const knex =
    typeof target === 'string' ? await connectKnex(target, { ...options, preparedStatements: false }) : target;
  try {
    const deadline = Date.now() + (options.lockTimeoutMs ?? 60_000);
    await ensureMigrationTables(knex);
    for (;;) {
      if ((await pendingMigrations(knex)).length === 0) return [];
      try {
        const [, applied] = (await knex.migrate.latest(config())) as [number, string[]];
        return applied;
      } catch (err) {
        if (!isLockContention(err)) throw err;
        if (Date.now() >= deadline) {
          throw new StateStoreError(
            'migration',
            `the state store's migration lock (${LOCK_TABLE}) is still held after ${options.lockTimeoutMs ?? 60_000} ms. ` +
              'If no other migration is running (a crash can leave it set), free it with freeMigrationLock().',
          );
        }
        await new Promise((r) => setTimeout(r, 250 + Math.random() * 250));
      }
    }
  } finally {
    if (typeof target === 'string') await knex.destroy();
  }
}

/** Clears a lock left by a migration that crashed. Only for an operator who knows none is running. */
export async function freeMigrationLock(knex: Knex): Promise<void> {
  await knex.migrate.forceFreeMigrationsLock(config());
}

function isLockContention(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown };
  return e?.name === 'MigrationLocked' || (typeof e?.code === 'string' && e.code.startsWith('SQLITE_BUSY'));
}

/**
 * Creates knex_migrations, knex_migrations_lock and its one row exactly as knex would, tolerating a concurrent
 * starter doing the same: a failed CREATE is accepted when the table exists afterwards, and the row has a fixed
 * primary key so a second insert is ignored.
 */
async function ensureMigrationTables(knex: Knex): Promise<void> {
  await createTableRaceFree(knex, MIGRATION_TABLE, (t) => {
    t.increments();
    t.string('name');
    t.integer('batch');
    t.timestamp('migration_time');
  });
  await createTableRaceFree(knex, LOCK_TABLE, (t) => {
    t.increments('index').primary();
    t.integer('is_locked');
  });
  const rows = (await knex(LOCK_TABLE).select('index')) as unknown[];
  if (rows.length === 0) {
    if (dialectOf(knex) === 'mysql') {
      await knex.raw('insert ignore into ?? (??, ??) values (1, 0)', [LOCK_TABLE, 'index', 'is_locked']);
    } else {
      await knex(LOCK_TABLE).insert({ index: 1, is_locked: 0 }).onConflict('index').ignore();
    }
  }
}

async function createTableRaceFree(
  knex: Knex,
  name: string,
  build: (t: Knex.CreateTableBuilder) => void,
): Promise<void> {
  if (await knex.schema.hasTable(name)) return;
  try {
    await knex.schema.createTable(name, build);
  } catch (err) {
    if (!(await knex.schema.hasTable(name))) throw err;
  }
}
