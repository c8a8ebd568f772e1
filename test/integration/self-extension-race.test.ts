/**
 * Self-extensions hold under concurrency: Extend clicks of one holder racing on two replicas (two state-store
 * connections, two sets of engines, one state DB: PostgreSQL, then MariaDB) for the last self-extension are decided
 * by the conditional update that applies it, so exactly one is applied at once and the others go to the approvers.
 * A real PostgreSQL target: the user's VALID UNTIL is never left before the expiry the state DB holds.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminGrant, requestExtension } from '../../src/core/asking.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { provision } from '../../src/core/lifecycle.js';
import type { Actor } from '../../src/core/model.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { coreDeps } from '../support/core-deps.js';
import { MARIADB_HOST, MARIADB_PORT } from '../support/mariadb-target.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';

const PG_SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const MY_SERVER = { host: MARIADB_HOST, port: MARIADB_PORT, user: 'root', password: '' };
const DB = `dbaccess_selfext_${process.pid}`;
const alice: Actor = { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com', name: 'alice' };
const MIN = 60_000;

interface StateServer {
  url: string;
  /** Runs one statement as the server's administrator. */
  run(sql: string): Promise<void>;
  dropSql: string;
}

const servers: Array<[string, StateServer]> = [
  [
    'PostgreSQL',
    {
      url: `postgres://postgres@127.0.0.1:5432/${DB}`,
      dropSql: `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`,
      async run(sql) {
        const c = new pg.Client(PG_SERVER);
        await c.connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      },
    },
  ],
  [
    'MariaDB',
    {
      url: `mysql://root@${MARIADB_HOST}:${MARIADB_PORT}/${DB}`,
      dropSql: `DROP DATABASE IF EXISTS ${DB}`,
      async run(sql) {
        const c = await mysql.createConnection(MY_SERVER);
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      },
    },
  ],
];

describe.each(servers)('self-extensions under concurrency (%s state store, two replicas)', (_name, server) => {
  let cluster: PgCluster;
  let target: PgTarget;
  const stores: OpenStateStore[] = [];
  const replicas: CoreDeps[] = [];

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    const entry: DatabaseEntry = {
      ...target.entry,
      name: 'orders',
      approval: { ...target.entry.approval, approvers: [{ email: 'bob@example.com' }] },
      limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 5, selfExtensions: 1 },
    };
    await server.run(server.dropSql);
    await server.run(`CREATE DATABASE ${DB}`);
    await migrateLatest(server.url);
    for (let i = 0; i < 2; i++) {
      const store = await openStateStore(server.url);
      stores.push(store);
      replicas.push(coreDeps({ databases: new Map([[entry.name, entry]]) }, store));
    }
  }, 120_000);

  afterAll(async () => {
    for (const d of replicas) await d.engines.close();
    for (const s of stores) await s.close();
    await server.run(server.dropSql).catch(() => undefined);
    await cluster?.stop();
  }, 60_000);

  it('four Extend clicks on two replicas for the one self-extension: one applied at once, three to the approvers', async () => {
    const [a, b] = replicas as [CoreDeps, CoreDeps];
    const { grant: approved } = await createAdminGrant(a, { platform: 'cli', id: 'cli:ops' }, alice, {
      database: 'orders',
      level: 'read',
      duration: '30m',
      reason: 'INC-9 stuck orders',
    });
    expect((await provision(a, approved.id)).outcome).toBe('active');
    const before = (await a.store.getGrant(approved.id))!;

    const results = await Promise.all(
      [a, b, a, b].map((deps) => requestExtension(deps, alice, before.id, '20m', 'still digging')),
    );

    const applied = results.filter((r) => r.status === 'approved');
    const asked = results.filter((r) => r.status === 'pending');
    expect(applied).toHaveLength(1);
    expect(asked).toHaveLength(3);
    for (const r of results) expect(r.extendsGrantId).toBe(before.id);
    const after = (await a.store.getGrant(before.id))!;
    expect(after.selfExtensions).toBe(1);
    expect(after.expiresAt).toBe(Math.max(before.expiresAt, applied[0]!.createdAt) + 20 * MIN);
    const audit = await a.store.listAudit({ type: 'grant.self_extended', grantId: before.id });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail).toMatchObject({ from: before.expiresAt, to: after.expiresAt, count: 1, of: 1 });
    // The target's backstop is not before the state DB's expiry (moved before the update was applied).
    const [row] = await target.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [after.username]);
    expect((row!.rolvaliduntil as Date).getTime()).toBeGreaterThanOrEqual(after.expiresAt);
  }, 60_000);
});
