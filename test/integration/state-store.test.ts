/**
 * The state store on its three dialects: SQLite (a temp file), PostgreSQL and MariaDB/MySQL (a fresh, uniquely
 * named database on the machine's server, dropped afterwards). Each runs the migrations (concurrently, twice) and
 * then the StateStore contract, with a second store on the same database for cross-connection races.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/ports.js';
import {
  createKnex,
  describeStateStoreUrl,
  dumpTables,
  listTables,
  migrateLatest,
  migrationSource,
  openStateStore,
  pendingMigrations,
  StateStoreError,
} from '../../src/store/index.js';
import { MARIADB_HOST, MARIADB_PORT } from '../support/mariadb-target.js';
import { stateStoreContract, type StateStoreSubject } from '../contract/state-store.contract.js';

/** Every migration, in order: a fresh database has all of them pending. */
const ALL_MIGRATIONS = [
  '0001_init',
  '0002_chat',
  '0003_policy',
  '0004_audit_chain',
  '0005_audit_stream',
  '0006_chat_conversations',
  '0007_installation',
  '0008_people',
  '0009_inbox',
  '0010_end_kind',
  '0011_self_extensions',
  '0012_asked_by',
  '0014_grant_activity',
  '0015_bundles',
];

const PG_SERVER = 'postgres://postgres@127.0.0.1:5432';
const MY_SERVER = `mysql://root@${MARIADB_HOST}:${MARIADB_PORT}`;
const STORE_TABLES = ['approvals', 'audit_events', 'chat_messages', 'grants', 'requests'];

const STORE_MODULE = fileURLToPath(new URL('../../src/store/index.ts', import.meta.url));

/**
 * Runs ESM code in a separate Node process (with tsx, so it can import the TypeScript sources). `ready` resolves
 * when the child prints "ready"; `exit` with its exit code.
 */
function runChild(code: string): { ready: Promise<void>; exit: Promise<number>; output(): string } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (exitCode) => resolve(exitCode ?? -1));
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    void exit.then((c) => reject(new Error(`child exited (${c}) before it was ready: ${out}`)));
  });
  return { ready, exit, output: () => out };
}

interface Dialect {
  name: string;
  sqlite?: boolean;
  /** Creates an empty database and returns its DATABASE_URL. */
  create(): Promise<string>;
  drop(): Promise<void>;
}

function sqlite(): Dialect {
  let dir = '';
  return {
    name: 'SQLite (better-sqlite3)',
    sqlite: true,
    async create() {
      dir = mkdtempSync(join(tmpdir(), 'db-access-store-'));
      // A directory that does not exist yet: the store creates it.
      return `sqlite:${join(dir, 'nested', 'state.sqlite')}`;
    },
    async drop() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serverDialect(name: string, server: string, adminDb: string, quote: (id: string) => string): Dialect {
  const db = `dbaccess_store_${process.pid}_${randomBytes(4).toString('hex')}`;
  let admin: Knex | undefined;
  return {
    name,
    async create() {
      admin = createKnex(`${server}/${adminDb}`);
      await admin.raw(`create database ${quote(db)}`);
      return `${server}/${db}`;
    },
    async drop() {
      if (!admin) return;
      try {
        await admin.raw(`drop database if exists ${quote(db)}${server.startsWith('postgres') ? ' with (force)' : ''}`);
      } finally {
        await admin.destroy();
      }
    },
  };
}

const dialects: Dialect[] = [
  sqlite(),
  serverDialect('PostgreSQL', PG_SERVER, 'postgres', (id) => `"${id}"`),
  serverDialect('MariaDB/MySQL', MY_SERVER, 'mysql', (id) => `\`${id}\``),
];

for (const dialect of dialects) {
  describe(`state store on ${dialect.name}`, () => {
    let url = '';

    beforeAll(async () => {
      url = await dialect.create();
    }, 30_000);

    afterAll(async () => {
      await dialect.drop();
    }, 30_000);

    it('migrations: pending, then applied once by two concurrent starters, then reversible', async () => {
      const probe = createKnex(url);
      try {
        const all = await pendingMigrations(probe);
        expect(all).toEqual(ALL_MIGRATIONS);
        expect(await listTables(probe)).toEqual([]); // checking wrote nothing
        // SQLite: the second starter is another process (two connections to one file in one thread would block
        // each other on busy_timeout); the servers: two pools in this process.
        let other: Promise<string[]>;
        if (dialect.sqlite) {
          const child = runChild(`
            const { migrateLatest } = await import(${JSON.stringify(STORE_MODULE)});
            console.log('ready');
            console.log('applied=' + JSON.stringify(await migrateLatest(${JSON.stringify(url)})));`);
          await child.ready; // both start now
          other = child.exit.then((code) => {
            expect(code).toBe(0);
            return JSON.parse(/applied=(.*)/.exec(child.output())?.[1] ?? 'null') as string[];
          });
        } else {
          other = migrateLatest(url);
        }
        const runs = await Promise.all([migrateLatest(url), other]);
        expect(runs.map((r) => r.join(',')).sort()).toEqual(['', ALL_MIGRATIONS.join(',')]);
        expect(await pendingMigrations(probe)).toEqual([]);
        expect(await migrateLatest(probe)).toEqual([]);
        expect(await listTables(probe)).toEqual(expect.arrayContaining(STORE_TABLES));
        const locks = (await probe('knex_migrations_lock').select('*')) as Array<{ is_locked: unknown }>;
        expect(locks.map((l) => Number(l.is_locked))).toEqual([0]);

        // down() removes every table; up again restores them.
        await probe.migrate.rollback({ migrationSource, tableName: 'knex_migrations' }, true);
        expect((await listTables(probe)).filter((t) => STORE_TABLES.includes(t))).toEqual([]);
        expect(await pendingMigrations(probe)).toEqual(ALL_MIGRATIONS);
        expect(await migrateLatest(probe)).toEqual(ALL_MIGRATIONS);
      } finally {
        await probe.destroy();
      }
    }, 30_000);

    if (dialect.sqlite) {
      it('SQLite: transactions in two processes on one file wait for each other instead of failing', async () => {
        await migrateLatest(url);
        const store = await openStateStore(url);
        try {
          const req = await store.createRequest({
            approvers: [],
            requester: { platform: 'cli', id: 'cli:test' },
            database: 'orders-prod',
            level: 'read',
            durationMs: 60_000,
            reason: 'two processes',
            status: 'pending',
            requiredApprovals: 1,
            createdAt: Date.now(),
          });
          const N = 40;
          // Each transaction reads, yields to the event loop while holding it, then writes: without the write lock
          // taken at BEGIN, the process whose snapshot went stale would fail with SQLITE_BUSY.
          const childCode = `
            const { openStateStore } = await import(${JSON.stringify(STORE_MODULE)});
            const store = await openStateStore(${JSON.stringify(url)});
            await store.ping();
            console.log('ready');
            for (let i = 0; i < ${N}; i++) {
              await store.transaction(async (tx) => {
                await tx.getRequest(${req.id});
                await new Promise((r) => setTimeout(r, 3));
                await tx.recordApproval({ requestId: ${req.id}, approver: { platform: 'cli', id: 'child-' + i }, decision: 'approve', at: i });
              });
            }
            await store.close();`;
          const child = runChild(childCode);
          await child.ready;
          // The same work in this process, at the same time.
          for (let i = 0; i < N; i++) {
            await store.transaction(async (tx) => {
              await tx.getRequest(req.id);
              await new Promise((r) => setTimeout(r, 3));
              await tx.recordApproval({
                requestId: req.id,
                approver: { platform: 'cli', id: `parent-${i}` },
                decision: 'approve',
                at: i,
              });
            });
          }
          expect(await child.exit).toBe(0);
          expect(await store.listApprovals(req.id)).toHaveLength(2 * N);
        } finally {
          await store.close();
        }
      }, 30_000);

      it('SQLite: WAL, busy_timeout and foreign keys on every connection; the parent directory was created', async () => {
        const store = await openStateStore(url);
        try {
          const file = url.slice('sqlite:'.length);
          expect(existsSync(file)).toBe(true);
          const one = async (sql: string) =>
            Object.values(((await store.knex.raw(sql)) as Array<Record<string, unknown>>)[0] ?? {})[0];
          expect(await one('pragma journal_mode')).toBe('wal');
          expect(Number(await one('pragma busy_timeout'))).toBeGreaterThan(0);
          expect(Number(await one('pragma foreign_keys'))).toBe(1);
        } finally {
          await store.close();
        }
      });
    }

    stateStoreContract(dialect.name, async (): Promise<StateStoreSubject> => {
      await migrateLatest(url);
      const store = await openStateStore(url);
      // better-sqlite3 is synchronous: two connections to one file in one thread would block each other on
      // busy_timeout. SQLite races across processes are covered by the two-process test above.
      const second = dialect.sqlite ? undefined : await openStateStore(url);
      return {
        store,
        ...(second ? { second } : {}),
        tables: () => dumpTables(store.knex),
        async teardown() {
          await Promise.allSettled([store.close(), second?.close()]);
        },
      };
    });
  });
}

describe('DATABASE_URL', () => {
  it('a bad scheme is refused with a message naming the accepted forms (and no password)', async () => {
    for (const bad of ['redis://u:Sup3rSecretPw@127.0.0.1:6379/0', './data/db-access.sqlite', 'mongodb://x/y', '']) {
      const err = await openStateStore(bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StateStoreError);
      expect((err as StateStoreError).kind).toBe('config');
      const msg = (err as Error).message;
      for (const form of ['sqlite:', 'postgres://', 'mysql://']) expect(msg).toContain(form);
      expect(msg).not.toContain('Sup3rSecretPw');
    }
    await expect(openStateStore('mysql://root:Sup3rSecretPw@127.0.0.1:3306')).rejects.toThrow(/names no database/);
    await expect(openStateStore('sqlite:')).rejects.toThrow(/names no file/);
  });

  it('describeStateStoreUrl masks passwords and password-like parameters', () => {
    expect(describeStateStoreUrl('postgres://app:s3cr%40t!@db.internal:5432/state?sslmode=require')).toBe(
      'postgres://app:***@db.internal:5432/state?sslmode=require',
    );
    expect(describeStateStoreUrl('mysql://app:p@ss@db:3306/state')).toBe('mysql://app:***@db:3306/state');
    expect(describeStateStoreUrl('postgres://db/state?user=app&password=hunter22')).toBe(
      'postgres://db/state?user=app&password=***',
    );
    expect(describeStateStoreUrl('postgres://app@db/state')).toBe('postgres://app@db/state');
    expect(describeStateStoreUrl('sqlite:./data/db-access.sqlite')).toBe('sqlite:./data/db-access.sqlite');
  });

  it('a connection failure says where it tried, never with the password', async () => {
    const cases = [
      'postgres://postgres:Sup3rSecretPw@127.0.0.1:1/nowhere',
      'mysql://root:Sup3rSecretPw@127.0.0.1:1/nowhere',
      // Reachable server, refused login (root has an empty password here).
      'mysql://root:Sup3rSecretPw@127.0.0.1:3306/mysql',
      'postgres://postgres:Sup3rSecretPw@127.0.0.1:5432/db_access_does_not_exist',
    ];
    const logged: string[] = [];
    const logger: Logger = {
      debug: (_o, m) => void logged.push(m ?? ''),
      info: (_o, m) => void logged.push(m ?? ''),
      warn: (_o, m) => void logged.push(m ?? ''),
      error: (_o, m) => void logged.push(m ?? ''),
      child: () => logger,
    };
    for (const url of cases) {
      const err = await openStateStore(url, { logger }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, url).toBeInstanceOf(StateStoreError);
      const e = err as StateStoreError;
      expect(e.kind).toBe('connect');
      expect(e.message).toContain('127.0.0.1');
      expect(e.message).toContain(':***@');
      expect(e.message).not.toContain('Sup3rSecretPw');
      expect(JSON.stringify(e)).not.toContain('Sup3rSecretPw');
      expect(e.cause).toBeUndefined();
    }
    // knex's own pool warnings went to the logger, scrubbed too.
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain('Sup3rSecretPw');
  }, 30_000);
});
