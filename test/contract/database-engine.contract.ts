/**
 * The DatabaseEngine contract (src/core/ports.ts). Every engine runs this suite against a real server, logged in
 * as the least-privilege admin docs/targets.md documents, with logins proven over password authentication.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine, NewUserRequest } from '../../src/core/ports.js';
import { oneUser } from '../support/one-user.js';

/** A session opened with the issued credentials. */
export interface TestSession {
  query(sql: string): Promise<unknown[]>;
  close(): Promise<void>;
  /** Resolves when the server ends the session (terminated / killed). */
  readonly ended: Promise<void>;
}

export interface EngineFixture {
  engine: DatabaseEngine;
  /** Levels that exist on the target: read (SELECT on table `items`), write (+INSERT), template (templated GRANTs). */
  levels: { read: AccessLevel; write: AccessLevel; template: AccessLevel };
  /** SQL run by the tests; `items` is a table every level can read. */
  sql: { select: string; insert: string; createTable: (name: string) => string; sleep: (seconds: number) => string };
  /** Opens a session over password auth; rejects when the login is refused. */
  connectAs(username: string, password: string): Promise<TestSession>;
  /** Superuser views of the target, independent of the engine under test. */
  userExists(username: string): Promise<boolean>;
  /** Whether the server stores a password for the user that some password could match (superuser view: PostgreSQL
   *  `pg_authid.rolpassword` not NULL; MySQL/MariaDB an authentication string of a real hash). */
  hasPassword(username: string): Promise<boolean>;
  sessionsOf(username: string): Promise<number>;
  createForeignUser(username: string): Promise<void>;
  dropUserByHand(username: string): Promise<void>;
  teardown(): Promise<void>;
}

/** `p`, or a failure naming `what` when it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

let nextGrantId = 900_000 + Math.floor(Math.random() * 90_000);

export function databaseEngineContract(name: string, makeFixture: () => Promise<EngineFixture>): void {
  describe(`DatabaseEngine contract: ${name}`, () => {
    let fx: EngineFixture;
    const made: string[] = [];
    const hour = () => Date.now() + 3_600_000;

    /** A request for a fresh user (removed in afterAll), not yet sent. */
    function request(level: AccessLevel, email = 'contract.batch@example.com'): NewUserRequest & { password: string } {
      const req = {
        grantId: nextGrantId++,
        username: generateUsername(email),
        password: generatePassword(),
        expiresAt: hour(),
        level,
      };
      made.push(req.username);
      return req;
    }

    /** The user logs in with `password` and has `level`'s access: SELECT on items, INSERT only with write. */
    async function expectAccess(username: string, password: string, level: AccessLevel) {
      const s = await fx.connectAs(username, password);
      try {
        expect((await s.query(fx.sql.select)).length, username).toBeGreaterThan(0);
        if (level === fx.levels.write) await s.query(fx.sql.insert);
        if (level === fx.levels.read) await expect(s.query(fx.sql.insert), username).rejects.toThrow();
      } finally {
        await s.close();
      }
    }

    async function newGrant(level: AccessLevel, expiresAt = hour()) {
      const grantId = nextGrantId++;
      const username = generateUsername('contract.test@example.com');
      const password = generatePassword();
      made.push(username);
      const res = await oneUser(fx.engine).newUser({ grantId, username, password, expiresAt, level });
      return { grantId, username, password, res };
    }

    beforeAll(async () => {
      fx = await makeFixture();
    }, 120_000);

    afterAll(async () => {
      if (!fx) return;
      for (const u of made) {
        await oneUser(fx.engine)
          .disableUser(u)
          .catch(() => undefined);
        await oneUser(fx.engine)
          .deleteUser(u)
          .catch(() => undefined);
      }
      await fx.engine.close();
      await fx.teardown();
    }, 60_000);

    it('initialize reports the server and no failed error-level check for the documented admin', async () => {
      const caps = await fx.engine.initialize();
      expect(caps.serverVersion).toMatch(/\d+\.\d+/);
      expect(caps.readOnly).toBe(false);
      const failed = caps.checks.filter((c) => !c.ok && c.severity === 'error');
      expect(failed, JSON.stringify(failed)).toEqual([]);
      expect(caps.checks.length).toBeGreaterThan(2);
    });

    it('read level: the credentials log in, SELECT works, INSERT is refused', async () => {
      const g = await newGrant(fx.levels.read);
      expect(g.res.outcome).toBe('created');
      const s = await fx.connectAs(g.username, g.password);
      try {
        expect((await s.query(fx.sql.select)).length).toBeGreaterThan(0);
        await expect(s.query(fx.sql.insert)).rejects.toThrow();
      } finally {
        await s.close();
      }
      await expect(fx.connectAs(g.username, 'wrong-password-0000000000000000')).rejects.toThrow();
    });

    it('write level: INSERT works', async () => {
      const g = await newGrant(fx.levels.write);
      const s = await fx.connectAs(g.username, g.password);
      try {
        await s.query(fx.sql.insert);
      } finally {
        await s.close();
      }
    });

    it('templated grants give access and are cleaned up by deleteUser', async () => {
      const g = await newGrant(fx.levels.template);
      const s = await fx.connectAs(g.username, g.password);
      expect((await s.query(fx.sql.select)).length).toBeGreaterThan(0);
      await s.close();
      await oneUser(fx.engine).disableUser(g.username);
      expect((await oneUser(fx.engine).deleteUser(g.username)).outcome).toBe('dropped');
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('newUser is idempotent on the grant: a leftover is adopted and its password reset', async () => {
      const g = await newGrant(fx.levels.read);
      const password2 = generatePassword();
      const again = await oneUser(fx.engine).newUser({
        grantId: g.grantId,
        username: g.username,
        password: password2,
        expiresAt: hour(),
        level: fx.levels.read,
      });
      expect(again.outcome).toBe('adopted');
      await expect(fx.connectAs(g.username, g.password)).rejects.toThrow();
      const s = await fx.connectAs(g.username, password2);
      await s.close();
    });

    it('newUser refuses a user of that name it does not own, and leaves it untouched', async () => {
      const username = generateUsername('foreign@example.com');
      await fx.createForeignUser(username);
      try {
        const err = await oneUser(fx.engine)
          .newUser({
            grantId: nextGrantId++,
            username,
            password: generatePassword(),
            expiresAt: hour(),
            level: fx.levels.read,
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(TargetError);
        expect((err as TargetError).kind).toBe('conflict');
        expect(await fx.userExists(username)).toBe(true);
        const managed = await fx.engine.listManagedUsers();
        expect(managed.map((m) => m.username)).not.toContain(username);
        // A user of the same grant id but another name is not "ours" either: updateUser refuses it.
        const upd = await fx.engine.updateUser({ grantId: 1, username, newPassword: generatePassword() }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((upd as TargetError).kind).toBe('conflict');
      } finally {
        await fx.dropUserByHand(username);
      }
    });

    it('updateUser rotates the password and moves the expiry', async () => {
      const g = await newGrant(fx.levels.read);
      const p2 = generatePassword();
      await fx.engine.updateUser({
        grantId: g.grantId,
        username: g.username,
        newPassword: p2,
        newExpiresAt: hour() + 3_600_000,
      });
      await expect(fx.connectAs(g.username, g.password)).rejects.toThrow();
      const s = await fx.connectAs(g.username, p2);
      await s.close();
      const managed = (await fx.engine.listManagedUsers()).find((m) => m.username === g.username);
      expect(managed?.grantId).toBe(g.grantId);
      expect(managed?.expiresAt).toBeGreaterThan(hour() + 3_000_000);
    });

    it('a user created with no password has none and cannot log in until updateUser sets one (the reveal)', async () => {
      const one = { ...request(fx.levels.read), password: undefined };
      const many = [request(fx.levels.read), request(fx.levels.write)].map((r) => ({ ...r, password: undefined }));
      expect(await oneUser(fx.engine).newUser(one)).toEqual({ outcome: 'created' });
      const res = await fx.engine.newUsers(many);
      for (const r of [one, ...many]) {
        if (many.includes(r)) expect(res.get(r.username), r.username).toEqual({ outcome: 'created' });
        expect(await fx.hasPassword(r.username), r.username).toBe(false);
        await expect(fx.connectAs(r.username, ''), r.username).rejects.toThrow();
        await expect(fx.connectAs(r.username, generatePassword()), r.username).rejects.toThrow();
        await expect(fx.connectAs(r.username, 'invalid'), r.username).rejects.toThrow();
      }
      const managed = new Map((await fx.engine.listManagedUsers()).map((m) => [m.username, m]));
      for (const r of [one, ...many]) expect(managed.get(r.username)?.grantId, r.username).toBe(r.grantId);
      // The reveal: the first password is set, and the user has its level's access with it.
      for (const r of [one, ...many]) {
        const password = generatePassword();
        await fx.engine.updateUser({ grantId: r.grantId, username: r.username, newPassword: password });
        expect(await fx.hasPassword(r.username), r.username).toBe(true);
        await expectAccess(r.username, password, r.level);
      }
    }, 60_000);

    it('adopting a leftover with no password takes its old password away', async () => {
      const leftover = await newGrant(fx.levels.read); // a crash after CREATE: the same grant asks again
      expect(await fx.hasPassword(leftover.username)).toBe(true);
      const res = await fx.engine.newUsers([
        { grantId: leftover.grantId, username: leftover.username, expiresAt: hour(), level: fx.levels.read },
      ]);
      expect(res.get(leftover.username)).toEqual({ outcome: 'adopted' });
      expect(await fx.hasPassword(leftover.username)).toBe(false);
      await expect(fx.connectAs(leftover.username, leftover.password)).rejects.toThrow();
    }, 30_000);

    it('disableUser ends a session idle inside an open transaction and refuses new logins', async () => {
      const g = await newGrant(fx.levels.read);
      const s = await fx.connectAs(g.username, g.password);
      await s.query('BEGIN');
      await s.query(fx.sql.select);
      expect(await fx.sessionsOf(g.username)).toBe(1);
      const res = await oneUser(fx.engine).disableUser(g.username);
      expect(res).toEqual({ existed: true, sessionsTerminated: 1 });
      await s.ended; // the server closed it
      expect(await fx.sessionsOf(g.username)).toBe(0);
      await expect(fx.connectAs(g.username, g.password)).rejects.toThrow();
      expect((await oneUser(fx.engine).deleteUser(g.username)).outcome).toBe('dropped');
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('objects the user created are dropped with it, not handed to anyone', async () => {
      const g = await newGrant(fx.levels.template);
      const s = await fx.connectAs(g.username, g.password);
      const table = `jit_owned_${g.grantId}`;
      await s.query(fx.sql.createTable(table));
      await s.close();
      await oneUser(fx.engine).disableUser(g.username);
      expect((await oneUser(fx.engine).deleteUser(g.username)).outcome).toBe('dropped');
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('deleteUser and disableUser succeed when the user is already gone', async () => {
      const g = await newGrant(fx.levels.read);
      await fx.dropUserByHand(g.username);
      expect(await oneUser(fx.engine).disableUser(g.username)).toEqual({ existed: false, sessionsTerminated: 0 });
      expect((await oneUser(fx.engine).deleteUser(g.username)).outcome).toBe('already_absent');
      expect((await oneUser(fx.engine).deleteUser(g.username)).outcome).toBe('already_absent');
    });

    it('listManagedUsers lists what it created with the grant id from its marker', async () => {
      const g = await newGrant(fx.levels.read);
      const managed = await fx.engine.listManagedUsers();
      const mine = managed.find((m) => m.username === g.username);
      expect(mine).toMatchObject({ username: g.username, grantId: g.grantId, sessions: 0 });
    });

    it('twenty concurrent newUser calls on one server all succeed', async () => {
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => newGrant(fx.levels.read)));
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(rejected.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      for (const r of results) if (r.status === 'fulfilled') expect(await fx.userExists(r.value.username)).toBe(true);
    });

    it('disableUsers then deleteUsers revoke a burst in one call each, every user with its own outcome', async () => {
      // 20 of ours (one owns a table, one has a bundle of roles where the engine uses one), one dropped by hand, a
      // name that never existed, and a user that is not ours.
      const grants = [
        ...(await Promise.all(Array.from({ length: 18 }, () => newGrant(fx.levels.read)))),
        await newGrant(fx.levels.write),
        await newGrant(fx.levels.template),
      ];
      const owner = grants[19]!;
      const ownerSession = await fx.connectAs(owner.username, owner.password);
      await ownerSession.query(fx.sql.createTable(`jit_batch_${owner.grantId}`));
      await ownerSession.close();
      const handDropped = await newGrant(fx.levels.read);
      await fx.dropUserByHand(handDropped.username);
      const never = generateUsername('never.created@example.com');
      const foreign = generateUsername('foreign.batch@example.com');
      await fx.createForeignUser(foreign);
      try {
        // Sessions: two on the first user (one idle inside an open transaction), one each on four more and on the
        // write user.
        const withSessions = new Map<string, TestSession[]>();
        const open = async (g: { username: string; password: string }, inTransaction = false) => {
          const session = await fx.connectAs(g.username, g.password);
          if (inTransaction) {
            await session.query('BEGIN');
            await session.query(fx.sql.select);
          }
          withSessions.set(g.username, [...(withSessions.get(g.username) ?? []), session]);
        };
        await open(grants[0]!, true);
        await open(grants[0]!);
        for (const g of [grants[1]!, grants[2]!, grants[3]!, grants[4]!, grants[18]!]) await open(g);
        for (const [u, sessions] of withSessions) expect(await fx.sessionsOf(u)).toBe(sessions.length);

        const batch = [...grants.map((g) => g.username), handDropped.username, never, foreign];
        const disabled = await fx.engine.disableUsers(batch);
        expect([...disabled.keys()].sort()).toEqual([...batch].sort());
        for (const g of grants) {
          expect(disabled.get(g.username), g.username).toEqual({
            existed: true,
            sessionsTerminated: withSessions.get(g.username)?.length ?? 0,
          });
        }
        expect(disabled.get(handDropped.username)).toEqual({ existed: false, sessionsTerminated: 0 });
        expect(disabled.get(never)).toEqual({ existed: false, sessionsTerminated: 0 });
        const conflict = disabled.get(foreign);
        expect(conflict).toBeInstanceOf(TargetError);
        expect((conflict as TargetError).kind).toBe('conflict');
        for (const [u, sessions] of withSessions) {
          for (const s of sessions) await within(s.ended, 10_000, `a session of ${u} to be ended by the server`);
          expect(await fx.sessionsOf(u)).toBe(0);
        }
        await expect(fx.connectAs(grants[0]!.username, grants[0]!.password)).rejects.toThrow();
        expect(await fx.userExists(grants[5]!.username)).toBe(true); // disabled, not dropped

        const deleted = await fx.engine.deleteUsers(batch);
        expect([...deleted.keys()].sort()).toEqual([...batch].sort());
        for (const g of grants) {
          expect(deleted.get(g.username), g.username).toEqual({ outcome: 'dropped' });
          expect(await fx.userExists(g.username)).toBe(false);
        }
        expect(deleted.get(handDropped.username)).toEqual({ outcome: 'already_absent' });
        expect(deleted.get(never)).toEqual({ outcome: 'already_absent' });
        expect((deleted.get(foreign) as TargetError).kind).toBe('conflict');
        expect(await fx.userExists(foreign)).toBe(true); // left untouched

        // Idempotent: a second call finds nothing of ours left and still refuses the foreign user.
        const again = await fx.engine.deleteUsers(batch);
        for (const u of batch.filter((n) => n !== foreign))
          expect(again.get(u), u).toEqual({ outcome: 'already_absent' });
        expect((again.get(foreign) as TargetError).kind).toBe('conflict');
        const disabledAgain = await fx.engine.disableUsers(batch);
        for (const u of batch.filter((n) => n !== foreign))
          expect(disabledAgain.get(u), u).toEqual({ existed: false, sessionsTerminated: 0 });
        expect((disabledAgain.get(foreign) as TargetError).kind).toBe('conflict');
        const managed = new Set((await fx.engine.listManagedUsers()).map((m) => m.username));
        for (const u of batch) expect(managed.has(u), u).toBe(false);
        expect(await fx.userExists(foreign)).toBe(true);
      } finally {
        await fx.dropUserByHand(foreign);
      }
    }, 60_000);

    it('deleteUsers alone ends open sessions and drops users that own objects', async () => {
      const a = await newGrant(fx.levels.template);
      const b = await newGrant(fx.levels.template);
      const sa = await fx.connectAs(a.username, a.password);
      await sa.query(fx.sql.createTable(`jit_batch_a_${a.grantId}`));
      const sb = await fx.connectAs(b.username, b.password);
      await sb.query(fx.sql.createTable(`jit_batch_b_${b.grantId}`));
      await sb.close();
      const deleted = await fx.engine.deleteUsers([a.username, b.username, a.username]);
      expect(deleted).toEqual(
        new Map([
          [a.username, { outcome: 'dropped' }],
          [b.username, { outcome: 'dropped' }],
        ]),
      );
      await within(sa.ended, 10_000, 'the open session to be ended');
      expect(await fx.sessionsOf(a.username)).toBe(0);
      expect(await fx.userExists(a.username)).toBe(false);
      expect(await fx.userExists(b.username)).toBe(false);
    }, 30_000);

    it("newUsers creates a burst in one call: every user logs in with its own password and its level's access", async () => {
      // 20 users: mostly read, plus write (several roles: a bundle where the engine uses one) and templated grants.
      const reqs = [
        ...Array.from({ length: 16 }, () => request(fx.levels.read)),
        request(fx.levels.write),
        request(fx.levels.write),
        request(fx.levels.template),
        request(fx.levels.template),
      ];
      const res = await fx.engine.newUsers(reqs);
      expect([...res.keys()].sort()).toEqual(reqs.map((r) => r.username).sort());
      for (const r of reqs) expect(res.get(r.username), r.username).toEqual({ outcome: 'created' });
      for (const r of reqs) await expectAccess(r.username, r.password, r.level);
      // Each has its own password, not another's.
      await expect(fx.connectAs(reqs[0]!.username, reqs[1]!.password)).rejects.toThrow();
      const managed = new Map((await fx.engine.listManagedUsers()).map((m) => [m.username, m]));
      for (const r of reqs) expect(managed.get(r.username)?.grantId, r.username).toBe(r.grantId);
      // The users are complete: the single-user lifecycle takes them from here.
      const first = reqs[0]!;
      await oneUser(fx.engine).disableUser(first.username);
      expect((await oneUser(fx.engine).deleteUser(first.username)).outcome).toBe('dropped');
      expect(await fx.userExists(first.username)).toBe(false);
    }, 60_000);

    it('newUsers gives every user of a mixed batch its own outcome: adopted, conflict, invalid, created', async () => {
      const leftover = await newGrant(fx.levels.read); // a crash after CREATE: the same grant asks again
      const otherGrant = await newGrant(fx.levels.read); // the name is taken by another grant's user
      const foreign = generateUsername('foreign.newusers@example.com'); // someone else's, no marker
      await fx.createForeignUser(foreign);
      try {
        const adopt = {
          grantId: leftover.grantId,
          username: leftover.username,
          password: generatePassword(),
          expiresAt: hour(),
          level: fx.levels.write,
        };
        const taken = { ...request(fx.levels.read), username: otherGrant.username };
        const refused = { ...request(fx.levels.read), username: foreign };
        const invalid = { ...request(fx.levels.read), username: 'Robert"); DROP TABLE items; --' };
        const good = [request(fx.levels.read), request(fx.levels.template)];
        const batch = [good[0]!, adopt, taken, refused, invalid, good[1]!, { ...good[0]!, grantId: nextGrantId++ }];
        const res = await fx.engine.newUsers(batch);
        expect([...res.keys()].sort()).toEqual([...new Set(batch.map((r) => r.username))].sort());

        expect(res.get(adopt.username)).toEqual({ outcome: 'adopted' });
        await expect(fx.connectAs(adopt.username, leftover.password)).rejects.toThrow();
        await expectAccess(adopt.username, adopt.password, fx.levels.write); // access re-applied at the new level

        for (const name of [taken.username, foreign]) {
          const err = res.get(name);
          expect(err, name).toBeInstanceOf(TargetError);
          expect((err as TargetError).kind, name).toBe('conflict');
        }
        // Untouched: the other grant's user keeps its password and its marker; the foreign user exists, unmanaged.
        await expectAccess(otherGrant.username, otherGrant.password, fx.levels.read);
        await expect(fx.connectAs(otherGrant.username, taken.password)).rejects.toThrow();
        const managed = new Map((await fx.engine.listManagedUsers()).map((m) => [m.username, m]));
        expect(managed.get(otherGrant.username)?.grantId).toBe(otherGrant.grantId);
        expect(managed.has(foreign)).toBe(false);
        expect(await fx.userExists(foreign)).toBe(true);

        expect((res.get(invalid.username) as TargetError).kind).toBe('invalid');
        for (const g of good) {
          expect(res.get(g.username), g.username).toEqual({ outcome: 'created' });
          await expectAccess(g.username, g.password, g.level);
          expect(managed.get(g.username)?.grantId).toBe(g.grantId); // the first request of a duplicated name wins
        }
      } finally {
        await fx.dropUserByHand(foreign);
      }
    }, 60_000);

    it('newUsers of no request returns an empty map', async () => {
      expect(await fx.engine.newUsers([])).toEqual(new Map());
    });

    it('newUsers: a user that fails is left with nothing, the others are made, and errors name no password', async () => {
      const bad: AccessLevel = { ...fx.levels.write, roles: [...fx.levels.write.roles, 'no_such_role_db_access'] };
      const failing = request(bad, 'err.batch@example.com');
      const good = [request(fx.levels.read), request(fx.levels.write)];
      const batch = [good[0]!, failing, good[1]!];
      const res = await fx.engine.newUsers(batch);
      const err = res.get(failing.username);
      expect(err).toBeInstanceOf(TargetError);
      for (const r of batch) {
        expect(String((err as Error).message)).not.toContain(r.password);
        expect(JSON.stringify(err)).not.toContain(r.password);
      }
      expect(await fx.userExists(failing.username)).toBe(false);
      expect((await fx.engine.listManagedUsers()).map((m) => m.username)).not.toContain(failing.username);
      for (const g of good) {
        expect(res.get(g.username), g.username).toEqual({ outcome: 'created' });
        await expectAccess(g.username, g.password, g.level);
      }
    }, 30_000);

    it('disableUsers and deleteUsers of no user return an empty map', async () => {
      expect(await fx.engine.disableUsers([])).toEqual(new Map());
      expect(await fx.engine.deleteUsers([])).toEqual(new Map());
    });

    it('a name outside the allow-list fails alone in a batch', async () => {
      const g = await newGrant(fx.levels.read);
      const res = await fx.engine.deleteUsers(['Robert"); DROP TABLE items; --', g.username]);
      expect((res.get('Robert"); DROP TABLE items; --') as TargetError).kind).toBe('invalid');
      expect(res.get(g.username)).toEqual({ outcome: 'dropped' });
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('errors name no password', async () => {
      const password = generatePassword();
      const bad: AccessLevel = { ...fx.levels.read, roles: ['no_such_role_db_access'] };
      const username = generateUsername('err@example.com');
      made.push(username);
      const err = await oneUser(fx.engine)
        .newUser({ grantId: nextGrantId++, username, password, expiresAt: hour(), level: bad })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(TargetError);
      expect(String((err as Error).message)).not.toContain(password);
      expect(JSON.stringify(err)).not.toContain(password);
      // A failed create leaves nothing behind.
      expect(await fx.userExists(username)).toBe(false);
    });
  });
}
