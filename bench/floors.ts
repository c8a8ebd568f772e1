/**
 * The raw-SQL floor: the least SQL that does what the broker does on a target, timed directly over one open
 * connection as the same least-privilege admin, on the same server, in the same run. Nothing the broker adds
 * (state DB, queue, chat, marker, per-server DDL lock, guard-rails) is in it, so broker ÷ floor is the broker's
 * overhead factor.
 *
 * - create+grant — PostgreSQL: `CREATE ROLE … LOGIN PASSWORD '<SCRAM verifier>' VALID UNTIL … IN ROLE <read role>`
 *   (the verifier is computed before the clock starts). MariaDB: `CREATE USER … IDENTIFIED BY …` + `GRANT <read role>`.
 * - lock+kill+drop — PostgreSQL: `ALTER ROLE … NOLOGIN`, `pg_terminate_backend` over `pg_stat_activity`, `DROP ROLE`.
 *   MariaDB: `ALTER USER … ACCOUNT LOCK`, the processlist lookup for sessions to KILL, `DROP USER`.
 * The users have no sessions, so "kill" finds nothing: the floor is the cost of looking, as for most real revocations.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { generatePassword } from '../src/core/identifiers.js';
import { scramSha256Verifier } from '../src/targets/postgres/index.js';
import type { BenchTarget } from './targets.js';

export interface FloorSamples {
  createGrantMs: number[];
  lockKillDropMs: number[];
}

interface FloorSql {
  /** Untimed work before `create` (PostgreSQL: the SCRAM verifier, CPU work in the broker's worker, not SQL). */
  prepare?(user: string): void;
  create(user: string): Promise<void>;
  revoke(user: string): Promise<void>;
  /** Drops `user` if it is still there (after a failure mid-way). */
  remove(user: string): Promise<void>;
  close(): Promise<void>;
}

async function postgresSql(t: BenchTarget): Promise<FloorSql> {
  const { escapeIdentifier: id, escapeLiteral: lit } = pg;
  const c = new pg.Client({
    host: t.entry.host,
    port: t.entry.port,
    user: t.entry.admin.user,
    password: t.entry.admin.password,
    database: t.entry.database,
  });
  c.on('error', () => undefined);
  await c.connect();
  const verifiers = new Map<string, string>();
  return {
    prepare: (user) => void verifiers.set(user, scramSha256Verifier(generatePassword())),
    async create(user) {
      await c.query(
        `CREATE ROLE ${id(user)} LOGIN PASSWORD ${lit(verifiers.get(user)!)} VALID UNTIL ${lit(new Date(Date.now() + 3_600_000).toISOString())} IN ROLE ${id(t.readRole)}`,
      );
    },
    async revoke(user) {
      await c.query(`ALTER ROLE ${id(user)} NOLOGIN`);
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [user]);
      await c.query(`DROP ROLE ${id(user)}`);
    },
    async remove(user) {
      await c.query(`DROP ROLE IF EXISTS ${id(user)}`);
    },
    close: () => c.end(),
  };
}

async function mariadbSql(t: BenchTarget): Promise<FloorSql> {
  const c = await createConnection({
    host: t.entry.host,
    port: t.entry.port,
    user: t.entry.admin.user,
    password: t.entry.admin.password,
  });
  c.on('error', () => undefined);
  return {
    async create(user) {
      await c.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, generatePassword()]);
      await c.query(`GRANT \`${t.readRole}\` TO ?@'%'`, [user]);
    },
    async revoke(user) {
      await c.query("ALTER USER ?@'%' ACCOUNT LOCK", [user]);
      const [rows] = await c.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
      for (const r of rows as Array<{ id: number }>) await c.query(`KILL HARD CONNECTION ${Number(r.id)}`);
      await c.query("DROP USER ?@'%'", [user]);
    },
    async remove(user) {
      await c.query("DROP USER IF EXISTS ?@'%'", [user]);
    },
    close: () => c.end(),
  };
}

/** Times `iterations` create+grant and lock+kill+drop pairs; every user it creates is gone when it returns. */
export async function measureFloors(t: BenchTarget, iterations: number): Promise<FloorSamples> {
  const sql = t.engine === 'postgres' ? await postgresSql(t) : await mariadbSql(t);
  const out: FloorSamples = { createGrantMs: [], lockKillDropMs: [] };
  const tag = randomBytes(3).toString('hex');
  const live = new Set<string>();
  try {
    for (let i = 0; i < iterations; i++) {
      const user = `jit_floor_${tag}_${i}`;
      sql.prepare?.(user);
      let t0 = performance.now();
      live.add(user);
      await sql.create(user);
      out.createGrantMs.push(performance.now() - t0);
      t0 = performance.now();
      await sql.revoke(user);
      out.lockKillDropMs.push(performance.now() - t0);
      live.delete(user);
    }
  } finally {
    for (const user of live) await sql.remove(user).catch(() => undefined);
    await sql.close().catch(() => undefined);
  }
  return out;
}
