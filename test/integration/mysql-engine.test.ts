/**
 * The MySQL/MariaDB engine against the machine's MariaDB 10.11, logged in as the least-privilege admin created by
 * exactly mysqlAdminSetupSql() (test/support/mariadb-target.ts): the DatabaseEngine contract, then what is specific
 * to MySQL/MariaDB (marker table, bundle role, guard-rails, EVENT backstop, errno classification). MySQL 8 is not
 * available here: its branches are covered only by the pure tests at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, Logger } from '../../src/core/ports.js';
import { createMysqlEngine, mysqlAdminSetupSql } from '../../src/targets/mysql/index.js';
import { schemaPatternMatches } from '../../src/targets/mysql/checks.js';
import {
  ERRNO,
  classifyMysqlError,
  isAccountLocked,
  isUnknownThread,
  toTargetError,
} from '../../src/targets/mysql/errors.js';
import { parseServerVersion } from '../../src/targets/mysql/server-info.js';
import {
  createUserSql,
  createUsersSql,
  convergeUserSql,
  EXPIRY_EVENT,
  expiryEventBody,
  resourceOptions,
} from '../../src/targets/mysql/sql.js';
import { databaseEngineContract } from '../contract/database-engine.contract.js';
import { mariadbEngineFixture, setupMariadbTarget, type MariadbTarget } from '../support/mariadb-target.js';
import { waitFor } from '../support/wait.js';
import { oneUser } from '../support/one-user.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function rejection(p: Promise<unknown>): Promise<Error & { errno?: number; kind?: string; code?: string }> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & { errno?: number },
  );
}

databaseEngineContract('mariadb', async () => {
  const target = await setupMariadbTarget();
  return mariadbEngineFixture(target, createMysqlEngine(target.entry, { logger: silent }));
});

describe('MariaDB specifics', () => {
  let target: MariadbTarget;
  let engine: DatabaseEngine;
  const made: string[] = [];
  let nextGrant = 700_000 + Math.floor(Math.random() * 90_000);
  const hour = () => Date.now() + 3_600_000;

  async function grant(level: AccessLevel, expiresAt = hour(), by = engine) {
    const grantId = nextGrant++;
    const username = generateUsername('specific@example.com');
    const password = generatePassword();
    made.push(username);
    const res = await oneUser(by).newUser({ grantId, username, password, expiresAt, level });
    return { grantId, username, password, res };
  }

  /** An engine of its own: it makes the schema's expiry event afresh (an engine makes it once). */
  async function withFreshEngine<T>(fn: (e: DatabaseEngine) => Promise<T>): Promise<T> {
    const e = createMysqlEngine(target.entry, { logger: silent });
    try {
      return await fn(e);
    } finally {
      await e.close();
    }
  }

  const expiryEventName = () => `\`${target.names.brokerSchema}\`.${EXPIRY_EVENT}`;

  /** A one-shot backstop event as an earlier version made it for `user` (it does nothing here). */
  async function legacyEvent(user: string): Promise<void> {
    await target.query(
      `CREATE EVENT \`${target.names.brokerSchema}\`.\`expire_${user}\` ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 HOUR DO DO 0`,
    );
  }

  /** Runs `fn` with the global event scheduler set to `on`, restoring the previous value whatever happens. */
  async function withScheduler<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
    const [row] = await target.query('SELECT @@GLOBAL.event_scheduler AS s');
    const previous = String(row?.s);
    await target.query(`SET GLOBAL event_scheduler = ${on ? 'ON' : 'OFF'}`);
    try {
      return await fn();
    } finally {
      if (previous === 'ON' || previous === 'OFF') await target.query(`SET GLOBAL event_scheduler = ${previous}`);
    }
  }

  beforeAll(async () => {
    target = await setupMariadbTarget();
    engine = createMysqlEngine(target.entry, { logger: silent });
  }, 60_000);

  afterAll(async () => {
    if (!target) return;
    for (const u of made) {
      await oneUser(engine)
        .disableUser(u)
        .catch(() => undefined);
      await oneUser(engine)
        .deleteUser(u)
        .catch(() => undefined);
    }
    await engine.close();
    await target.teardown();
  }, 60_000);

  it('writes the marker row (grant id, expiry) and removes it with the user', async () => {
    const expiresAt = hour();
    const g = await grant(target.levels.read, expiresAt);
    const marker = await target.markerOf(g.username);
    expect(marker?.grantId).toBe(g.grantId);
    expect(Date.parse(`${marker!.expiresAt.replace(' ', 'T')}Z`)).toBe(expiresAt);
    await oneUser(engine).disableUser(g.username);
    expect((await oneUser(engine).deleteUser(g.username)).outcome).toBe('dropped');
    expect(await target.markerOf(g.username)).toBeUndefined();
  });

  it('refuses a name carrying another grant marker, and leaves that user working', async () => {
    const g = await grant(target.levels.read);
    const err = await rejection(
      oneUser(engine).newUser({
        grantId: g.grantId + 50_000,
        username: g.username,
        password: generatePassword(),
        expiresAt: hour(),
        level: target.levels.read,
      }),
    );
    expect(err).toBeInstanceOf(TargetError);
    expect(err.kind).toBe('conflict');
    expect((await target.markerOf(g.username))?.grantId).toBe(g.grantId);
    const s = await target.connectAs(g.username, g.password);
    await s.close();
  });

  it('several roles: one bundle role is active at login, holding both; it goes with the user', async () => {
    const g = await grant(target.levels.write);
    const bundle = `jitr_${g.username.slice(4)}`;
    expect(await target.roleExists(bundle)).toBe(true);
    // Logging in with the catalog's database as default works too (the default role is active at login).
    const s = await target.connectAs(g.username, g.password, target.names.database);
    try {
      expect(await s.query('SELECT CURRENT_ROLE() AS r')).toEqual([{ r: bundle }]);
      await s.query(target.sql.insert);
      expect((await s.query(target.sql.select)).length).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
    await oneUser(engine).disableUser(g.username);
    await oneUser(engine).deleteUser(g.username);
    expect(await target.roleExists(bundle)).toBe(false);
  });

  it('a batch deletes the bundle roles of the users that have one, and sends no DROP ROLE for those without', async () => {
    const withBundle = await grant(target.levels.write);
    const plain = await grant(target.levels.read);
    const bundle = `jitr_${withBundle.username.slice(4)}`;
    expect(await target.roleExists(bundle)).toBe(true);
    const names = [withBundle.username, plain.username];
    await engine.disableUsers(names);
    const deleted = await engine.deleteUsers(names);
    expect([...deleted.values()]).toEqual([{ outcome: 'dropped' }, { outcome: 'dropped' }]);
    expect(await target.roleExists(bundle)).toBe(false);
    expect(await target.userExists(withBundle.username)).toBe(false);
    expect(await target.userExists(plain.username)).toBe(false);
  });

  it('one role: it is the default role, no bundle is made', async () => {
    const g = await grant(target.levels.read);
    expect(await target.roleExists(`jitr_${g.username.slice(4)}`)).toBe(false);
    const s = await target.connectAs(g.username, g.password);
    try {
      expect(await s.query('SELECT CURRENT_ROLE() AS r')).toEqual([{ r: target.names.readRole }]);
    } finally {
      await s.close();
    }
  });

  it('adopts a same-grant leftover whose account is missing (crash after the marker) or locked', async () => {
    const g = await grant(target.levels.write);
    await target.dropUserByHand(g.username);
    const p2 = generatePassword();
    const again = { grantId: g.grantId, username: g.username, expiresAt: hour(), level: target.levels.write };
    expect((await oneUser(engine).newUser({ ...again, password: p2 })).outcome).toBe('adopted');
    const s = await target.connectAs(g.username, p2);
    await s.query(target.sql.insert);
    await s.close();

    await oneUser(engine).disableUser(g.username);
    const p3 = generatePassword();
    expect((await oneUser(engine).newUser({ ...again, password: p3 })).outcome).toBe('adopted');
    const s3 = await target.connectAs(g.username, p3);
    await s3.close();
  });

  it('waits for the server-wide DDL lock another broker process holds', async () => {
    const other = await target.rootSession();
    try {
      expect((await other.query("SELECT GET_LOCK('db_access_ddl', 5) AS got"))[0]?.got).toBe(1);
      const username = generateUsername('lock@example.com');
      made.push(username);
      const pending = oneUser(engine).newUser({
        grantId: nextGrant++,
        username,
        password: generatePassword(),
        expiresAt: hour(),
        level: target.levels.read,
      });
      await waitFor(
        'the engine to queue on the lock',
        async () =>
          (
            await target.query(
              "SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT GET_LOCK%'",
              [target.names.adminUser],
            )
          ).length > 0,
      );
      expect(await target.userExists(username)).toBe(false);
      await other.query("SELECT RELEASE_LOCK('db_access_ddl')");
      expect((await pending).outcome).toBe('created');
    } finally {
      await other.close();
    }
  });

  it('the default-role procedure serves jit_ accounts only', async () => {
    const admin = await target.connectAs(target.entry.admin.user, target.entry.admin.password!);
    try {
      const call = (user: string) =>
        admin.query(`CALL \`${target.names.brokerSchema}\`.set_default_role('${user}', '${target.names.readRole}')`);
      await expect(call('root')).rejects.toThrow(/outside jit_/);
      await expect(call('JIT_X')).rejects.toThrow(/outside jit_/);
      // …and the admin cannot set another user's default role without it.
      const g = await grant(target.levels.read);
      await expect(admin.query(`SET DEFAULT ROLE NONE FOR '${g.username}'@'%'`)).rejects.toMatchObject({ errno: 1044 });
    } finally {
      await admin.close();
    }
  });

  it('guard-rails: MAX_USER_CONNECTIONS and MAX_STATEMENT_TIME take effect', async () => {
    const level: AccessLevel = {
      ...target.levels.read,
      name: 'limited',
      guardRails: { connectionLimit: 2, statementTimeoutMs: 500 },
    };
    const g = await grant(level);
    const a = await target.connectAs(g.username, g.password);
    const b = await target.connectAs(g.username, g.password);
    try {
      const refused = await rejection(target.connectAs(g.username, g.password));
      expect(refused.errno).toBe(ERRNO.USER_LIMIT_REACHED);
      const started = Date.now();
      const timedOut = await rejection(a.query(target.sql.sleep(5)));
      expect(timedOut.errno).toBe(ERRNO.MARIADB_STATEMENT_TIMEOUT);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses what MariaDB cannot enforce (idle-in-transaction timeout) before touching anything', async () => {
    const level: AccessLevel = {
      ...target.levels.read,
      name: 'idle',
      guardRails: { connectionLimit: 2, idleInTransactionTimeoutMs: 1000 },
    };
    const username = generateUsername('idle@example.com');
    const err = await rejection(
      oneUser(engine).newUser({
        grantId: nextGrant++,
        username,
        password: generatePassword(),
        expiresAt: hour(),
        level,
      }),
    );
    expect(err.kind).toBe('invalid');
    expect(err.message).toMatch(/idleInTransactionTimeoutMs/);
    expect(await target.userExists(username)).toBe(false);
    expect(await target.markerOf(username)).toBeUndefined();
  });

  it('a locked account is refused with errno 4151, recognised as locked on MariaDB only', async () => {
    const g = await grant(target.levels.read);
    await oneUser(engine).disableUser(g.username);
    const err = await rejection(target.connectAs(g.username, g.password));
    expect(err.errno).toBe(ERRNO.MARIADB_ACCOUNT_LOCKED);
    expect(isAccountLocked(err, 'mariadb')).toBe(true);
    expect(isAccountLocked(err, 'mysql')).toBe(false);
  });

  it('scheduler OFF: initialize warns with the statement that turns it on, and no event is created', async () => {
    await target.query(`DROP EVENT IF EXISTS ${expiryEventName()}`);
    await withScheduler(false, () =>
      withFreshEngine(async (fresh) => {
        const caps = await fresh.initialize();
        const check = caps.checks.find((c) => c.name === 'event scheduler');
        expect(check).toMatchObject({ ok: false, severity: 'warning' });
        expect(check?.fix).toContain('SET GLOBAL event_scheduler = ON');
        expect(caps.expiryBackstop).toBe('none');
        const g = await grant(target.levels.read, hour(), fresh);
        expect(await target.expiryEvent()).toBeUndefined();
        expect(await target.eventOf(g.username)).toBeUndefined();
      }),
    );
  });

  it("scheduler ON: one expiry event for the schema, made at the first provisioning; a user's backstop is its marker, moved by updateUser; no event per user", async () => {
    await target.query(`DROP EVENT IF EXISTS ${expiryEventName()}`);
    await withScheduler(true, () =>
      withFreshEngine(async (fresh) => {
        expect((await fresh.initialize()).expiryBackstop).toBe('event');
        const g = await grant(target.levels.read, hour(), fresh);
        expect(await target.expiryEvent()).toMatchObject({ everySeconds: 5, status: 'ENABLED' });
        expect(await target.eventOf(g.username)).toBeUndefined();
        const later = hour() + 3_600_000;
        // A one-shot event an earlier version made would fire at the old expiry: moving the expiry drops it.
        await legacyEvent(g.username);
        await fresh.updateUser({ grantId: g.grantId, username: g.username, newExpiresAt: later });
        expect(Date.parse(`${(await target.markerOf(g.username))!.expiresAt.replace(' ', 'T')}Z`)).toBe(later);
        expect(await target.eventOf(g.username)).toBeUndefined();
        await legacyEvent(g.username);
        await oneUser(fresh).disableUser(g.username);
        await oneUser(fresh).deleteUser(g.username);
        expect(await target.eventOf(g.username)).toBeUndefined();
        expect(await target.expiryEvent()).toBeDefined();
      }),
    );
  });

  it('scheduler ON: at expiry the server locks, kills and drops the user with no broker action', async () => {
    await withScheduler(true, async () => {
      const g = await withFreshEngine((fresh) => grant(target.levels.write, Date.now() + 3_000, fresh));
      const s = await target.connectAs(g.username, g.password);
      await s.query('BEGIN');
      await s.query(target.sql.select);
      await waitFor('the expiry event to drop the user', async () => !(await target.userExists(g.username)), {
        timeoutMs: 15_000,
      });
      await waitFor('the session to be ended', () => s.ended.then(() => true), { timeoutMs: 5_000 });
      expect(await target.sessionsOf(g.username)).toBe(0);
      expect(await target.markerOf(g.username)).toBeUndefined();
      expect(await target.roleExists(`jitr_${g.username.slice(4)}`)).toBe(false);
      expect(await target.eventOf(g.username)).toBeUndefined();
      await expect(target.connectAs(g.username, g.password)).rejects.toThrow();
      // The broker arriving late finds nothing to do.
      expect(await oneUser(engine).disableUser(g.username)).toEqual({ existed: false, sessionsTerminated: 0 });
      expect((await oneUser(engine).deleteUser(g.username)).outcome).toBe('already_absent');
    });
  }, 30_000);

  for (const flavour of ['mariadb', 'mysql'] as const) {
    it(`the expiry event's body (${flavour}): ends the users whose marker expired; not the others, nor a name outside jit_`, async () => {
      // MySQL 8's body (processlist cursor + KILL CONNECTION) is not run on MySQL here, but on MariaDB it proves the
      // compound statement parses and does the job: lock, kill, drop, forget.
      const expired = await grant(target.levels.read);
      const live = await grant(target.levels.read);
      const foreign = `dba_foreign_${expired.grantId}`;
      await target.createForeignUser(foreign);
      const markers = `\`${target.names.brokerSchema}\`.managed_users`;
      await target.query(
        `INSERT INTO ${markers} (\`user\`, grant_id, expires_at, created_at) VALUES (?, ?, UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE, UTC_TIMESTAMP(3))`,
        [foreign, expired.grantId],
      );
      await target.query(`UPDATE ${markers} SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE WHERE \`user\` = ?`, [
        expired.username,
      ]);
      const s = await target.connectAs(expired.username, expired.password);
      const proc = `\`${target.names.brokerSchema}\`.${flavour}_body_${expired.grantId}`;
      await target.query(`CREATE PROCEDURE ${proc}() ${expiryEventBody(target.names.brokerSchema, flavour)}`);
      try {
        await target.query(`CALL ${proc}()`);
        await s.ended;
        expect(await target.userExists(expired.username)).toBe(false);
        expect(await target.markerOf(expired.username)).toBeUndefined();
        expect(await target.userExists(live.username)).toBe(true);
        expect(await target.markerOf(live.username)).toBeDefined();
        expect(await target.userExists(foreign)).toBe(true);
      } finally {
        await target.query(`DROP PROCEDURE IF EXISTS ${proc}`);
        await target.query(`DELETE FROM ${markers} WHERE \`user\` = ?`, [foreign]);
        await target.dropUserByHand(foreign);
      }
    });
  }

  it('deleteUser and disableUser refuse an existing user without a marker, and leave it alone', async () => {
    const username = generateUsername('foreign@example.com');
    await target.createForeignUser(username);
    try {
      expect((await rejection(oneUser(engine).disableUser(username))).kind).toBe('conflict');
      expect((await rejection(oneUser(engine).deleteUser(username))).kind).toBe('conflict');
      expect(await target.userExists(username)).toBe(true);
    } finally {
      await target.dropUserByHand(username);
    }
  });

  it('a failed templated grant leaves nothing behind and names no password', async () => {
    const password = generatePassword();
    const username = generateUsername('tpl@example.com');
    const level: AccessLevel = {
      ...target.levels.template,
      grants: ['GRANT SELECT ON `no_such_db_x`.`t` TO {{user}}'],
    };
    const err = await rejection(
      oneUser(engine).newUser({ grantId: nextGrant++, username, password, expiresAt: hour(), level }),
    );
    expect(err).toBeInstanceOf(TargetError);
    expect(JSON.stringify(err) + err.message).not.toContain(password);
    expect(await target.userExists(username)).toBe(false);
    expect(await target.markerOf(username)).toBeUndefined();
  });

  it('newUsers undoes a failing user as newUser does (account, bundle role, marker) while the others are made', async () => {
    const request = (level: AccessLevel) => {
      const req = {
        grantId: nextGrant++,
        username: generateUsername('batch@example.com'),
        password: generatePassword(),
        expiresAt: hour(),
        level,
      };
      made.push(req.username);
      return req;
    };
    // The bundle role is made and given the first roles before the unknown one fails.
    const failing = request({ ...target.levels.write, roles: [...target.levels.write.roles, 'no_such_role_x'] });
    const good = [request(target.levels.write), request(target.levels.read)];
    const res = await engine.newUsers([good[0]!, failing, good[1]!]);
    expect((res.get(failing.username) as TargetError).kind).toBe('invalid');
    expect(await target.userExists(failing.username)).toBe(false);
    expect(await target.roleExists(`jitr_${failing.username.slice(4)}`)).toBe(false);
    expect(await target.markerOf(failing.username)).toBeUndefined();
    for (const g of good) {
      expect(res.get(g.username)).toEqual({ outcome: 'created' });
      expect((await target.markerOf(g.username))?.grantId).toBe(g.grantId);
    }
    expect(await target.roleExists(`jitr_${good[0]!.username.slice(4)}`)).toBe(true);
    const s = await target.connectAs(good[0]!.username, good[0]!.password);
    await s.query(target.sql.insert);
    await s.close();
  });

  it("newUsers with the scheduler ON: no event per user, each marker holds its expiry; an adopted user's one-shot event of an earlier version is dropped", async () => {
    await withScheduler(true, async () => {
      const leftover = await grant(target.levels.read);
      await legacyEvent(leftover.username);
      const fresh = {
        grantId: nextGrant++,
        username: generateUsername('batch.event@example.com'),
        password: generatePassword(),
        expiresAt: hour(),
        level: target.levels.read,
      };
      made.push(fresh.username);
      const adopt = {
        grantId: leftover.grantId,
        username: leftover.username,
        password: generatePassword(),
        expiresAt: hour() + 3_600_000,
        level: target.levels.read,
      };
      const res = await engine.newUsers([fresh, adopt]);
      expect(res.get(fresh.username)).toEqual({ outcome: 'created' });
      expect(res.get(adopt.username)).toEqual({ outcome: 'adopted' });
      expect(await target.eventOf(fresh.username)).toBeUndefined();
      expect(await target.eventOf(adopt.username)).toBeUndefined();
      expect(await target.expiryEvent()).toBeDefined();
      for (const u of [fresh, adopt]) {
        expect(Date.parse(`${(await target.markerOf(u.username))!.expiresAt.replace(' ', 'T')}Z`)).toBe(u.expiresAt);
      }
    });
  });

  it("installations: each lists and touches only its own users; markers without an id count as anyone's", async () => {
    const a = createMysqlEngine(target.entry, { logger: silent, installation: 'aaaaaaaaaaaaaaaa' });
    const b = createMysqlEngine(target.entry, { logger: silent, installation: 'bbbbbbbbbbbbbbbb' });
    const mine = {
      grantId: nextGrant++,
      username: generateUsername('inst.a@example.com'),
      password: generatePassword(),
      expiresAt: hour(),
      level: target.levels.read,
    };
    made.push(mine.username);
    try {
      await oneUser(a).newUser(mine);
      const [row] = await target.query(
        `SELECT installation FROM \`${target.names.brokerSchema}\`.managed_users WHERE \`user\` = ?`,
        [mine.username],
      );
      expect(row?.installation).toBe('aaaaaaaaaaaaaaaa');
      expect((await a.listManagedUsers()).map((u) => u.username)).toContain(mine.username);
      expect((await b.listManagedUsers()).map((u) => u.username)).not.toContain(mine.username);
      // b may not end it, nor adopt it under the same grant id (ids of two installations collide).
      expect((await rejection(oneUser(b).disableUser(mine.username))).kind).toBe('conflict');
      expect((await rejection(oneUser(b).deleteUser(mine.username))).kind).toBe('conflict');
      expect((await rejection(oneUser(b).newUser({ ...mine, password: generatePassword() }))).kind).toBe('conflict');
      expect((await b.disableUsers([mine.username])).get(mine.username)).toBeInstanceOf(TargetError);
      const s = await target.connectAs(mine.username, mine.password);
      await s.close();
      // A marker written before installation ids (NULL) is listed by every installation, as before.
      await target.query(
        `UPDATE \`${target.names.brokerSchema}\`.managed_users SET installation = NULL WHERE \`user\` = ?`,
        [mine.username],
      );
      expect((await b.listManagedUsers()).map((u) => u.username)).toContain(mine.username);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a marker table made by an earlier version gains its installation column, keeping its rows', async () => {
    const older = await setupMariadbTarget();
    const table = `\`${older.names.brokerSchema}\`.managed_users`;
    const eng = createMysqlEngine(older.entry, { logger: silent, installation: 'cccccccccccccccc' });
    try {
      await older.query(
        `CREATE TABLE ${table} (\`user\` VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, grant_id BIGINT NOT NULL, expires_at DATETIME(3) NOT NULL, created_at DATETIME(3) NOT NULL) ENGINE=InnoDB`,
      );
      const legacy = generateUsername('legacy@example.com');
      await older.query(`INSERT INTO ${table} VALUES (?, 7, UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, UTC_TIMESTAMP(3))`, [
        legacy,
      ]);
      expect((await eng.listManagedUsers()).map((u) => [u.username, u.grantId])).toEqual([[legacy, 7]]);
      const cols = await older.query(
        'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        [older.names.brokerSchema, 'managed_users'],
      );
      expect(cols.map((c) => c.c)).toContain('installation');
    } finally {
      await eng.close();
      await older.teardown();
    }
  });

  it('an unreachable server is retryable', async () => {
    const dead = createMysqlEngine({ ...target.entry, port: 1 }, { logger: silent });
    try {
      const err = await rejection(dead.initialize());
      expect(err).toBeInstanceOf(TargetError);
      expect(err.kind).toBe('retryable');
      // The batch forms throw too, rather than answering a map of per-user errors.
      const names = [generateUsername('down@example.com'), generateUsername('down@example.com')];
      const reqs = names.map((username, i) => ({
        grantId: i + 1,
        username,
        password: generatePassword(),
        expiresAt: hour(),
        level: target.levels.read,
      }));
      for (const call of [() => dead.newUsers(reqs), () => dead.disableUsers(names), () => dead.deleteUsers(names)])
        expect((await rejection(call())).kind).toBe('retryable');
    } finally {
      await dead.close();
    }
  });
});

describe('MySQL/MariaDB errno classification', () => {
  const e = (errno: number) => Object.assign(new Error(`server error ${errno}`), { errno, sqlState: 'HY000' });

  it('classifies by number', () => {
    expect(classifyMysqlError(e(1396), 'mariadb')).toBe('conflict');
    for (const n of [1044, 1045, 1142, 1227]) {
      expect(classifyMysqlError(e(n), 'mariadb')).toBe('permission');
      expect(classifyMysqlError(e(n), 'mysql')).toBe('permission');
    }
    expect(classifyMysqlError(e(1290), 'mariadb')).toBe('read_only');
    expect(classifyMysqlError(e(1290), 'mysql')).toBe('read_only');
    for (const n of [1213, 1205]) expect(classifyMysqlError(e(n), 'mariadb')).toBe('retryable');
    expect(
      classifyMysqlError(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', errno: -111 }),
        'mariadb',
      ),
    ).toBe('retryable');
    expect(classifyMysqlError(e(1064), 'mariadb')).toBe('invalid');
    expect(classifyMysqlError(e(99_999), 'mariadb')).toBe('permanent');
  });

  it('never trusts the message or mysql2 code name', () => {
    const lying = Object.assign(new Error('Access denied for user'), { errno: 1213, code: 'ER_ACCESS_DENIED_ERROR' });
    expect(classifyMysqlError(lying, 'mariadb')).toBe('retryable');
  });

  it('1094 (thread already gone) is what KILL ignores', () => {
    expect(isUnknownThread(e(1094))).toBe(true);
    expect(isUnknownThread(e(1095))).toBe(false);
  });

  it('4151 is the locked account on MariaDB only; MySQL says 3118', () => {
    const locked = Object.assign(e(4151), { code: 'ER_BULK_PARSER_INCOMPLETE_ESCAPE_SEQUENCE' });
    expect(isAccountLocked(locked, 'mariadb')).toBe(true);
    expect(isAccountLocked(locked, 'mysql')).toBe(false);
    expect(isAccountLocked(e(3118), 'mysql')).toBe(true);
    expect(classifyMysqlError(locked, 'mariadb')).toBe('permission');
    expect(classifyMysqlError(locked, 'mysql')).toBe('permanent');
  });

  it('scrubs passwords from messages', () => {
    const err = toTargetError(e(1064), 'mariadb', ['Sup3rSecretPassw0rd']);
    expect(err.message).not.toContain('Sup3rSecretPassw0rd');
    const echoed = Object.assign(new Error("syntax near 'IDENTIFIED BY 'Sup3rSecretPassw0rd''"), { errno: 1064 });
    expect(toTargetError(echoed, 'mariadb', ['Sup3rSecretPassw0rd']).message).not.toContain('Sup3rSecretPassw0rd');
  });
});

describe('MySQL 8 branches (pure; no MySQL server here)', () => {
  const level: AccessLevel = {
    name: 'read',
    roles: ['r'],
    grants: [],
    guardRails: { connectionLimit: 3, statementTimeoutMs: 2_000 },
  };

  it('refuses a statement timeout on MySQL, maps it to MAX_STATEMENT_TIME on MariaDB', () => {
    expect(resourceOptions(level, 'mariadb')).toBe('WITH MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 2.000');
    expect(() => resourceOptions(level, 'mysql')).toThrow(TargetError);
    expect(resourceOptions({ ...level, guardRails: { connectionLimit: 3 } }, 'mysql')).toBe(
      'WITH MAX_USER_CONNECTIONS 3',
    );
  });

  it('a user with no password yet: the invalid hash MySQL gives its own system accounts, never an empty one', () => {
    const invalid = `IDENTIFIED WITH caching_sha2_password AS '$A$005$THISISACOMBINATIONOFINVALIDSALTANDPASSWORDTHATMUSTNEVERBRBEUSED'`;
    const plain = { ...level, guardRails: { connectionLimit: 3 } };
    expect(createUserSql('jit_a', undefined, plain, 'mysql')).toBe(
      `CREATE USER 'jit_a'@'%' ${invalid} WITH MAX_USER_CONNECTIONS 3 ACCOUNT UNLOCK PASSWORD EXPIRE NEVER`,
    );
    expect(
      createUsersSql(
        [
          { user: 'jit_a', password: undefined },
          { user: 'jit_b', password: 'x'.repeat(32) },
        ],
        plain,
        'mysql',
      ),
    ).toBe(
      `CREATE USER 'jit_a'@'%' ${invalid}, 'jit_b'@'%' IDENTIFIED BY '${'x'.repeat(32)}' WITH MAX_USER_CONNECTIONS 3 ACCOUNT UNLOCK PASSWORD EXPIRE NEVER`,
    );
    expect(convergeUserSql('jit_a', undefined, plain, 'mysql')).toBe(
      `ALTER USER 'jit_a'@'%' ${invalid} WITH MAX_USER_CONNECTIONS 3 ACCOUNT UNLOCK PASSWORD EXPIRE NEVER`,
    );
  });

  it('reads both version strings', () => {
    expect(parseServerVersion('5.5.5-10.11.8-MariaDB')).toMatchObject({ flavour: 'mariadb', version: '10.11.8' });
    expect(parseServerVersion('10.11.19-MariaDB-0+deb12u1')).toMatchObject({ flavour: 'mariadb', version: '10.11.19' });
    expect(parseServerVersion('8.0.36')).toMatchObject({ flavour: 'mysql', version: '8.0.36' });
  });

  it('admin setup: CONNECTION_ADMIN and mysql.user on MySQL, no default-role procedure', () => {
    const sql = mysqlAdminSetupSql({
      adminUser: 'broker',
      adminHost: '10.0.%',
      database: 'app',
      roles: ['app_ro'],
      brokerSchema: 'db_access',
      flavour: 'mysql',
    });
    expect(sql).toContain("GRANT CREATE USER, PROCESS, CONNECTION_ADMIN ON *.* TO 'broker'@'10.0.%'");
    expect(sql).toContain("GRANT SELECT (User, Host) ON mysql.user TO 'broker'@'10.0.%'");
    expect(sql).toContain(
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, EVENT ON `db\\_access`.* TO 'broker'@'10.0.%'",
    );
    expect(sql.join('\n')).not.toContain('PROCEDURE');
    expect(sql[0]).toContain('<password>');
  });

  it('GRANT … ON db.* patterns treat _ and % as wildcards unless escaped', () => {
    expect(schemaPatternMatches('db\\_access', 'db_access')).toBe(true);
    expect(schemaPatternMatches('db\\_access', 'dbXaccess')).toBe(false);
    expect(schemaPatternMatches('db_access', 'dbXaccess')).toBe(true);
    expect(schemaPatternMatches('%', 'anything')).toBe(true);
  });
});
