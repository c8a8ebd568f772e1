/**
 * onExpiry per level on PostgreSQL, on the machine's 15 and the newest server, each a throwaway scram-sha-256 cluster
 * whose admin is created by exactly postgresAdminSetupSql() (plus, for the receiving role, the lines that function
 * adds for `reassignTo`):
 *  - `{ reassignTo: incident_owner }`: an issued user creates a table with an index (and a function, and a table in a
 *    second database); revocation drops the user and everything survives, owned by incident_owner; extending the
 *    grant keeps the choice in the marker;
 *  - `drop` (the default): the same objects go with the user; both kinds in one deleteUsers batch;
 *  - check: a receiving role that is missing or whose privileges the admin lacks fails with the fix, and the fix run
 *    verbatim makes it pass; a missing role makes revocation fail (user locked, objects kept) until it exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel, DatabaseEntry } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, EngineCheck, Logger } from '../../src/core/ports.js';
import { createPostgresEngine, postgresAdminSetupSql } from '../../src/targets/postgres/index.js';
import {
  createSchemasOf,
  reassignTargetGrantSql,
  receiverSchemaGrantSql,
} from '../../src/targets/postgres/admin-setup.js';
import { parseMarker } from '../../src/targets/postgres/marker.js';
import { setupPgTarget, startScramCluster, type PgTarget } from '../support/pg-cluster.js';
import { MACHINE_PG, NEWEST_PG, type PgServer } from '../support/pg-versions.js';
import { oneUser } from '../support/one-user.js';

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

const RECEIVER = 'incident_owner';

function suite(server: PgServer): void {
  describe(`onExpiry on PostgreSQL ${server.major}`, () => {
    let t: PgTarget;
    let keep: AccessLevel;
    let drop: AccessLevel;
    let entry: DatabaseEntry;
    let engine: DatabaseEngine;
    const engines: DatabaseEngine[] = [];
    let grant = 1;
    const engineFor = (e: DatabaseEntry) => {
      const made = createPostgresEngine(e, { logger: quiet });
      engines.push(made);
      return made;
    };

    beforeAll(async () => {
      const cluster = await startScramCluster(server);
      try {
        t = await setupPgTarget(cluster);
      } catch (err) {
        await cluster.stop();
        throw err;
      }
      drop = t.levels.template; // GRANT USAGE, CREATE ON SCHEMA public; no onExpiry = drop
      keep = { ...t.levels.template, name: 'keep', onExpiry: { reassignTo: RECEIVER } };
      entry = { ...t.entry, levels: new Map([...t.entry.levels, ['keep', keep]]) };
      await t.query(`CREATE ROLE ${RECEIVER} NOLOGIN`);
      // The documented setup for this catalog is the target's plus the receiver's lines, nothing else.
      const full = postgresAdminSetupSql({
        serverVersionNum: cluster.versionNum,
        adminUser: entry.admin.user,
        database: entry.database,
        roles: ['app_read', 'app_write'],
        templates: t.levels.template.grants,
        reassignTo: [{ role: RECEIVER, schemas: createSchemasOf(keep.grants) }],
      });
      const extra = full.filter((sql) => !t.adminSetupSql.includes(sql));
      expect(extra.filter((sql) => !sql.startsWith('--'))).toEqual([
        reassignTargetGrantSql(RECEIVER, entry.admin.user, cluster.versionNum),
        receiverSchemaGrantSql('public', RECEIVER),
      ]);
      for (const sql of extra) await t.query(sql);
      // A second database the issued users may create tables in (CONNECT is PUBLIC's by default).
      // (CREATE for PUBLIC: a privilege a superuser granted to the user itself is one only DROP OWNED by a superuser
      // could revoke, which would test that DBA's grant rather than onExpiry.)
      await cluster.query('CREATE DATABASE otherdb');
      await cluster.query('GRANT CREATE ON SCHEMA public TO PUBLIC', [], 'otherdb');
      engine = engineFor(entry);
    }, 120_000);

    afterAll(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await t?.cluster.stop();
    }, 30_000);

    /** Issues a user of `level` that creates a table with an index, a function, and a table in otherdb. */
    async function userWithObjects(level: AccessLevel, tag: string): Promise<string> {
      const username = generateUsername(`${tag}@example.com`);
      const password = generatePassword();
      await oneUser(engine).newUser({ grantId: grant++, username, password, expiresAt: Date.now() + 600_000, level });
      const s = await t.connectAs(username, password);
      try {
        await s.query(`CREATE TABLE ${tag}_fix (id int, note text)`);
        await s.query(`CREATE INDEX ${tag}_fix_idx ON ${tag}_fix (id)`);
        await s.query(`CREATE FUNCTION ${tag}_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
      } finally {
        await s.close();
      }
      const o = await t.connectAs(username, password, 'otherdb');
      try {
        await o.query(`CREATE TABLE ${tag}_other (id int)`);
      } finally {
        await o.close();
      }
      return username;
    }

    /** Owner of each object (undefined = gone). */
    async function owners(tag: string): Promise<Record<string, string | undefined>> {
      const [r] = await t.query(
        `SELECT (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($1)) AS tbl,
                (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($2)) AS idx,
                (SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE oid = to_regprocedure($3)) AS fn`,
        [`public.${tag}_fix`, `public.${tag}_fix_idx`, `public.${tag}_fn()`],
      );
      const [o] = await t.cluster.query(
        `SELECT (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($1)) AS other`,
        [`public.${tag}_other`],
        'otherdb',
      );
      const v = (x: unknown) => (x === null || x === undefined ? undefined : String(x));
      return { table: v(r?.tbl), index: v(r?.idx), function: v(r?.fn), other: v(o?.other) };
    }

    async function marker(username: string) {
      const [r] = await t.query(`SELECT shobj_description(oid, 'pg_authid') AS c FROM pg_roles WHERE rolname = $1`, [
        username,
      ]);
      return parseMarker(r?.c as string | null);
    }

    it('check proves REASSIGN OWNED to the receiving role for the keep level', async () => {
      const checks = (await engineFor(entry).initialize()).checks;
      const find = (name: string) => checks.find((c: EngineCheck) => c.name === name);
      expect(find(`reassign to ${RECEIVER}`)).toMatchObject({ ok: true });
      expect(find('level keep')).toMatchObject({ ok: true });
      expect(find('level keep')!.detail).toContain(`goes to ${RECEIVER} (REASSIGN OWNED proven)`);
    });

    it('reassignTo: the user is dropped, its table, index, function and other-database table survive owned by the role', async () => {
      const username = await userWithObjects(keep, 'kept');
      expect(await owners('kept')).toEqual({ table: username, index: username, function: username, other: username });
      // Extending rewrites the marker: the choice made at creation must survive it.
      await engine.updateUser({ grantId: grant - 1, username, newExpiresAt: Date.now() + 1_200_000 });
      expect(await marker(username)).toMatchObject({ reassignTo: RECEIVER });

      await oneUser(engine).disableUser(username);
      expect(await oneUser(engine).deleteUser(username)).toEqual({ outcome: 'dropped' });
      expect(await t.userExists(username)).toBe(false);
      expect(await owners('kept')).toEqual({ table: RECEIVER, index: RECEIVER, function: RECEIVER, other: RECEIVER });
      const [row] = await t.query(
        `SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'kept_fix' AND indexname = 'kept_fix_idx'`,
      );
      expect(row?.n).toBe(1);
    });

    it('drop (the default): the same objects go with the user', async () => {
      const username = await userWithObjects(drop, 'gone');
      expect(await marker(username)).not.toHaveProperty('reassignTo');
      expect((await owners('gone')).table).toBe(username);
      await oneUser(engine).disableUser(username);
      expect(await oneUser(engine).deleteUser(username)).toEqual({ outcome: 'dropped' });
      expect(await t.userExists(username)).toBe(false);
      expect(await owners('gone')).toEqual({
        table: undefined,
        index: undefined,
        function: undefined,
        other: undefined,
      });
    });

    it('one deleteUsers batch keeps what the reassignTo user made and drops what the other made', async () => {
      const kept = await userWithObjects(keep, 'bkept');
      const gone = await userWithObjects(drop, 'bgone');
      const out = await engine.deleteUsers([kept, gone]);
      expect(out.get(kept)).toEqual({ outcome: 'dropped' });
      expect(out.get(gone)).toEqual({ outcome: 'dropped' });
      expect(await t.userExists(kept)).toBe(false);
      expect(await t.userExists(gone)).toBe(false);
      expect(await owners('bkept')).toEqual({ table: RECEIVER, index: RECEIVER, function: RECEIVER, other: RECEIVER });
      expect(await owners('bgone')).toEqual({
        table: undefined,
        index: undefined,
        function: undefined,
        other: undefined,
      });
    });

    it('a receiving role that is missing, or whose privileges the admin lacks, fails check with the fix that makes it pass', async () => {
      const ghost = { ...keep, name: 'ghost', onExpiry: { reassignTo: 'ghost_owner' } };
      const ghostEntry = { ...entry, levels: new Map([['ghost', ghost]]) };
      const before = (await engineFor(ghostEntry).initialize()).checks.find(
        (c) => c.name === 'reassign to ghost_owner',
      );
      expect(before).toMatchObject({ ok: false, severity: 'error' });
      expect(before!.fix).toBe(
        `CREATE ROLE "ghost_owner" NOLOGIN; ${reassignTargetGrantSql('ghost_owner', entry.admin.user, t.cluster.versionNum)}`,
      );

      // Exists, but the admin lacks its privileges: the fix is the admin-setup line, run verbatim by a superuser.
      await t.query('CREATE ROLE ghost_owner NOLOGIN');
      const lacking = (await engineFor(ghostEntry).initialize()).checks;
      const c = lacking.find((x) => x.name === 'reassign to ghost_owner');
      expect(c).toMatchObject({
        ok: false,
        severity: 'error',
        fix: reassignTargetGrantSql('ghost_owner', entry.admin.user, t.cluster.versionNum),
      });
      expect(lacking.find((x) => x.name === 'level ghost')).toMatchObject({ ok: false });
      await t.query(c!.fix!);
      // Then it must be able to take over functions in the schema the level lets users create in.
      const schema = (await engineFor(ghostEntry).initialize()).checks.find(
        (x) => x.name === 'reassign to ghost_owner',
      );
      expect(schema).toMatchObject({
        ok: false,
        severity: 'error',
        fix: receiverSchemaGrantSql('public', 'ghost_owner'),
      });
      await t.query(schema!.fix!);
      const fixed = (await engineFor(ghostEntry).initialize()).checks;
      expect(fixed.find((x) => x.name === 'reassign to ghost_owner')).toMatchObject({ ok: true });
      expect(fixed.find((x) => x.name === 'level ghost')).toMatchObject({ ok: true });
    });

    it('revocation refuses to drop objects while the receiving role is gone or out of reach: the user stays locked until it is fixed', async () => {
      const level = { ...keep, name: 'vanish', onExpiry: { reassignTo: 'vanishing_owner' } };
      await t.query('CREATE ROLE vanishing_owner NOLOGIN');
      await t.query(reassignTargetGrantSql('vanishing_owner', entry.admin.user, t.cluster.versionNum));
      await t.query(receiverSchemaGrantSql('public', 'vanishing_owner'));
      const username = await userWithObjects(level, 'vanish');
      await t.query('DROP OWNED BY vanishing_owner'); // its CREATE on public (it owns nothing yet)
      await t.query('DROP ROLE vanishing_owner');

      await oneUser(engine).disableUser(username);
      const err = await oneUser(engine)
        .deleteUser(username)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).message).toContain('vanishing_owner');
      expect(await t.userExists(username)).toBe(true);
      const [r] = await t.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [username]);
      expect(r?.rolcanlogin).toBe(false);
      expect((await owners('vanish')).table).toBe(username);

      // Back, but without the admin's membership: refused again (first in otherdb), naming the grant that fixes it.
      await t.query('CREATE ROLE vanishing_owner NOLOGIN');
      await t.query(receiverSchemaGrantSql('public', 'vanishing_owner'));
      const grantSql = reassignTargetGrantSql('vanishing_owner', entry.admin.user, t.cluster.versionNum);
      const denied = await oneUser(engine)
        .deleteUser(username)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(denied).toMatchObject({ kind: 'permission', code: '42501' });
      expect((denied as TargetError).message).toContain(`the admin needs the privileges of that role (${grantSql})`);
      expect(await t.userExists(username)).toBe(true);

      await t.query(grantSql);
      expect(await oneUser(engine).deleteUser(username)).toEqual({ outcome: 'dropped' });
      expect(await owners('vanish')).toEqual({
        table: 'vanishing_owner',
        index: 'vanishing_owner',
        function: 'vanishing_owner',
        other: 'vanishing_owner',
      });
    });
  });
}

suite(MACHINE_PG);
if (NEWEST_PG !== MACHINE_PG) suite(NEWEST_PG);
