/**
 * The PostgreSQL engine against a throwaway scram-sha-256 cluster of the machine's PostgreSQL (test/support/pg-cluster.ts),
 * logged in as the least-privilege admin created by exactly postgresAdminSetupSql(): the DatabaseEngine contract, then
 * what is specific to PostgreSQL (VALID UNTIL, SCRAM verifiers and the server log, guard-rails, retries, SQLSTATEs).
 * The other versions run the contract in postgres-versions.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, Logger } from '../../src/core/ports.js';
import {
  classifyCode,
  classifyError,
  createPostgresEngine,
  postgresAdminSetupSql,
} from '../../src/targets/postgres/index.js';
import { adminOfUserSql, grantRoleToAdminSql } from '../../src/targets/postgres/admin-setup.js';
import { encodeMarker } from '../../src/targets/postgres/marker.js';
import { databaseEngineContract } from '../contract/database-engine.contract.js';
import { writeCatalog } from '../support/catalog.js';
import { runCli } from '../support/processes.js';
import {
  pgEngineFixture,
  setupPgTarget,
  startScramCluster,
  type PgCluster,
  type PgTarget,
} from '../support/pg-cluster.js';
import { oneUser } from '../support/one-user.js';

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

/** A Logger that keeps what it is told, so tests can wait on "retried" instead of sleeping. */
function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const make = (bindings: Record<string, unknown>): Logger & { lines: LogLine[] } => {
    const at = (level: string) => (obj: object, msg?: string) =>
      void lines.push({ level, obj: { ...bindings, ...obj }, ...(msg ? { msg } : {}) });
    return {
      lines,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}

/** Polls `probe` until it returns true; fails with `what` at the deadline. */
async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; kind?: string }> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & { code?: string },
  );
}

let shared: Promise<{ cluster: PgCluster; target: PgTarget }> | undefined;
function sharedTarget() {
  shared ??= (async () => {
    const cluster = await startScramCluster();
    try {
      return { cluster, target: await setupPgTarget(cluster) };
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  })();
  return shared;
}

afterAll(async () => {
  if (shared) await (await shared.catch(() => undefined))?.cluster.stop();
}, 30_000);

databaseEngineContract('postgres', async () => {
  const { target } = await sharedTarget();
  const engine = createPostgresEngine(target.entry, { logger: recordingLogger() });
  return pgEngineFixture(target, engine, async () => undefined); // the file's afterAll stops the cluster
});

describe('PostgreSQL engine specifics', () => {
  let target: PgTarget;
  let cluster: PgCluster;
  let engine: DatabaseEngine;
  const log = recordingLogger();
  let nextGrant = 700_000 + Math.floor(Math.random() * 90_000);
  const made: string[] = [];

  async function grant(level: AccessLevel, expiresAt = Date.now() + 3_600_000, eng = engine) {
    const grantId = nextGrant++;
    const username = generateUsername('pg.specific@example.com');
    const password = generatePassword();
    made.push(username);
    const res = await oneUser(eng).newUser({ grantId, username, password, expiresAt, level });
    return { grantId, username, password, expiresAt, res };
  }

  beforeAll(async () => {
    ({ target, cluster } = await sharedTarget());
    engine = createPostgresEngine(target.entry, { logger: log, tuning: { retryBaseDelayMs: 20 } });
  }, 120_000);

  afterAll(async () => {
    for (const u of made) {
      await oneUser(engine)
        .disableUser(u)
        .catch(() => undefined);
      await oneUser(engine)
        .deleteUser(u)
        .catch(() => undefined);
    }
    await engine.close();
  }, 30_000);

  it('sets VALID UNTIL to expiresAt: after it, the server refuses the login with no help from db-access', async () => {
    const expiresAt = Date.now() + 2_000;
    const g = await grant(target.levels.read, expiresAt);
    const [row] = await target.query(
      'SELECT (extract(epoch FROM rolvaliduntil) * 1000)::bigint AS ms, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [g.username],
    );
    expect(Number(row?.ms)).toBe(expiresAt);
    expect(row?.rolcanlogin).toBe(true);
    const open = await target.connectAs(g.username, g.password);
    await waitFor('the expiry to pass', () => Date.now() > expiresAt + 50, 5_000);
    const refused = await rejection(target.connectAs(g.username, g.password));
    expect(refused.code).toBe('28P01');
    // VALID UNTIL is checked at login only: the session opened before keeps working, which is why revocation
    // terminates sessions.
    expect(await open.query('SELECT 1')).toHaveLength(1);
    await open.close();
  });

  it('stores only a SCRAM verifier; no plaintext password reaches the server log (log_statement = all)', async () => {
    expect((await target.query('SHOW log_statement'))[0]?.log_statement).toBe('all');
    const g = await grant(target.levels.read);
    const rotated = generatePassword();
    await engine.updateUser({
      grantId: g.grantId,
      username: g.username,
      newPassword: rotated,
      newExpiresAt: Date.now() + 7_200_000,
    });
    const adoptedPassword = generatePassword();
    const adopted = await oneUser(engine).newUser({
      grantId: g.grantId,
      username: g.username,
      password: adoptedPassword,
      expiresAt: Date.now() + 3_600_000,
      level: target.levels.read,
    });
    expect(adopted.outcome).toBe('adopted');
    await (await target.connectAs(g.username, adoptedPassword)).close();

    const [auth] = await target.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [g.username]);
    expect(String(auth?.rolpassword)).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);

    const serverLog = cluster.readLog();
    expect(serverLog).toContain(`CREATE ROLE "${g.username}"`); // the statements were logged …
    expect(serverLog).toContain(`ALTER ROLE "${g.username}" WITH PASSWORD 'SCRAM-SHA-256$`);
    for (const secret of [g.password, rotated, adoptedPassword, target.entry.admin.password])
      expect(serverLog).not.toContain(secret); // … no password
  });

  it('applies the guard-rails: statement_timeout, idle_in_transaction_session_timeout, CONNECTION LIMIT', async () => {
    const guarded: AccessLevel = {
      name: 'guarded',
      roles: ['app_read'],
      grants: [],
      guardRails: { statementTimeoutMs: 300, idleInTransactionTimeoutMs: 500, connectionLimit: 1 },
    };
    const g = await grant(guarded);
    const [role] = await target.query('SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = $1', [g.username]);
    expect(role?.rolconnlimit).toBe(1);
    expect(role?.rolconfig).toEqual(
      expect.arrayContaining(['statement_timeout=300', 'idle_in_transaction_session_timeout=500']),
    );

    const s = await target.connectAs(g.username, g.password);
    expect(await s.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '300ms' }]);
    expect((await rejection(s.query('SELECT pg_sleep(2)'))).code).toBe('57014'); // canceled by statement_timeout
    expect((await rejection(target.connectAs(g.username, g.password))).code).toBe('53300'); // too many connections for role

    await s.query('BEGIN');
    await s.query('SELECT 1');
    await Promise.race([s.ended, waitFor('the idle transaction to be ended', () => false, 10_000)]);
    // The server ended it (pg reports only "Connection terminated unexpectedly"); its log says why.
    expect(s.lastError).toBeDefined();
    expect(cluster.readLog()).toMatch(
      new RegExp(`${g.username}@appdb FATAL:\\s+terminating connection due to idle-in-transaction timeout`),
    );
    await s.close();
  });

  it('retries "tuple concurrently updated" (XX000) provoked by a concurrent ALTER ROLE', async () => {
    const g = await grant(target.levels.read);
    const dba = await cluster.connect('appdb');
    try {
      await dba.query('BEGIN');
      await dba.query(`ALTER ROLE "${g.username}" CONNECTION LIMIT 4`); // holds the pg_authid row
      const rotated = generatePassword();
      const before = log.lines.length;
      const update = engine.updateUser({ grantId: g.grantId, username: g.username, newPassword: rotated });
      await waitFor('the engine to wait on the row lock', async () => {
        const rows = await cluster.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'db-access' AND wait_event_type = 'Lock'",
        );
        return rows.length > 0;
      });
      await dba.query('COMMIT'); // the engine's ALTER ROLE now fails with XX000 and is retried
      await update;
      const retried = log.lines.slice(before).filter((l) => l.level === 'warn' && l.obj.code === 'XX000');
      expect(retried.length).toBeGreaterThanOrEqual(1);
      await (await target.connectAs(g.username, rotated)).close();
    } finally {
      await dba.end();
    }
  });

  it('gives up on a held DDL lock with TargetError(retryable, 55P03) and leaves nothing behind', async () => {
    const impatient = createPostgresEngine(target.entry, {
      logger: recordingLogger(),
      tuning: { lockTimeoutMs: 150, retryAttempts: 2, retryBaseDelayMs: 10 },
    });
    const dba = await cluster.connect('appdb');
    try {
      await dba.query('BEGIN');
      await dba.query("SELECT pg_advisory_xact_lock('7233184875441820531'::bigint)"); // another broker's DDL
      const username = generateUsername('locked@example.com');
      const err = await rejection(
        oneUser(impatient).newUser({
          grantId: nextGrant++,
          username,
          password: generatePassword(),
          expiresAt: Date.now() + 60_000,
          level: target.levels.read,
        }),
      );
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).kind).toBe('retryable');
      expect((err as TargetError).code).toBe('55P03');
      expect(await target.userExists(username)).toBe(false);
    } finally {
      await dba.query('ROLLBACK');
      await dba.end();
      await impatient.close();
    }
  });

  it('disableUser and deleteUser refuse a role without the db-access marker and leave it untouched', async () => {
    const username = generateUsername('someone.else@example.com');
    await target.createForeignUser(username);
    try {
      expect(((await rejection(oneUser(engine).disableUser(username))) as TargetError).kind).toBe('conflict');
      expect(((await rejection(oneUser(engine).deleteUser(username))) as TargetError).kind).toBe('conflict');
      const [row] = await target.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [username]);
      expect(row?.rolcanlogin).toBe(true);
    } finally {
      await target.dropUserByHand(username);
    }
  });

  it('a batch that one role makes fail is redone one user at a time: only that role gets the error', async () => {
    const a = await grant(target.levels.read);
    const b = await grant(target.levels.read);
    // Carries a db-access marker but is a superuser: the CREATEROLE admin may not ALTER it (42501), so the batch's
    // ALTER ROLE statement string fails as a whole.
    const su = generateUsername('superuser@example.com');
    await cluster.query(`CREATE ROLE "${su}" SUPERUSER LOGIN`);
    await cluster.query(`COMMENT ON ROLE "${su}" IS '${encodeMarker(1, Date.now() + 3_600_000)}'`);
    try {
      const s = await target.connectAs(a.username, a.password);
      const before = log.lines.length;
      const disabled = await engine.disableUsers([a.username, su, b.username]);
      expect(disabled.get(a.username)).toEqual({ existed: true, sessionsTerminated: 1 });
      expect(disabled.get(b.username)).toEqual({ existed: true, sessionsTerminated: 0 });
      expect(disabled.get(su)).toBeInstanceOf(TargetError);
      expect((disabled.get(su) as TargetError).kind).toBe('permission');
      expect(log.lines.slice(before).some((l) => l.msg?.startsWith('batch disable failed'))).toBe(true);
      await s.ended;
      const deleted = await engine.deleteUsers([a.username, su, b.username]);
      expect(deleted.get(a.username)).toEqual({ outcome: 'dropped' });
      expect(deleted.get(b.username)).toEqual({ outcome: 'dropped' });
      expect((deleted.get(su) as TargetError).kind).toBe('permission');
      expect(await target.userExists(su)).toBe(true);
      // A batch that succeeds does not fall back.
      const c = await grant(target.levels.read);
      const quiet = log.lines.length;
      expect((await engine.deleteUsers([c.username])).get(c.username)).toEqual({ outcome: 'dropped' });
      expect(log.lines.slice(quiet).filter((l) => l.msg?.includes('one user at a time'))).toEqual([]);
    } finally {
      await cluster.query(`DROP ROLE IF EXISTS "${su}"`);
    }
  });

  it('newUsers: one transaction for the batch, no password in the server log; a failing user redoes it one by one', async () => {
    const request = (level: AccessLevel) => {
      const req = {
        grantId: nextGrant++,
        username: generateUsername('pg.batch@example.com'),
        password: generatePassword(),
        expiresAt: Date.now() + 3_600_000,
        level,
      };
      made.push(req.username);
      return req;
    };
    const reqs = [request(target.levels.read), request(target.levels.write), request(target.levels.template)];
    const before = log.lines.length;
    const res = await engine.newUsers(reqs);
    for (const r of reqs) expect(res.get(r.username)).toEqual({ outcome: 'created' });
    const lines = log.lines.slice(before);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(lines.filter((l) => l.level === 'info').map((l) => [l.msg, l.obj.users, l.obj.created])).toEqual([
      ['PostgreSQL users ready', 3, 3],
    ]);
    // Every role was created by one statement string: the server logged all three CREATE ROLEs in one entry.
    const serverLog = cluster.readLog();
    const entry = serverLog.split(/\n(?=\S)/).find((e) => e.includes(`CREATE ROLE "${reqs[0]!.username}"`));
    for (const r of reqs) expect(entry).toContain(`CREATE ROLE "${r.username}"`);
    for (const r of reqs) expect(serverLog).not.toContain(r.password);

    // A role the level names does not exist: the batch aborts, and is redone per user.
    const bad = request({ ...target.levels.read, roles: ['no_such_role_db_access'] });
    const good = request(target.levels.read);
    const mark = log.lines.length;
    const mixed = await engine.newUsers([bad, good]);
    expect((mixed.get(bad.username) as TargetError).kind).toBe('invalid');
    expect(mixed.get(good.username)).toEqual({ outcome: 'created' });
    expect(await target.userExists(bad.username)).toBe(false);
    await (await target.connectAs(good.username, good.password)).close();
    expect(log.lines.slice(mark).some((l) => l.msg === 'batch create failed; creating one user at a time')).toBe(true);
    expect(log.lines.slice(mark).find((l) => l.msg === 'PostgreSQL users ready')?.obj).toMatchObject({
      users: 2,
      created: 1,
      failed: 1,
    });
  });

  it('newUsers, disableUsers and deleteUsers on an unreachable server throw TargetError(retryable) instead of a map of errors', async () => {
    const gone = createPostgresEngine(
      { ...target.entry, port: 1 },
      { logger: recordingLogger(), tuning: { retryBaseDelayMs: 10, retryAttempts: 2 } },
    );
    try {
      const names = [generateUsername('down@example.com'), generateUsername('down@example.com')];
      const reqs = names.map((username, i) => ({
        grantId: i + 1,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level: target.levels.read,
      }));
      for (const call of [() => gone.newUsers(reqs), () => gone.disableUsers(names), () => gone.deleteUsers(names)]) {
        const err = await rejection(call());
        expect(err).toBeInstanceOf(TargetError);
        expect((err as TargetError).kind).toBe('retryable');
      }
    } finally {
      await gone.close();
    }
  });

  it('deleteUser drops what the user created in another database too', async () => {
    await cluster.query('CREATE DATABASE otherdb');
    await cluster.query('GRANT CREATE ON SCHEMA public TO PUBLIC', [], 'otherdb'); // the pre-PG15 default
    const g = await grant(target.levels.read);
    const s = await target.connectAs(g.username, g.password, 'otherdb');
    await s.query('CREATE TABLE left_behind (id int)');
    await s.close();
    await oneUser(engine).disableUser(g.username);
    expect((await oneUser(engine).deleteUser(g.username)).outcome).toBe('dropped');
    expect(await target.userExists(g.username)).toBe(false);
    expect(await cluster.query("SELECT 1 FROM pg_tables WHERE tablename = 'left_behind'", [], 'otherdb')).toEqual([]);
  });

  it('deleteUsers drops what the users created in other databases, one DROP OWNED per database', async () => {
    await cluster.query('CREATE DATABASE batchdb1');
    await cluster.query('CREATE DATABASE batchdb2');
    for (const db of ['batchdb1', 'batchdb2']) await cluster.query('GRANT CREATE ON SCHEMA public TO PUBLIC', [], db);
    const users = [await grant(target.levels.read), await grant(target.levels.read), await grant(target.levels.read)];
    const place = async (g: (typeof users)[number], db: string, table: string) => {
      const s = await target.connectAs(g.username, g.password, db);
      await s.query(`CREATE TABLE ${table} (id int)`);
      await s.close();
    };
    await place(users[0]!, 'batchdb1', 'u0_db1');
    await place(users[1]!, 'batchdb1', 'u1_db1');
    await place(users[1]!, 'batchdb2', 'u1_db2');
    const deleted = await engine.deleteUsers(users.map((g) => g.username));
    for (const g of users) {
      expect(deleted.get(g.username)).toEqual({ outcome: 'dropped' });
      expect(await target.userExists(g.username)).toBe(false);
    }
    for (const db of ['batchdb1', 'batchdb2'])
      expect(await cluster.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", [], db)).toEqual([]);
  });

  it('a templated grant the admin cannot give fails newUser (nothing left) and initialize names the fix', async () => {
    const level: AccessLevel = {
      name: 'update',
      roles: [],
      grants: ['GRANT UPDATE ON items TO {{user}}'],
      guardRails: { connectionLimit: 1 },
    };
    const username = generateUsername('tmpl@example.com');
    const err = await rejection(
      oneUser(engine).newUser({
        grantId: nextGrant++,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level,
      }),
    );
    expect((err as TargetError).kind).toBe('permission');
    expect(await target.userExists(username)).toBe(false);

    const missing: AccessLevel = {
      name: 'ghost',
      roles: ['no_such_role'],
      grants: [],
      guardRails: { connectionLimit: 1 },
    };
    const checker = createPostgresEngine(
      { ...target.entry, levels: new Map([...target.entry.levels, ['update', level], ['ghost', missing]]) },
      { logger: recordingLogger() },
    );
    try {
      const caps = await checker.initialize();
      expect(caps).toMatchObject({
        engine: 'postgres',
        flavour: 'postgresql',
        readOnly: false,
        expiryBackstop: 'valid_until',
      });
      const failed = caps.checks.filter((c) => !c.ok);
      expect(failed.find((c) => c.name === 'level update')?.fix).toBe(
        'GRANT UPDATE ON items TO "jit_admin" WITH GRANT OPTION',
      );
      expect(failed.find((c) => c.name === 'role no_such_role')?.fix).toBe('CREATE ROLE "no_such_role" NOLOGIN');
      expect(failed.map((c) => c.name).sort()).toEqual([
        'level ghost',
        'level update',
        'role no_such_role',
        'statement statistics', // pg_stat_statements is not preloaded on this cluster
      ]);
      expect(caps.checks.find((c) => c.name === 'level template')?.ok).toBe(true);
    } finally {
      await checker.close();
    }
    // The DBA's doctor says the same, with the statements to run.
    const catalog = writeCatalog([
      { ...target.entry, levels: new Map([...target.entry.levels, ['update', level], ['ghost', missing]]) },
    ]);
    const doctor = await runCli(['check'], { ...catalog.env, CATALOG_PATH: catalog.path });
    expect(doctor.code, doctor.stderr).toBe(1);
    expect(doctor.stdout).toContain('fix: GRANT UPDATE ON items TO "jit_admin" WITH GRANT OPTION');
    expect(doctor.stdout).toContain('fix: CREATE ROLE "no_such_role" NOLOGIN');
  });

  it("two installations sharing a server each list only their own users (so neither sweeps the other's as orphans)", async () => {
    const a = createPostgresEngine(target.entry, { logger: recordingLogger(), installation: 'aaaaaaaaaaaaaaaa' });
    const b = createPostgresEngine(target.entry, { logger: recordingLogger(), installation: 'bbbbbbbbbbbbbbbb' });
    const legacy = createPostgresEngine(target.entry, { logger: recordingLogger() });
    const username = generateUsername('inst@example.com');
    try {
      await oneUser(a).newUser({
        grantId: nextGrant++,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level: target.levels.read,
      });
      expect((await a.listManagedUsers()).map((u) => u.username)).toContain(username);
      expect((await b.listManagedUsers()).map((u) => u.username)).not.toContain(username);
      expect((await legacy.listManagedUsers()).map((u) => u.username)).toContain(username);
    } finally {
      await oneUser(a).disableUser(username);
      await oneUser(a).deleteUser(username);
      await Promise.all([a.close(), b.close(), legacy.close()]);
    }
  });

  it('initialize on an unreachable server throws TargetError(retryable)', async () => {
    const gone = createPostgresEngine(
      { ...target.entry, port: 1 },
      { logger: recordingLogger(), tuning: { retryBaseDelayMs: 10 } },
    );
    try {
      const err = await rejection(gone.initialize());
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).kind).toBe('retryable');
      expect(err.message).not.toContain(target.entry.admin.password);
    } finally {
      await gone.close();
    }
  });

  it('listManagedUsers reports the expiry from the marker and open sessions', async () => {
    const g = await grant(target.levels.read);
    const s = await target.connectAs(g.username, g.password);
    try {
      const mine = (await engine.listManagedUsers()).find((m) => m.username === g.username);
      expect(mine).toEqual({ username: g.username, grantId: g.grantId, expiresAt: g.expiresAt, sessions: 1 });
    } finally {
      await s.close();
    }
  });
});

describe('PostgreSQL admin setup SQL', () => {
  it('PostgreSQL 16+: ADMIN OPTION per granted role and createrole_self_grant become statements', () => {
    const sql = postgresAdminSetupSql({
      adminUser: 'jit_admin',
      database: 'appdb',
      roles: ['app_read'],
      serverVersionNum: 160004,
    });
    expect(sql).toContain('GRANT "app_read" TO "jit_admin" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE');
    expect(sql).toContain(`ALTER ROLE "jit_admin" SET createrole_self_grant = 'set, inherit'`);
    const pg15 = postgresAdminSetupSql({ adminUser: 'jit_admin', database: 'appdb', roles: ['app_read'] });
    expect(pg15.filter((s) => !s.startsWith('--'))).toEqual([
      'CREATE ROLE "jit_admin" WITH LOGIN CREATEROLE INHERIT NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS',
      'GRANT CONNECT ON DATABASE "appdb" TO "jit_admin"',
    ]);
    // Version unknown (docs/targets.md): the 16+ statements as comments; a known ≤ 15 server gets none of them.
    expect(pg15).toContain(
      '-- PostgreSQL 16 and later only: GRANT "app_read" TO "jit_admin" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE;',
    );
    const known15 = postgresAdminSetupSql({
      adminUser: 'jit_admin',
      database: 'appdb',
      roles: ['app_read'],
      serverVersionNum: 150018,
    });
    expect(known15.filter((s) => s.includes('ADMIN OPTION') || s.includes('createrole_self_grant'))).toEqual([]);
    expect(sql.join('\n')).not.toMatch(/PASSWORD/);
  });

  it('fixes use only syntax the server has: INHERIT / SET options of a membership exist from PostgreSQL 16', () => {
    expect(grantRoleToAdminSql('app_read', 'jit_admin', 150018)).toBe(
      'GRANT "app_read" TO "jit_admin" WITH ADMIN OPTION',
    );
    expect(grantRoleToAdminSql('app_read', 'jit_admin', 180004)).toBe(
      'GRANT "app_read" TO "jit_admin" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE',
    );
    expect(adminOfUserSql('jit_x', 'jit_admin', 140023)).toBe('GRANT "jit_x" TO "jit_admin"');
    expect(adminOfUserSql('jit_x', 'jit_admin', 160014)).toBe(
      'GRANT "jit_x" TO "jit_admin" WITH ADMIN OPTION, INHERIT TRUE',
    );
  });
});

describe('PostgreSQL error classification (SQLSTATE / errno only)', () => {
  it.each([
    ['42501', 'permission'],
    ['28P01', 'permission'],
    ['25006', 'read_only'],
    ['08006', 'retryable'],
    ['08001', 'retryable'],
    ['57P01', 'retryable'],
    ['ECONNREFUSED', 'retryable'],
    ['ECONNRESET', 'retryable'],
    ['XX000', 'retryable'],
    ['40P01', 'retryable'],
    ['40001', 'retryable'],
    ['55P03', 'retryable'],
    ['42704', 'invalid'],
    ['42601', 'invalid'],
    ['0LP01', 'invalid'],
    ['P0001', 'permanent'],
  ])('%s → %s', (code, kind) => {
    expect(classifyCode(code)).toBe(kind);
    expect(classifyError(Object.assign(new Error('Beliebiger Text, nicht auf Englisch'), { code }))).toBe(kind);
  });

  it('ignores message text and treats programming errors as permanent', () => {
    expect(classifyError(Object.assign(new Error('permission denied for table items'), { code: 'XX000' }))).toBe(
      'retryable',
    );
    expect(classifyError(new Error('cannot execute CREATE ROLE in a read-only transaction'))).toBe('retryable'); // code-less: a driver error
    expect(classifyError(new TypeError('x is undefined'))).toBe('permanent');
    expect(classifyError(new TargetError('conflict', 'x'))).toBe('conflict');
  });
});
