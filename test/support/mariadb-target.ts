/**
 * A throwaway target on the machine's MariaDB (root, empty password, 127.0.0.1:3306; override with MARIADB_HOST,
 * MARIADB_PORT, MARIADB_ROOT_USER, MARIADB_ROOT_PASSWORD). Every name is unique per call, so test files can run
 * in parallel against the one server.
 *
 * `setupMariadbTarget()` creates, as root:
 * - database `jitdb<id>` with table `items(id, name)` holding three rows;
 * - roles `jitt<id>_read` (SELECT on the database) and `jitt<id>_write` (SELECT, INSERT);
 * - the least-privilege admin `dbacc_adm_<id>`@'%' by running exactly `mysqlAdminSetupSql(...)` (which also creates
 *   the broker schema `jitbroker<id>` and, on MariaDB, the default-role procedure), so the documented grants are
 *   proven sufficient;
 * and returns the catalog entry (engine 'mysql'; levels read → one role, write → read + write roles, template →
 * `GRANT SELECT, CREATE ON \`jitdb<id>\`.* TO {{user}}`; connectionLimit 5) with root helpers.
 *
 *   const target = await setupMariadbTarget();
 *   const engine = createMysqlEngine(target.entry, { logger });
 *   const s = await target.connectAs(username, password);   // over TCP with the issued password
 *   ...
 *   await engine.close();
 *   await target.teardown();                                  // drops everything it created, and jit_ users it marked
 *
 * Database and schema names avoid `_`: in `GRANT … ON db.*` it is a wildcard.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import type { AccessLevel, DatabaseEntry, GuardRails } from '../../src/core/catalog.js';
import { generatePassword } from '../../src/core/identifiers.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { mysqlAdminSetupSql } from '../../src/targets/mysql/index.js';
import { EXPIRY_EVENT } from '../../src/targets/mysql/sql.js';
import type { EngineFixture, TestSession } from '../contract/database-engine.contract.js';

export type Row = Record<string, unknown>;

export const MARIADB_HOST = process.env.MARIADB_HOST ?? '127.0.0.1';
export const MARIADB_PORT = Number(process.env.MARIADB_PORT ?? 3306);
const ROOT_USER = process.env.MARIADB_ROOT_USER ?? 'root';
const ROOT_PASSWORD = process.env.MARIADB_ROOT_PASSWORD ?? '';

export interface MariadbTargetOptions {
  /** Guard-rails of every level (default `{ connectionLimit: 5 }`). */
  guardRails?: GuardRails;
  /** Catalog name (default `mariadb-<id>`). */
  name?: string;
}

/** A session opened with issued credentials; `errno` of the error that ended it, if any. */
export interface MariadbSession extends TestSession {
  readonly endError: (Error & { errno?: number }) | undefined;
}

export interface MariadbTarget {
  /** Catalog entry: engine mysql, levels read / write / template, admin = the least-privilege admin. */
  entry: DatabaseEntry;
  levels: { read: AccessLevel; write: AccessLevel; template: AccessLevel };
  names: { database: string; brokerSchema: string; readRole: string; writeRole: string; adminUser: string };
  /** The statements that created the admin (exactly mysqlAdminSetupSql's output). */
  adminSetupSql: string[];
  /** SQL for sessions of issued users; names are qualified, so no default database is needed. */
  sql: { select: string; insert: string; createTable: (name: string) => string; sleep: (seconds: number) => string };
  /** One statement as root (client-side `?` escaping), on any pooled connection. */
  query(sql: string, values?: unknown[]): Promise<Row[]>;
  /** A dedicated root connection, for session state such as GET_LOCK; the caller closes it. */
  rootSession(): Promise<{ query(sql: string, values?: unknown[]): Promise<Row[]>; close(): Promise<void> }>;
  /** Logs in over TCP with a password; rejects when the login is refused (the error carries `errno`). */
  connectAs(username: string, password: string, database?: string): Promise<MariadbSession>;
  userExists(username: string): Promise<boolean>;
  /** The account's authentication string is a mysql_native_password hash some password matches. */
  hasPassword(username: string): Promise<boolean>;
  roleExists(role: string): Promise<boolean>;
  sessionsOf(username: string): Promise<number>;
  /** The broker's marker row for the user, as root sees it. */
  markerOf(username: string): Promise<{ grantId: number; expiresAt: string } | undefined>;
  /** The one-shot backstop event an earlier version made for the user, with seconds until it fires. */
  eventOf(username: string): Promise<{ name: string; secondsLeft: number } | undefined>;
  /** The broker schema's expiry event: how often it runs and whether it is enabled. */
  expiryEvent(): Promise<{ everySeconds: number; status: string } | undefined>;
  /** A user of that name with no marker (someone else's). */
  createForeignUser(username: string): Promise<void>;
  /** Drops the user behind the broker's back (as root). */
  dropUserByHand(username: string): Promise<void>;
  /** Every account on the server whose name starts with jit_ (server-wide: other test files' users too). */
  jitUsers(): Promise<string[]>;
  /** Drops the users marked in this target's broker schema (with their bundle roles), the admin, roles, schemas. */
  teardown(): Promise<void>;
}

export function mariadbLevels(
  database: string,
  roles: { read: string; write: string },
  guardRails: GuardRails = { connectionLimit: 5 },
): MariadbTarget['levels'] {
  return {
    read: { name: 'read', roles: [roles.read], grants: [], guardRails },
    write: { name: 'write', roles: [roles.read, roles.write], grants: [], guardRails },
    template: {
      name: 'template',
      roles: [],
      grants: [`GRANT SELECT, CREATE ON \`${database}\`.* TO {{user}}`],
      guardRails,
    },
  };
}

/** Root's pool for the whole test process (one per file), ended by the last teardown. */
let rootPool: Pool | undefined;
let rootUsers = 0;

function root(): Pool {
  rootPool ??= createPool({
    host: MARIADB_HOST,
    port: MARIADB_PORT,
    user: ROOT_USER,
    password: ROOT_PASSWORD,
    connectionLimit: 4,
    multipleStatements: false,
    dateStrings: true,
  });
  return rootPool;
}

async function rootQuery(sql: string, values?: unknown[]): Promise<Row[]> {
  const [result] = await root().query(sql, values);
  return Array.isArray(result) ? (result as RowDataPacket[]) : [];
}

export async function setupMariadbTarget(opts: MariadbTargetOptions = {}): Promise<MariadbTarget> {
  const id = randomBytes(5).toString('hex');
  const names = {
    database: `jitdb${id}`,
    brokerSchema: `jitbroker${id}`,
    readRole: `jitt${id}_read`,
    writeRole: `jitt${id}_write`,
    adminUser: `dbacc_adm_${id}`,
  };
  const adminPassword = generatePassword();
  const levels = mariadbLevels(names.database, { read: names.readRole, write: names.writeRole }, opts.guardRails);
  const db = `\`${names.database}\``;
  rootUsers++;

  const adminSetupSql = mysqlAdminSetupSql({
    adminUser: names.adminUser,
    adminHost: '%',
    adminPassword,
    database: names.database,
    roles: [names.readRole, names.writeRole],
    brokerSchema: names.brokerSchema,
    flavour: 'mariadb',
    templates: levels.template.grants,
  });

  const teardown = async () => {
    const marked = await rootQuery(`SELECT \`user\` AS u FROM \`${names.brokerSchema}\`.managed_users`).catch(() => []);
    for (const { u } of marked) {
      const user = String(u);
      if (!/^jit_[a-z0-9_]+$/.test(user)) continue;
      await rootQuery(`KILL HARD USER ?@'%'`, [user]).catch(() => undefined);
      await rootQuery(`DROP USER IF EXISTS ?@'%'`, [user]);
      await rootQuery(`DROP ROLE IF EXISTS \`jitr_${user.slice(4)}\``);
    }
    await rootQuery(`KILL HARD USER ?@'%'`, [names.adminUser]).catch(() => undefined);
    await rootQuery(`DROP USER IF EXISTS ?@'%'`, [names.adminUser]);
    await rootQuery(`DROP ROLE IF EXISTS \`${names.readRole}\``);
    await rootQuery(`DROP ROLE IF EXISTS \`${names.writeRole}\``);
    await rootQuery(`DROP DATABASE IF EXISTS \`${names.brokerSchema}\``);
    await rootQuery(`DROP DATABASE IF EXISTS ${db}`);
    if (--rootUsers === 0) {
      const pool = rootPool;
      rootPool = undefined;
      await pool?.end();
    }
  };

  try {
    await rootQuery(`CREATE DATABASE ${db}`);
    await rootQuery(`CREATE TABLE ${db}.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50))`);
    await rootQuery(`INSERT INTO ${db}.items (name) VALUES ('apple'), ('pear'), ('plum')`);
    await rootQuery(`CREATE ROLE \`${names.readRole}\``);
    await rootQuery(`GRANT SELECT ON ${db}.* TO \`${names.readRole}\``);
    await rootQuery(`CREATE ROLE \`${names.writeRole}\``);
    await rootQuery(`GRANT SELECT, INSERT ON ${db}.* TO \`${names.writeRole}\``);
    for (const sql of adminSetupSql) await rootQuery(sql);
  } catch (err) {
    await teardown().catch(() => undefined);
    throw err;
  }

  const entry: DatabaseEntry = {
    name: opts.name ?? `mariadb-${id}`,
    description: 'throwaway target on the local MariaDB',
    engine: 'mysql',
    host: MARIADB_HOST,
    port: MARIADB_PORT,
    database: names.database,
    admin: { user: names.adminUser, password: adminPassword },
    levels: new Map(Object.values(levels).map((l) => [l.name, l])),
    maxDuration: 8 * 3_600_000,
    brokerSchema: names.brokerSchema,
    delivery: 'reveal',
    approval: { required: 1, timeoutMs: 30 * 60_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
  };

  return {
    entry,
    levels,
    names,
    adminSetupSql,
    sql: {
      select: `SELECT id, name FROM ${db}.items`,
      insert: `INSERT INTO ${db}.items (name) VALUES ('from-a-test')`,
      createTable: (name) => `CREATE TABLE ${db}.\`${name}\` (id INT)`,
      sleep: (seconds) => `SELECT SLEEP(${Number(seconds)})`,
    },
    query: rootQuery,
    rootSession: async () => {
      const conn = await createConnection({
        host: MARIADB_HOST,
        port: MARIADB_PORT,
        user: ROOT_USER,
        password: ROOT_PASSWORD,
      });
      conn.on('error', () => undefined);
      return {
        query: async (sql, values) => {
          const [result] = await conn.query(sql, values);
          return Array.isArray(result) ? (result as RowDataPacket[]) : [];
        },
        close: () => conn.end().catch(() => conn.destroy()),
      };
    },
    connectAs: (username, password, database) => connectMariadb(username, password, database),
    userExists: async (u) =>
      (await rootQuery("SELECT 1 FROM mysql.global_priv WHERE User = ? AND Host = '%'", [u])).length > 0,
    hasPassword: async (u) => {
      const [row] = await rootQuery("SELECT authentication_string AS a FROM mysql.user WHERE User = ? AND Host = '%'", [
        u,
      ]);
      if (!row) throw new Error(`no account ${u}`);
      return /^\*[0-9A-F]{40}$/.test(String(row.a));
    },
    roleExists: async (r) =>
      (await rootQuery("SELECT 1 FROM mysql.global_priv WHERE User = ? AND Host = ''", [r])).length > 0,
    sessionsOf: async (u) =>
      Number(
        (await rootQuery('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [u]))[0]?.n ?? 0,
      ),
    markerOf: async (u) => {
      const [row] = await rootQuery(
        `SELECT grant_id, expires_at FROM \`${names.brokerSchema}\`.managed_users WHERE \`user\` = ?`,
        [u],
      );
      return row ? { grantId: Number(row.grant_id), expiresAt: String(row.expires_at) } : undefined;
    },
    eventOf: async (u) => {
      const [row] = await rootQuery(
        'SELECT EVENT_NAME AS name, TIMESTAMPDIFF(SECOND, NOW(), EXECUTE_AT) AS secondsLeft FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?',
        [names.brokerSchema, `expire_${u}`],
      );
      return row ? { name: String(row.name), secondsLeft: Number(row.secondsLeft) } : undefined;
    },
    expiryEvent: async () => {
      const [row] = await rootQuery(
        'SELECT INTERVAL_VALUE AS every, INTERVAL_FIELD AS field, STATUS AS status FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?',
        [names.brokerSchema, EXPIRY_EVENT],
      );
      if (!row) return undefined;
      if (row.field !== 'SECOND') throw new Error(`expiry event interval in ${String(row.field)}`);
      return { everySeconds: Number(row.every), status: String(row.status) };
    },
    createForeignUser: async (u) => {
      await rootQuery("CREATE USER ?@'%' IDENTIFIED BY ?", [u, generatePassword()]);
    },
    dropUserByHand: async (u) => {
      await rootQuery("DROP USER IF EXISTS ?@'%'", [u]);
    },
    jitUsers: async () =>
      (
        await rootQuery("SELECT User AS u FROM mysql.global_priv WHERE User LIKE 'jit!_%' ESCAPE '!' AND Host = '%'")
      ).map((r) => String(r.u)),
    teardown,
  };
}

/** Opens a session with the issued password (no TLS on the local server). `ended` settles when the server ends it. */
export async function connectMariadb(username: string, password: string, database?: string): Promise<MariadbSession> {
  const conn = await createConnection({
    host: MARIADB_HOST,
    port: MARIADB_PORT,
    user: username,
    password,
    ...(database ? { database } : {}),
    connectTimeout: 5_000,
    multipleStatements: false,
  });
  let endError: (Error & { errno?: number }) | undefined;
  let closing = false;
  const ended = new Promise<void>((resolve) => {
    conn.on('end', () => resolve());
    conn.on('error', (err: Error & { errno?: number }) => {
      if (!closing) endError = err;
      resolve();
    });
  });
  return {
    ended,
    get endError() {
      return endError;
    },
    async query(sql: string) {
      const [result] = await conn.query(sql);
      return Array.isArray(result) ? (result as unknown[]) : [result];
    },
    async close() {
      closing = true;
      await conn.end().catch(() => conn.destroy());
    },
  };
}

/** The contract suite's fixture for an engine on `target`; `teardown` defaults to the target's. */
export function mariadbEngineFixture(
  target: MariadbTarget,
  engine: DatabaseEngine,
  teardown: () => Promise<void> = target.teardown,
): EngineFixture {
  return {
    engine,
    levels: target.levels,
    sql: target.sql,
    connectAs: (u, p) => target.connectAs(u, p),
    userExists: target.userExists,
    hasPassword: target.hasPassword,
    sessionsOf: target.sessionsOf,
    createForeignUser: target.createForeignUser,
    dropUserByHand: target.dropUserByHand,
    teardown,
  };
}
