/**
 * auditStatements on PostgreSQL, on throwaway scram-sha-256 clusters (the machine's 15 and the newest packaged
 * server) whose admin is made by exactly postgresAdminSetupSql(). The clusters log every statement by default, so
 * each test file turns that off server-wide first: a statement of an issued user then reaches the log only through
 * its own role setting. Shown: `check` refuses with the missing grant until a superuser runs it; a user of an
 * audited level carries log_statement=all in pg_db_role_setting (a user of another level does not); what it runs is
 * in the server log; creating an audited user without the privilege fails whole, naming the fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel, DatabaseEntry } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, EngineCheck } from '../../src/core/ports.js';
import { createPostgresEngine, postgresAdminSetupSql } from '../../src/targets/postgres/index.js';
import { logStatementGrantSql } from '../../src/targets/postgres/admin-setup.js';
import { writeCatalog } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { runCli } from '../support/processes.js';
import { oneUser } from '../support/one-user.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { MACHINE_PG, NEWEST_PG, type PgServer } from '../support/pg-versions.js';
import { waitFor } from '../support/wait.js';

const audited: AccessLevel = {
  name: 'audited',
  roles: ['app_read'],
  grants: [],
  guardRails: { connectionLimit: 5 },
  auditStatements: true,
};

function statementCheck(checks: readonly EngineCheck[]): EngineCheck | undefined {
  return checks.find((c) => c.name === 'statement logging');
}

describe.each([MACHINE_PG, NEWEST_PG])('auditStatements on PostgreSQL $major', (server: PgServer) => {
  let cluster: PgCluster;
  let target: PgTarget;
  let entry: DatabaseEntry;
  let engine: DatabaseEngine;
  let grantId = 9_000;

  beforeAll(async () => {
    cluster = await startScramCluster(server);
    target = await setupPgTarget(cluster);
    // Nothing is logged server-wide from here on; postgresql.auto.conf overrides the harness's log_statement = 'all'.
    await cluster.query(`ALTER SYSTEM SET log_statement = 'none'`);
    await cluster.query('SELECT pg_reload_conf()');
    await waitFor('log_statement = none for new sessions', async () => {
      const [row] = await cluster.query(`SELECT current_setting('log_statement') AS v`);
      return row?.v === 'none';
    });
    entry = { ...target.entry, levels: new Map([...target.entry.levels, [audited.name, audited]]) };
    engine = createPostgresEngine(entry, { logger: capturingLogger().logger });
  }, 120_000);

  afterAll(async () => {
    await engine?.close();
    await cluster?.stop();
  });

  const request = (level: AccessLevel) => ({
    grantId: ++grantId,
    username: generateUsername('alice'),
    password: generatePassword(),
    expiresAt: Date.now() + 3_600_000,
    level,
  });

  it('check fails with the grant to run while the admin may not set log_statement, and an audited user is not created', async () => {
    expect(target.adminSetupSql).not.toContain(logStatementGrantSql('jit_admin'));
    const caps = await engine.initialize();
    const c = statementCheck(caps.checks);
    expect(c).toMatchObject({ ok: false, severity: 'error' });
    expect(c?.detail).toContain('level audited asks for auditStatements');
    expect(c?.detail).toContain('jit_admin may not set log_statement');
    expect(c?.fix).toBe('GRANT SET ON PARAMETER log_statement TO "jit_admin"');
    if (server === MACHINE_PG) {
      // What `db-access check` prints from it, and its exit code.
      const catalog = writeCatalog([entry]);
      const doctor = await runCli(['check'], { ...catalog.env, CATALOG_PATH: catalog.path });
      expect(doctor.code, doctor.stderr).toBe(1);
      expect(doctor.stdout).toContain(
        'level audited asks for auditStatements, but jit_admin may not set log_statement',
      );
      expect(doctor.stdout).toContain('fix: GRANT SET ON PARAMETER log_statement TO "jit_admin"');
    }

    const req = request(audited);
    const err = await oneUser(engine)
      .newUser(req)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).kind).toBe('permission');
    expect((err as TargetError).message).toContain('GRANT SET ON PARAMETER log_statement TO "jit_admin"');
    // All or nothing: the role was not left behind without its logging.
    expect(await target.userExists(req.username)).toBe(false);
  });

  it('with the documented grant, check passes; the audited user has log_statement=all and its statements are logged, the other user not', async () => {
    const setup = postgresAdminSetupSql({
      adminUser: 'jit_admin',
      database: 'appdb',
      roles: ['app_read', 'app_write'],
      auditStatements: true,
      serverVersionNum: cluster.versionNum,
    });
    const extra = setup.filter((sql) => !target.adminSetupSql.includes(sql) && !sql.startsWith('--'));
    expect(extra).toEqual([logStatementGrantSql('jit_admin')]);
    for (const sql of extra) await cluster.query(sql, [], 'appdb');

    const c = statementCheck((await engine.initialize()).checks);
    expect(c).toMatchObject({ ok: true });
    expect(c?.detail).toContain('jit_admin may set log_statement');
    if (server === MACHINE_PG) {
      const catalog = writeCatalog([entry]);
      const doctor = await runCli(['check'], { ...catalog.env, CATALOG_PATH: catalog.path });
      expect(doctor.stdout).toMatch(/statement logging: jit_admin may set log_statement/);
      expect(doctor.stdout).not.toContain('GRANT SET ON PARAMETER');
    }

    const loud = request(audited);
    const quiet = request(target.levels.read);
    const made = await engine.newUsers([loud, quiet]);
    expect(made.get(loud.username)).toEqual({ outcome: 'created' });
    expect(made.get(quiet.username)).toEqual({ outcome: 'created' });

    const settings = async (username: string) =>
      (
        await cluster.query(
          `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
            WHERE r.rolname = $1 AND s.setdatabase = 0`,
          [username],
        )
      ).flatMap((r) => r.setconfig as string[]);
    expect(await settings(loud.username)).toContain('log_statement=all');
    expect(await settings(quiet.username)).not.toContain('log_statement=all');

    const marks = { loud: `audit_mark_${grantId}_loud`, quiet: `audit_mark_${grantId}_quiet` };
    // The other user first: once the audited statement is in the log, anything logged before it is there too.
    for (const [req, mark] of [
      [quiet, marks.quiet],
      [loud, marks.loud],
    ] as const) {
      const s = await target.connectAs(req.username, req.password);
      try {
        expect(await s.query(`SELECT count(*) AS ${mark} FROM items`)).toEqual([{ [mark]: '3' }]);
      } finally {
        await s.close();
      }
    }
    // The user cannot turn it off: in its session, or on its role.
    const s = await target.connectAs(loud.username, loud.password);
    try {
      await expect(s.query(`SET log_statement = 'none'`)).rejects.toMatchObject({ code: '42501' });
      await expect(s.query(`ALTER ROLE CURRENT_USER RESET log_statement`)).rejects.toMatchObject({ code: '42501' });
    } finally {
      await s.close();
    }
    expect(await settings(loud.username)).toContain('log_statement=all');

    const logged = await waitFor('the audited statement in the server log', () => {
      const log = cluster.readLog();
      return log.includes(marks.loud) ? log : undefined;
    });
    const line = logged.split('\n').find((l) => l.includes(marks.loud)) ?? '';
    expect(line).toContain(`${loud.username}@appdb`);
    expect(line).toContain('statement:');
    // The same statement by the other user, run just before, is not there.
    expect(logged).not.toContain(marks.quiet);

    // DROP ROLE takes the setting with it.
    const gone = await engine.deleteUsers([loud.username, quiet.username]);
    expect(gone.get(loud.username)).toEqual({ outcome: 'dropped' });
    expect(
      await cluster.query(
        `SELECT 1 FROM pg_db_role_setting s WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.setrole)`,
      ),
    ).toEqual([]);
  });
});
