/**
 * Every PostgreSQL server of test/support/pg-versions.ts (the machine's 15 and npm-packaged 14, 16, 17, 18), each a
 * throwaway scram-sha-256 cluster whose admin is created by exactly postgresAdminSetupSql() for its version:
 *  - the DatabaseEngine contract (on 15 it runs in postgres-engine.test.ts, with the engine specifics);
 *  - `check` (initialize) on that version: an admin with nothing but LOGIN NOINHERIT gets fixes that are valid SQL on
 *    the version, that — run verbatim by a superuser — make every check pass and let it issue and revoke users,
 *    including a user another admin account issued (an admin rotation; on 16+ also what a pg_upgrade leaves);
 *  - the password_encryption warning (MD5 deprecated from 18).
 * One cluster at a time: each version's describe starts its cluster lazily and stops it in its afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel, DatabaseEntry } from '../../src/core/catalog.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, EngineCheck, Logger } from '../../src/core/ports.js';
import { createPostgresEngine, scramSha256Verifier } from '../../src/targets/postgres/index.js';
import { databaseEngineContract } from '../contract/database-engine.contract.js';
import { pgEngineFixture, setupPgTarget, startScramCluster, type PgTarget } from '../support/pg-cluster.js';
import { MACHINE_PG, PG_SERVERS, type PgServer } from '../support/pg-versions.js';
import { waitFor } from '../support/wait.js';
import { oneUser } from '../support/one-user.js';

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

/** A level that hands out a predefined role (PostgreSQL 14+; 16+ needs ADMIN OPTION on it like on any role) and may
 *  create tables (so revocation has something to DROP OWNED). */
const READ_ALL: AccessLevel = {
  name: 'readall',
  roles: ['pg_read_all_data'],
  grants: ['GRANT CREATE ON SCHEMA public TO {{user}}'],
  guardRails: { connectionLimit: 2 },
};

/** The fixes initialize() quotes (errors and warnings), each possibly several statements joined by "; ". */
// 'statement statistics' needs a server restart (shared_preload_libraries): these clusters run without it.
const fixesOf = (checks: readonly EngineCheck[]) =>
  checks.filter((c) => !c.ok && c.fix && c.name !== 'statement statistics').map((c) => c.fix!);

function versionSuite(server: PgServer): void {
  describe(`PostgreSQL ${server.major}`, () => {
    let shared: Promise<PgTarget> | undefined;
    const target = () =>
      (shared ??= (async () => {
        const cluster = await startScramCluster(server);
        try {
          return await setupPgTarget(cluster);
        } catch (err) {
          await cluster.stop();
          throw err;
        }
      })());
    afterAll(async () => {
      if (shared) await (await shared.catch(() => undefined))?.cluster.stop();
    }, 30_000);

    if (server !== MACHINE_PG) {
      databaseEngineContract(`postgres ${server.major}`, async () => {
        const t = await target();
        return pgEngineFixture(t, createPostgresEngine(t.entry, { logger: quiet }), async () => undefined);
      });
    }

    describe('check on this version', () => {
      let t: PgTarget;
      const engines: DatabaseEngine[] = [];
      const engineFor = (entry: DatabaseEntry) => {
        const e = createPostgresEngine(entry, { logger: quiet });
        engines.push(e);
        return e;
      };
      beforeAll(async () => {
        t = await target();
      }, 120_000);
      afterAll(async () => {
        await Promise.all(engines.map((e) => e.close()));
      });

      it("a bare admin gets this version's fixes; run verbatim they pass every check and it issues and revokes users", async () => {
        const pg16 = server.major >= 16;
        // A user issued by the documented admin: to a second admin account it is someone else's (an admin rotation).
        const first = engineFor(t.entry);
        const rotated = {
          grantId: 41,
          username: generateUsername('rotated@example.com'),
          password: generatePassword(),
          expiresAt: Date.now() + 600_000,
          level: t.levels.read,
        };
        await oneUser(first).newUser(rotated);

        const admin2 = 'jit_admin2';
        const password = generatePassword();
        await t.query(`CREATE ROLE "${admin2}" LOGIN NOINHERIT PASSWORD '${scramSha256Verifier(password)}'`);
        const entry: DatabaseEntry = {
          ...t.entry,
          admin: { user: admin2, password },
          levels: new Map([...t.entry.levels, [READ_ALL.name, READ_ALL]]),
        };
        const applied: string[] = [];
        let checks: EngineCheck[] = [];
        // Each round fixes what blocks the next (a level is dry-run once the roles it grants are grantable; a level's
        // dry run stops at its first failing template).
        for (let round = 1; round <= 6; round++) {
          const engine = engineFor(entry);
          checks = (await engine.initialize()).checks;
          const fixes = [...new Set(fixesOf(checks))].filter((f) => !applied.includes(f));
          if (fixes.length === 0) break;
          for (const fix of fixes) {
            await t.query(fix); // as a superuser, in the catalog's database; fails if the fix is not valid SQL here
            applied.push(fix);
          }
        }
        const failed = checks.filter((c) => !c.ok && c.name !== 'statement statistics');
        expect(failed, JSON.stringify(failed)).toEqual([]);
        expect(checks.find((c) => c.name === 'managed users')?.ok).toBe(true);

        const grantOption = (role: string) =>
          `GRANT "${role}" TO "${admin2}" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`;
        expect(applied).toContain(`ALTER ROLE "${admin2}" CREATEROLE`);
        expect(applied).toContain(`GRANT SELECT ON items TO "${admin2}" WITH GRANT OPTION`);
        if (pg16) {
          // 16+: ADMIN OPTION on every granted role (predefined ones too), the self-grant setting, ADMIN on the
          // rotated user; NOINHERIT is fine (the self-grant names INHERIT on each membership).
          for (const role of ['app_read', 'app_write', 'pg_read_all_data'])
            expect(applied).toContain(grantOption(role));
          expect(applied).toContain(`ALTER ROLE "${admin2}" SET createrole_self_grant = 'set, inherit'`);
          expect(applied).toContain(`GRANT "${rotated.username}" TO "${admin2}" WITH ADMIN OPTION, INHERIT TRUE`);
          expect(applied).not.toContain(`ALTER ROLE "${admin2}" INHERIT`);
        } else {
          // ≤ 15: CREATEROLE grants any non-superuser role; the admin needs INHERIT to use its memberships.
          expect(applied.filter((f) => f.includes('ADMIN OPTION'))).toEqual([]);
          expect(applied).toContain(`ALTER ROLE "${admin2}" INHERIT`);
          expect(applied).toContain(`GRANT "${rotated.username}" TO "${admin2}"`);
        }

        // The fixed admin issues a user of the predefined-role level (every level passed its dry run above) …
        const engine = engineFor(entry);
        const g = {
          grantId: 42,
          username: generateUsername('fixed@example.com'),
          password: generatePassword(),
          expiresAt: Date.now() + 600_000,
          level: READ_ALL,
        };
        expect(await oneUser(engine).newUser(g)).toEqual({ outcome: 'created' });
        const s = await t.connectAs(g.username, g.password);
        expect(await s.query('SELECT name FROM items')).not.toHaveLength(0); // through pg_read_all_data alone
        // … and revokes it and the rotated admin's user, ending their open sessions and dropping what they own.
        const r = await t.connectAs(rotated.username, rotated.password);
        await r.query('BEGIN');
        await r.query('SELECT 1');
        await s.query('CREATE TABLE fixed_owned (id int)');
        const disabled = await engine.disableUsers([g.username, rotated.username]);
        expect(disabled.get(g.username)).toEqual({ existed: true, sessionsTerminated: 1 });
        expect(disabled.get(rotated.username)).toEqual({ existed: true, sessionsTerminated: 1 });
        await waitFor(
          'both sessions to be ended by the server',
          async () => (await t.sessionsOf(g.username)) + (await t.sessionsOf(rotated.username)) === 0,
          { timeoutMs: 10_000 },
        );
        const deleted = await engine.deleteUsers([g.username, rotated.username]);
        expect(deleted.get(g.username)).toEqual({ outcome: 'dropped' });
        expect(deleted.get(rotated.username)).toEqual({ outcome: 'dropped' });
        expect(await t.userExists(g.username)).toBe(false);
        expect(await t.userExists(rotated.username)).toBe(false);
        expect(await t.query("SELECT 1 FROM pg_tables WHERE tablename = 'fixed_owned'")).toEqual([]);
        await s.close();
        await r.close();
      });

      it('password_encryption other than scram-sha-256 is a warning naming the fix (PostgreSQL 18+: MD5 is deprecated)', async () => {
        await t.query(`ALTER ROLE "${t.entry.admin.user}" SET password_encryption = 'md5'`);
        try {
          const check = (await engineFor(t.entry).initialize()).checks.find((c) => c.name === 'password encryption');
          expect(check).toMatchObject({
            ok: false,
            severity: 'warning',
            fix: `ALTER SYSTEM SET password_encryption = 'scram-sha-256'`,
          });
          expect(check?.detail.includes('deprecated')).toBe(server.major >= 18);
        } finally {
          await t.query(`ALTER ROLE "${t.entry.admin.user}" RESET password_encryption`);
        }
      });
    });
  });
}

for (const server of PG_SERVERS) versionSuite(server);
