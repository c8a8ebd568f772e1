/**
 * auditStatements on MariaDB with the server_audit plugin (installed for this file when the server has the plugin
 * file but not the plugin, and put back as found afterwards). The target's admin is made by exactly
 * mysqlAdminSetupSql(); the audit grant is added from that function's own output. Shown: `check` names SUPER until it
 * is granted; an issued user of an audited level is in server_audit_incl_users from creation to revocation, the DBA's
 * entries stay as they were, and its statements are in the audit log (another level's are not); creations and
 * revocations racing from two "processes" (engines with different in-process locks) lose no entry; an empty list is
 * left empty; with logging off the user is refused.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverKey, type AccessLevel, type DatabaseEntry } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, EngineCheck, NewUserRequest } from '../../src/core/ports.js';
import { adminAccount, grantAuditListSql } from '../../src/targets/mysql/admin-setup.js';
import { createMysqlEngine, mysqlAdminSetupSql } from '../../src/targets/mysql/index.js';
import type { Queryable } from '../../src/targets/mysql/session.js';
import { addToAuditList, parseAuditList } from '../../src/targets/mysql/statement-audit.js';
import { capturingLogger } from '../support/logs.js';
import { MARIADB_HOST, MARIADB_PORT, setupMariadbTarget, type MariadbTarget } from '../support/mariadb-target.js';
import { oneUser } from '../support/one-user.js';
import { waitFor } from '../support/wait.js';

const DBA_LIST = ' dba_watch , other_tool';
const DBA_ENTRIES = ['dba_watch', 'other_tool'];

let target: MariadbTarget;
let audited: AccessLevel;
let entry: DatabaseEntry;
let engine: DatabaseEngine;
let installedHere = false;
let before: Record<string, unknown> = {};
let logDir = '';
let logFile = '';
let grantId = 7_000;

const list = async () => {
  const [row] = await target.query('SELECT @@GLOBAL.server_audit_incl_users AS v');
  return parseAuditList(row?.v);
};
const byName = (checks: readonly EngineCheck[], name: string) => checks.find((c) => c.name === name);
const request = (level: AccessLevel): NewUserRequest & { password: string } => ({
  grantId: ++grantId,
  username: generateUsername('ana'),
  password: generatePassword(),
  expiresAt: Date.now() + 3_600_000,
  level,
});

beforeAll(async () => {
  target = await setupMariadbTarget();
  const [dir] = await target.query('SELECT @@GLOBAL.plugin_dir AS d');
  const [plugin] = await target.query(
    "SELECT PLUGIN_STATUS AS s FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'SERVER_AUDIT'",
  );
  if (!plugin) {
    if (!existsSync(join(String(dir?.d), 'server_audit.so')))
      throw new Error(`no server_audit.so in ${String(dir?.d)}: this test needs MariaDB's audit plugin file`);
    await target.query("INSTALL SONAME 'server_audit'");
    installedHere = true;
  }
  [before = {}] = await target.query(
    `SELECT @@GLOBAL.server_audit_logging AS logging, @@GLOBAL.server_audit_events AS events,
            @@GLOBAL.server_audit_incl_users AS incl, @@GLOBAL.server_audit_file_path AS path`,
  );
  logDir = mkdtempSync(join(tmpdir(), 'db-access-audit-'));
  chmodSync(logDir, 0o777); // the server may run as another OS user
  logFile = join(logDir, 'server_audit.log');
  await target.query('SET GLOBAL server_audit_file_path = ?', [logFile]);
  await target.query("SET GLOBAL server_audit_events = 'QUERY'");
  await target.query('SET GLOBAL server_audit_incl_users = ?', [DBA_LIST]);
  await target.query('SET GLOBAL server_audit_logging = ON');
  audited = { ...target.levels.read, name: 'audited', auditStatements: true };
  entry = { ...target.entry, levels: new Map([...target.entry.levels, [audited.name, audited]]) };
  engine = createMysqlEngine(entry, { logger: capturingLogger().logger });
}, 60_000);

afterAll(async () => {
  await engine?.close();
  if (target) {
    await target.query('SET GLOBAL server_audit_logging = OFF');
    if (installedHere) await target.query("UNINSTALL SONAME 'server_audit'");
    else {
      await target.query('SET GLOBAL server_audit_incl_users = ?', [before.incl ?? '']);
      await target.query('SET GLOBAL server_audit_events = ?', [before.events ?? '']);
      await target.query('SET GLOBAL server_audit_file_path = ?', [before.path ?? 'server_audit.log']);
      await target.query(`SET GLOBAL server_audit_logging = ${Number(before.logging) === 1 ? 'ON' : 'OFF'}`);
    }
    await target.teardown();
  }
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

describe('auditStatements on MariaDB (server_audit)', () => {
  it('without SUPER: check names the grant, and an audited user is refused with nothing left behind', async () => {
    const caps = await engine.initialize();
    expect(byName(caps.checks, 'audit plugin')).toMatchObject({ ok: true });
    const admin = adminAccount(target.names.adminUser, '%');
    expect(byName(caps.checks, 'audit privilege')).toMatchObject({
      ok: false,
      severity: 'error',
      fix: `${grantAuditListSql(admin)};`,
    });
    expect(byName(caps.checks, 'audit privilege')?.detail).toContain('lacks SUPER');

    const req = request(audited);
    const err = await oneUser(engine)
      .newUser(req)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).kind).toBe('permission');
    expect((err as TargetError).message).toContain(`GRANT SUPER ON *.* TO ${admin}`);
    expect(await target.userExists(req.username)).toBe(false);
    expect(await target.markerOf(req.username)).toBeUndefined();
    expect(await list()).toEqual(DBA_ENTRIES);
  });

  it('with the documented grant: listed from creation to revocation, DBA entries kept, its statements in the audit log', async () => {
    const setup = mysqlAdminSetupSql({
      adminUser: target.names.adminUser,
      adminHost: '%',
      database: target.names.database,
      roles: [target.names.readRole, target.names.writeRole],
      brokerSchema: target.names.brokerSchema,
      flavour: 'mariadb',
      templates: target.levels.template.grants,
      auditStatements: true,
    });
    // (The harness's CREATE USER carries the real password where this one has a placeholder.)
    const extra = setup.filter((sql) => !target.adminSetupSql.includes(sql) && !sql.startsWith('CREATE USER'));
    expect(extra).toEqual([grantAuditListSql(adminAccount(target.names.adminUser, '%'))]);
    for (const sql of extra) await target.query(sql);
    // MariaDB applies a global grant to new connections only: a fresh engine (pool), as a restarted worker has.
    await engine.close();
    engine = createMysqlEngine(entry, { logger: capturingLogger().logger });

    const caps = await engine.initialize();
    for (const name of ['audit plugin', 'audit privilege', 'audit logging', 'audit events'])
      expect(byName(caps.checks, name), name).toMatchObject({ ok: true });

    const loud = request(audited);
    const quiet = request(target.levels.read);
    const made = await engine.newUsers([loud, quiet]);
    expect(made.get(loud.username)).toEqual({ outcome: 'created' });
    expect(made.get(quiet.username)).toEqual({ outcome: 'created' });
    expect(await list()).toEqual([...DBA_ENTRIES, loud.username]);

    const marks = { loud: `audit_mark_${grantId}_loud`, quiet: `audit_mark_${grantId}_quiet` };
    for (const [req, mark] of [
      [quiet, marks.quiet],
      [loud, marks.loud],
    ] as const) {
      const s = await target.connectAs(req.username, req.password);
      try {
        expect(await s.query(`SELECT COUNT(*) AS ${mark} FROM \`${target.names.database}\`.items`)).toHaveLength(1);
      } finally {
        await s.close();
      }
    }
    const log = await waitFor('the audited statement in the audit log', () => {
      const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      return text.includes(marks.loud) ? text : undefined;
    });
    expect(log.split('\n').find((l) => l.includes(marks.loud))).toContain(`,${loud.username},`);
    expect(log).not.toContain(marks.quiet);

    const gone = await engine.deleteUsers([loud.username, quiet.username]);
    expect(gone.get(loud.username)).toEqual({ outcome: 'dropped' });
    expect(await list()).toEqual(DBA_ENTRIES);
  });

  it('creations and revocations racing from two processes lose no entry', async () => {
    // Another host name for the same server: another in-process lock, so only GET_LOCK orders the two engines.
    const other = createMysqlEngine({ ...entry, host: 'localhost' }, { logger: capturingLogger().logger });
    expect(serverKey({ ...entry, host: 'localhost' })).not.toBe(serverKey(entry));
    try {
      const batches = Array.from({ length: 6 }, () => [request(audited), request(audited)]);
      const results = await Promise.all(batches.map((b, i) => (i % 2 ? other : engine).newUsers(b)));
      const names = batches.flat().map((r) => r.username);
      for (const [i, res] of results.entries())
        for (const r of batches[i]!) expect(res.get(r.username)).toEqual({ outcome: 'created' });
      const now = await list();
      expect(now.slice(0, 2)).toEqual(DBA_ENTRIES);
      expect([...now.slice(2)].sort()).toEqual([...names].sort());

      const halves = [names.slice(0, 6), names.slice(6)];
      await Promise.all([engine.deleteUsers(halves[0]!), other.deleteUsers(halves[1]!)]);
      expect(await list()).toEqual(DBA_ENTRIES);
    } finally {
      await other.close();
    }
  });

  it("a list another writer changed between db-access's read and write is read again, not overwritten", async () => {
    const conn = await createConnection({
      host: MARIADB_HOST,
      port: MARIADB_PORT,
      user: process.env.MARIADB_ROOT_USER ?? 'root',
      password: process.env.MARIADB_ROOT_PASSWORD ?? '',
    });
    try {
      let reads = 0;
      // The DBA adds an entry right after db-access's first read of the list.
      const racing: Queryable = {
        query: (async (sql: string, values?: unknown[]) => {
          const res = await conn.query(sql, values);
          if (sql.startsWith('SELECT @@GLOBAL.server_audit_incl_users') && ++reads === 1)
            await target.query(
              "SET GLOBAL server_audit_incl_users = CONCAT(@@GLOBAL.server_audit_incl_users, ',late_dba')",
            );
          return res;
        }) as Queryable['query'],
      };
      expect(await addToAuditList(racing, ['jit_cas_probe'])).toBe('added');
      expect(reads).toBeGreaterThan(2); // read, (write refused), read again, write, read back
      expect(await list()).toEqual([...DBA_ENTRIES, 'late_dba', 'jit_cas_probe']);
    } finally {
      await conn.end();
      await target.query('SET GLOBAL server_audit_incl_users = ?', [DBA_LIST]);
    }
  });

  it('an empty list (every account logged) stays empty, and the user is logged with everyone', async () => {
    await target.query("SET GLOBAL server_audit_incl_users = ''");
    try {
      const req = request(audited);
      expect(await oneUser(engine).newUser(req)).toEqual({ outcome: 'created' });
      expect(await list()).toEqual([]);
      const mark = `audit_mark_${grantId}_everyone`;
      const s = await target.connectAs(req.username, req.password);
      await s.query(`SELECT 1 AS ${mark}`).finally(() => s.close());
      await waitFor('the statement in the audit log', () => readFileSync(logFile, 'utf8').includes(mark));
      await oneUser(engine).deleteUser(req.username);
      expect(await list()).toEqual([]);
    } finally {
      await target.query('SET GLOBAL server_audit_incl_users = ?', [DBA_LIST]);
    }
  });

  it('without the plugin (installed by this file, so it may take it away), check and provisioning say to install it', async (ctx) => {
    if (!installedHere) ctx.skip(); // someone else's plugin (perhaps FORCE_PLUS_PERMANENT): leave it
    await target.query("UNINSTALL SONAME 'server_audit'");
    try {
      const caps = await engine.initialize();
      expect(byName(caps.checks, 'audit plugin')).toMatchObject({
        ok: false,
        fix: "INSTALL SONAME 'server_audit';\nSET GLOBAL server_audit_logging = ON;",
      });
      expect(byName(caps.checks, 'audit plugin')?.detail).toContain('not installed');
      const req = request(audited);
      const err = await oneUser(engine)
        .newUser(req)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((err as TargetError).kind).toBe('invalid');
      expect((err as TargetError).message).toContain(
        "server_audit plugin, which is not loaded: INSTALL SONAME 'server_audit'",
      );
      expect(await target.userExists(req.username)).toBe(false);
      // Revoking other users does not depend on the plugin.
      const plain = request(target.levels.read);
      await oneUser(engine).newUser(plain);
      expect(await oneUser(engine).deleteUser(plain.username)).toEqual({ outcome: 'dropped' });
    } finally {
      await target.query("INSTALL SONAME 'server_audit'");
      await target.query('SET GLOBAL server_audit_file_path = ?', [logFile]);
      await target.query("SET GLOBAL server_audit_events = 'QUERY'");
      await target.query('SET GLOBAL server_audit_incl_users = ?', [DBA_LIST]);
      await target.query('SET GLOBAL server_audit_logging = ON');
    }
  });

  it('with server_audit_logging OFF, check fails and an audited user is refused', async () => {
    await target.query('SET GLOBAL server_audit_logging = OFF');
    try {
      expect(byName((await engine.initialize()).checks, 'audit logging')).toMatchObject({
        ok: false,
        fix: 'SET GLOBAL server_audit_logging = ON;',
      });
      const req = request(audited);
      const plain = request(target.levels.read);
      const res = await engine.newUsers([req, plain]);
      expect(res.get(req.username)).toBeInstanceOf(TargetError);
      expect((res.get(req.username) as TargetError).message).toContain('server_audit_logging is OFF');
      expect(res.get(plain.username)).toEqual({ outcome: 'created' }); // the other level is not held up
      expect(await target.userExists(req.username)).toBe(false);
      expect(await target.markerOf(req.username)).toBeUndefined();
      await engine.deleteUsers([plain.username]);
    } finally {
      await target.query('SET GLOBAL server_audit_logging = ON');
    }
  });
});
