/**
 * The in-memory DatabaseEngine (dev/fakes) is held to the same contract as the PostgreSQL and MySQL/MariaDB engines.
 * The fixture's "superuser views" read the fake server's own state, and its sessions are the fake's logins: the SQL
 * the contract runs is mapped to the privilege it needs (SELECT on items, INSERT, CREATE TABLE).
 */
import { describe, expect, it } from 'vitest';
import type { AccessLevel } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { MemoryEngine, MemoryEngines } from '../../dev/fakes/memory-engine.js';
import { databaseEngineContract, type TestSession } from '../contract/database-engine.contract.js';
import { oneUser } from '../support/one-user.js';

const TEMPLATE = 'GRANT SELECT, CREATE ON SCHEMA app TO {{user}}';

function level(name: string, roles: string[], grants: string[] = []): AccessLevel {
  return { name, roles, grants, guardRails: { connectionLimit: 5 } };
}

const sql = {
  select: 'SELECT * FROM items',
  insert: "INSERT INTO items (name) VALUES ('contract')",
  createTable: (name: string) => `CREATE TABLE ${name} (id int)`,
  sleep: (seconds: number) => `SELECT pg_sleep(${seconds})`,
};

databaseEngineContract('in memory (dev/fakes)', async () => {
  const engine = new MemoryEngine({
    roles: { items_read: ['select'], items_write: ['insert'] },
    grants: { [TEMPLATE]: ['select', 'create'] },
  });
  return {
    engine,
    levels: {
      read: level('read', ['items_read']),
      write: level('write', ['items_read', 'items_write']),
      template: level('template', [], [TEMPLATE]),
    },
    sql,
    async connectAs(username, password): Promise<TestSession> {
      const session = engine.connect(username, password);
      return {
        ended: session.ended,
        close: () => session.close(),
        async query(text) {
          if (text === 'BEGIN') {
            if (!session.alive) throw new Error('the session has ended');
          } else if (text === sql.select) await session.use('select');
          else if (text === sql.insert) await session.use('insert');
          else if (text.startsWith('CREATE TABLE ')) await session.use('create', text.split(' ')[2]);
          else throw new Error(`the in-memory fixture does not know the statement ${JSON.stringify(text)}`);
          return text === sql.select ? [{ id: 1, name: 'seed' }] : [];
        },
      };
    },
    userExists: async (username) => engine.users.has(username),
    hasPassword: async (username) => engine.users.get(username)?.password != null,
    sessionsOf: async (username) => engine.sessionsOf(username),
    createForeignUser: async (username) => engine.createForeignUser(username),
    dropUserByHand: async (username) => engine.dropByHand(username),
    teardown: async () => undefined,
  };
});

describe('in-memory engine: faults and what the core asked for', () => {
  const read = level('read', ['r']);
  const user = (n: number) => ({ grantId: n, username: `jit_fault_${n}`, expiresAt: 1, level: read });

  it('down: every call fails as retryable, and works again once up', async () => {
    const engine = new MemoryEngine({ roles: { r: ['select'] } });
    engine.down = true;
    const err = await engine.newUsers([user(1)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as TargetError).kind).toBe('retryable');
    await expect(engine.initialize()).rejects.toBeInstanceOf(TargetError);
    expect(engine.users.size).toBe(0);
    engine.down = false;
    expect(await oneUser(engine).newUser(user(1))).toEqual({ outcome: 'created' });
  });

  it('failNext fails the next call of one operation only, then the calls log says what was asked', async () => {
    const engine = new MemoryEngine({ roles: { r: ['select'] } });
    await engine.newUsers([user(1), user(2)]);
    engine.failNext('disableUsers', new TargetError('permission', 'no CREATEROLE'));
    await expect(engine.disableUsers(['jit_fault_1'])).rejects.toThrow('no CREATEROLE');
    expect((await engine.disableUsers(['jit_fault_1'])).get('jit_fault_1')).toEqual({
      existed: true,
      sessionsTerminated: 0,
    });
    expect(engine.calls.map((c) => [c.op, c.usernames])).toEqual([
      ['newUsers', ['jit_fault_1', 'jit_fault_2']],
      ['disableUsers', ['jit_fault_1']],
      ['disableUsers', ['jit_fault_1']],
    ]);
  });

  it('objects of a user whose level hands them on at expiry go to that role, not away', async () => {
    const engine = new MemoryEngine({ roles: { r: ['select', 'create'] } });
    await oneUser(engine).newUser({
      ...user(3),
      password: 'A'.repeat(32),
      level: { ...read, onExpiry: { reassignTo: 'app_owner' } },
    });
    await engine.connect('jit_fault_3', 'A'.repeat(32)).use('create', 'report_2031');
    expect(await oneUser(engine).deleteUser('jit_fault_3')).toEqual({ outcome: 'dropped' });
    expect([...(engine.reassigned.get('app_owner') ?? [])]).toEqual(['report_2031']);
  });

  it('the registry gives one engine per catalog database and refuses another name', () => {
    const engines = new MemoryEngines(['orders', 'billing']);
    expect(engines.get('orders')).toBe(engines.get('orders'));
    expect(engines.get('orders')).not.toBe(engines.get('billing'));
    expect(engines.all().map((e) => e.database)).toEqual(['orders', 'billing']);
    expect(() => engines.get('nope')).toThrow(/no in-memory engine/);
  });
});
