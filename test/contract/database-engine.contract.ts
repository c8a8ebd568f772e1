/**
 * The DatabaseEngine contract (src/core/ports.ts). Every engine runs this suite against a real server, logged in
 * as the least-privilege admin the README documents, with logins proven over password authentication.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLevel } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine } from '../../src/core/ports.js';

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
  sessionsOf(username: string): Promise<number>;
  createForeignUser(username: string): Promise<void>;
  dropUserByHand(username: string): Promise<void>;
  teardown(): Promise<void>;
}

let nextGrantId = 900_000 + Math.floor(Math.random() * 90_000);

export function databaseEngineContract(name: string, makeFixture: () => Promise<EngineFixture>): void {
  describe(`DatabaseEngine contract: ${name}`, () => {
    let fx: EngineFixture;
    const made: string[] = [];
    const hour = () => Date.now() + 3_600_000;

    async function newGrant(level: AccessLevel, expiresAt = hour()) {
      const grantId = nextGrantId++;
      const username = generateUsername('contract.test@example.com');
      const password = generatePassword();
      made.push(username);
      const res = await fx.engine.newUser({ grantId, username, password, expiresAt, level });
      return { grantId, username, password, res };
    }

    beforeAll(async () => {
      fx = await makeFixture();
    }, 120_000);

    afterAll(async () => {
      if (!fx) return;
      for (const u of made) {
        await fx.engine.disableUser(u).catch(() => undefined);
        await fx.engine.deleteUser(u).catch(() => undefined);
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
      await fx.engine.disableUser(g.username);
      expect((await fx.engine.deleteUser(g.username)).outcome).toBe('dropped');
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('newUser is idempotent on the grant: a leftover is adopted and its password reset', async () => {
      const g = await newGrant(fx.levels.read);
      const password2 = generatePassword();
      const again = await fx.engine.newUser({
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
        const err = await fx.engine
          .newUser({ grantId: nextGrantId++, username, password: generatePassword(), expiresAt: hour(), level: fx.levels.read })
          .then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(TargetError);
        expect((err as TargetError).kind).toBe('conflict');
        expect(await fx.userExists(username)).toBe(true);
        const managed = await fx.engine.listManagedUsers();
        expect(managed.map((m) => m.username)).not.toContain(username);
        // A user of the same grant id but another name is not "ours" either: updateUser refuses it.
        const upd = await fx.engine
          .updateUser({ grantId: 1, username, newPassword: generatePassword() })
          .then(() => undefined, (e: unknown) => e);
        expect((upd as TargetError).kind).toBe('conflict');
      } finally {
        await fx.dropUserByHand(username);
      }
    });

    it('updateUser rotates the password and moves the expiry', async () => {
      const g = await newGrant(fx.levels.read);
      const p2 = generatePassword();
      await fx.engine.updateUser({ grantId: g.grantId, username: g.username, newPassword: p2, newExpiresAt: hour() + 3_600_000 });
      await expect(fx.connectAs(g.username, g.password)).rejects.toThrow();
      const s = await fx.connectAs(g.username, p2);
      await s.close();
      const managed = (await fx.engine.listManagedUsers()).find((m) => m.username === g.username);
      expect(managed?.grantId).toBe(g.grantId);
      expect(managed?.expiresAt).toBeGreaterThan(hour() + 3_000_000);
    });

    it('disableUser ends a session idle inside an open transaction and refuses new logins', async () => {
      const g = await newGrant(fx.levels.read);
      const s = await fx.connectAs(g.username, g.password);
      await s.query('BEGIN');
      await s.query(fx.sql.select);
      expect(await fx.sessionsOf(g.username)).toBe(1);
      const res = await fx.engine.disableUser(g.username);
      expect(res).toEqual({ existed: true, sessionsTerminated: 1 });
      await s.ended; // the server closed it
      expect(await fx.sessionsOf(g.username)).toBe(0);
      await expect(fx.connectAs(g.username, g.password)).rejects.toThrow();
      expect((await fx.engine.deleteUser(g.username)).outcome).toBe('dropped');
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('objects the user created are dropped with it, not handed to anyone', async () => {
      const g = await newGrant(fx.levels.template);
      const s = await fx.connectAs(g.username, g.password);
      const table = `jit_owned_${g.grantId}`;
      await s.query(fx.sql.createTable(table));
      await s.close();
      await fx.engine.disableUser(g.username);
      expect((await fx.engine.deleteUser(g.username)).outcome).toBe('dropped');
      expect(await fx.userExists(g.username)).toBe(false);
    });

    it('deleteUser and disableUser succeed when the user is already gone', async () => {
      const g = await newGrant(fx.levels.read);
      await fx.dropUserByHand(g.username);
      expect(await fx.engine.disableUser(g.username)).toEqual({ existed: false, sessionsTerminated: 0 });
      expect((await fx.engine.deleteUser(g.username)).outcome).toBe('already_absent');
      expect((await fx.engine.deleteUser(g.username)).outcome).toBe('already_absent');
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

    it('errors name no password', async () => {
      const password = generatePassword();
      const bad: AccessLevel = { ...fx.levels.read, roles: ['no_such_role_db_access'] };
      const username = generateUsername('err@example.com');
      made.push(username);
      const err = await fx.engine
        .newUser({ grantId: nextGrantId++, username, password, expiresAt: hour(), level: bad })
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect(String((err as Error).message)).not.toContain(password);
      expect(JSON.stringify(err)).not.toContain(password);
      // A failed create leaves nothing behind.
      expect(await fx.userExists(username)).toBe(false);
    });
  });
}
