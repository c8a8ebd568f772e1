/**
 * Throwaway PostgreSQL clusters for integration tests, with real password (scram-sha-256) authentication.
 *
 * The machine's own cluster trusts every TCP login from 127.0.0.1, so a password test against it proves nothing.
 * `startScramCluster(server)` runs that server's `initdb` (test/support/pg-versions.ts: the machine's 15 by default,
 * or an npm-packaged 14/16/17/18) as the `postgres` OS user (we are root; initdb refuses root) into a fresh temp dir, with
 * `--auth-host=scram-sha-256 --auth-local=trust`, on a free port of 127.0.0.1, `log_statement = 'all'`, and
 * returns once a password login over TCP works. Each test file starts its own and stops it in `afterAll`.
 *
 * `setupPgTarget(cluster)` then builds the target the engine tests and lifecycle tests share: database `appdb`
 * with table `items`, group roles `app_read` / `app_write`, and the least-privilege admin `jit_admin` created by
 * running exactly `postgresAdminSetupSql(...)` for the cluster's version — so the documented grants are proven
 * sufficient on each version.
 *
 *   const cluster = await startScramCluster(pgServer(17)); // or startScramCluster() for the machine's 15
 *   const target = await setupPgTarget(cluster);
 *   const engine = createPostgresEngine(target.entry, { logger });
 *   ...
 *   await cluster.stop();
 *
 * `startScramCluster(server, { tls: { certFile, keyFile } })` makes a cluster that accepts TCP logins only over TLS
 * (every `host` line of pg_hba.conf becomes `hostssl`) with that certificate; the harness's own connections
 * (superuser, connectAs) then use TLS without verification — the code under test does the verifying.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import type { AccessLevel, DatabaseEntry } from '../../src/core/catalog.js';
import { generatePassword } from '../../src/core/identifiers.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { postgresAdminSetupSql, scramSha256Verifier } from '../../src/targets/postgres/index.js';
import type { EngineFixture, TestSession } from '../contract/database-engine.contract.js';
import { MACHINE_PG, type PgServer } from './pg-versions.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';

export type Row = Record<string, unknown>;

export interface PgCluster {
  readonly host: string;
  readonly port: number;
  /** Superuser name and password (password login over TCP). */
  readonly superuser: string;
  readonly superuserPassword: string;
  /** Temp dir holding data/, sock/ and server.log; removed by stop(). */
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  /** The server's log (stderr), with every statement (`log_statement = 'all'`). */
  readonly logFile: string;
  /** e.g. "15.18 (Debian …)". */
  readonly version: string;
  /** server_version_num, e.g. 150018. */
  readonly versionNum: number;
  /** The binaries it runs. */
  readonly server: PgServer;
  /** TCP logins are accepted over TLS only (startScramCluster's `tls` option). */
  readonly tls: boolean;
  /** A connected superuser client on `database` (default `postgres`); the caller ends it. */
  connect(database?: string): Promise<Client>;
  /** One statement as the superuser in `database` (default `postgres`). */
  query(sql: string, params?: unknown[], database?: string): Promise<Row[]>;
  /** The server log so far. */
  readLog(): string;
  /** Stops the server (immediate) and removes the dir. Idempotent. */
  stop(): Promise<void>;
}

/** A session opened with issued credentials; `lastError` is the 'error' the client emitted when the session ended
 *  outside a query (pg reports "Connection terminated unexpectedly" there; the server log says why). */
export interface PgSession extends TestSession {
  readonly client: Client;
  readonly lastError: (Error & { code?: string }) | undefined;
}

/** Temp dir → the bin dir of the server running there, until stop(). */
const live = new Map<string, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [dir, binDir] of live) {
      try {
        execFileSync(
          'runuser',
          ['-u', 'postgres', '--', join(binDir, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', 'stop'],
          {
            stdio: 'ignore',
          },
        );
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('no `postgres` OS user: cannot run initdb');
  return { uid, gid };
}

async function asPostgres(binDir: string, cmd: string, args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', join(binDir, cmd), ...args], { timeout: 60_000, cwd: tmpdir() });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return '(no server log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** The harness's own connections: TLS without verification on a TLS-only cluster. */
const harnessSsl = (tls: boolean) => (tls ? { rejectUnauthorized: false } : false);

function superClient(port: number, password: string, database: string, tls = false): Client {
  const c = new Client({
    host: HOST,
    port,
    user: 'postgres',
    password,
    database,
    connectionTimeoutMillis: 5_000,
    ssl: harnessSsl(tls),
  });
  c.on('error', () => undefined); // terminated sessions must not crash the test process
  return c;
}

async function waitForLogin(
  port: number,
  password: string,
  deadline: number,
  tls = false,
): Promise<{ version: string; versionNum: number }> {
  let last: unknown;
  while (Date.now() < deadline) {
    const c = superClient(port, password, 'postgres', tls);
    try {
      await c.connect();
      const r = await c.query<{ version: string; num: string }>(
        "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num",
      );
      return { version: r.rows[0]?.version ?? '', versionNum: Number(r.rows[0]?.num) };
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  throw new Error(`password login never succeeded: ${String(last)}`);
}

export interface ScramClusterOptions {
  /** Serve TLS with this PEM certificate and key, and accept TCP logins over TLS only (`hostssl`). */
  tls?: { certFile: string; keyFile: string };
  /** shared_preload_libraries, e.g. ['pg_stat_statements'] (the library must be in the server's lib dir). */
  preload?: string[];
}

/** Copies the TLS certificate and key into the data dir (the key must be the server's own, mode 0600) and allows
 *  TCP logins over TLS only. */
function configureTls(
  dataDir: string,
  tls: NonNullable<ScramClusterOptions['tls']>,
  ids: { uid: number; gid: number },
): string[] {
  for (const [from, to] of [
    [tls.certFile, 'server.crt'],
    [tls.keyFile, 'server.key'],
  ] as const) {
    copyFileSync(from, join(dataDir, to));
    chownSync(join(dataDir, to), ids.uid, ids.gid);
    chmodSync(join(dataDir, to), 0o600);
  }
  const hba = join(dataDir, 'pg_hba.conf');
  writeFileSync(hba, readFileSync(hba, 'utf8').replace(/^host(\s)/gm, 'hostssl$1'));
  return ['ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"];
}

/** Creates, starts and returns a throwaway scram-sha-256 cluster of `server` (see the file header). */
export async function startScramCluster(
  server: PgServer = MACHINE_PG,
  opts: ScramClusterOptions = {},
): Promise<PgCluster> {
  const tls = opts.tls !== undefined;
  installExitHook();
  const { uid, gid } = postgresIds();
  const binDir = server.binDir;
  const dir = mkdtempSync(join(tmpdir(), `db-access-pg${server.major}-`));
  live.set(dir, binDir);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pwfile');
  const superuserPassword = generatePassword();
  try {
    chownSync(dir, uid, gid);
    execFileSync('runuser', ['-u', 'postgres', '--', 'mkdir', '-m', '0700', socketDir]);
    writeFileSync(pwFile, `${superuserPassword}\n`, { mode: 0o600 });
    chownSync(pwFile, uid, gid);
    await asPostgres(binDir, 'initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    rmSync(pwFile, { force: true });
    const conf = [
      `listen_addresses = '${HOST}'`,
      `unix_socket_directories = '${socketDir}'`,
      "password_encryption = 'scram-sha-256'",
      "log_statement = 'all'",
      "log_line_prefix = '%m [%p] %u@%d '",
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 60',
      "shared_buffers = '32MB'",
      ...(opts.tls ? configureTls(dataDir, opts.tls, { uid, gid }) : []),
      ...(opts.preload ? [`shared_preload_libraries = '${opts.preload.join(',')}'`] : []),
    ].join('\n');
    writeFileSync(
      join(dataDir, 'postgresql.conf'),
      `${readFileSync(join(dataDir, 'postgresql.conf'), 'utf8')}\n${conf}\n`,
    );
  } catch (err) {
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }

  let port = 0;
  let version = '';
  let versionNum = 0;
  let lastError = '';
  for (let attempt = 1; attempt <= 3 && !version; attempt++) {
    port = await freePort();
    try {
      await asPostgres(binDir, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port}`, 'start']);
      ({ version, versionNum } = await waitForLogin(port, superuserPassword, Date.now() + 15_000, tls));
    } catch (err) {
      lastError = (err as { stderr?: string }).stderr || String(err);
      await asPostgres(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => undefined);
    }
  }
  // The binaries must be the version asked for (a wrong PG_BIN or package would silently test another server).
  if (version && Math.floor(versionNum / 10_000) !== server.major) {
    await asPostgres(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    lastError = `${binDir} runs PostgreSQL ${version}, not ${server.major}`;
    version = '';
  }
  if (!version) {
    const log = tail(logFile);
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a PostgreSQL test cluster: ${lastError}\n--- server log tail ---\n${log}`);
  }

  let stopped = false;
  const cluster: PgCluster = {
    host: HOST,
    port,
    superuser: 'postgres',
    superuserPassword,
    dir,
    dataDir,
    socketDir,
    logFile,
    version,
    versionNum,
    server,
    tls,
    async connect(database = 'postgres') {
      const c = superClient(port, superuserPassword, database, tls);
      await c.connect();
      return c;
    },
    async query(sql, params, database = 'postgres') {
      const c = await cluster.connect(database);
      try {
        return (await c.query(sql, params)).rows as Row[];
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    readLog: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async stop() {
      if (stopped) return;
      stopped = true;
      await asPostgres(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      live.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

// ---------------------------------------------------------------------------------------------------------------
// The target database the engine and lifecycle tests use
// ---------------------------------------------------------------------------------------------------------------

export interface PgTargetOptions {
  /** Target database (default `appdb`); also the catalog name. */
  database?: string;
  /** Least-privilege admin (default `jit_admin`). Use distinct values to set up a second target on one cluster. */
  adminUser?: string;
}

export interface PgTarget {
  cluster: PgCluster;
  /** Catalog entry: engine postgres, levels read / write / template, admin = the least-privilege admin. */
  entry: DatabaseEntry;
  levels: { read: AccessLevel; write: AccessLevel; template: AccessLevel };
  /** The statements that created the admin (exactly postgresAdminSetupSql's output for the cluster's version). */
  adminSetupSql: string[];
  /** One statement as the superuser in the target database. */
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Logs in over TCP with a password (scram-sha-256); rejects when the login is refused. */
  connectAs(username: string, password: string, database?: string): Promise<PgSession>;
  userExists(username: string): Promise<boolean>;
  /** pg_authid.rolpassword is not NULL (superuser view). */
  hasPassword(username: string): Promise<boolean>;
  sessionsOf(username: string): Promise<number>;
  /** A role of that name without a db-access marker (someone else's). */
  createForeignUser(username: string): Promise<void>;
  /** Drops the role behind the broker's back (as a superuser). */
  dropUserByHand(username: string): Promise<void>;
}

/** Read: SELECT on items. Write: + INSERT (and the id sequence). Template: grants templated per user. */
export function pgLevels(): PgTarget['levels'] {
  return {
    read: { name: 'read', roles: ['app_read'], grants: [], guardRails: { connectionLimit: 5 } },
    write: { name: 'write', roles: ['app_read', 'app_write'], grants: [], guardRails: { connectionLimit: 5 } },
    template: {
      name: 'template',
      roles: [],
      grants: ['GRANT USAGE, CREATE ON SCHEMA public TO {{user}}', 'GRANT SELECT ON items TO {{user}}'],
      guardRails: { connectionLimit: 5 },
    },
  };
}

/** Creates the target database, its group roles and the least-privilege admin (see the file header). */
export async function setupPgTarget(cluster: PgCluster, opts: PgTargetOptions = {}): Promise<PgTarget> {
  const database = opts.database ?? 'appdb';
  const adminUser = opts.adminUser ?? 'jit_admin';
  const adminPassword = generatePassword();
  const levels = pgLevels();
  const q = (sql: string, params?: unknown[]) => cluster.query(sql, params, database);

  await cluster.query(`CREATE DATABASE ${escapeIdentifier(database)}`);
  for (const role of ['app_read', 'app_write']) {
    const exists = await cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.length === 0) await cluster.query(`CREATE ROLE ${escapeIdentifier(role)} NOLOGIN`);
  }
  for (const sql of [
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
    'CREATE TABLE items (id serial PRIMARY KEY, name text)',
    "INSERT INTO items (name) VALUES ('apple'), ('pear'), ('plum')",
    'GRANT USAGE ON SCHEMA public TO app_read, app_write',
    'GRANT SELECT ON items TO app_read',
    'GRANT SELECT, INSERT ON items TO app_write',
    'GRANT USAGE ON SEQUENCE items_id_seq TO app_write',
  ])
    await q(sql);

  const adminSetupSql = postgresAdminSetupSql({
    serverVersionNum: cluster.versionNum,
    adminUser,
    database,
    roles: [...new Set([...levels.read.roles, ...levels.write.roles])],
    templates: levels.template.grants,
  });
  for (const sql of adminSetupSql) await q(sql);
  // The password, as psql's \password would send it: a SCRAM verifier.
  await q(`ALTER ROLE ${escapeIdentifier(adminUser)} PASSWORD ${escapeLiteral(scramSha256Verifier(adminPassword))}`);

  const entry: DatabaseEntry = {
    name: database,
    description: 'throwaway scram-sha-256 test cluster',
    engine: 'postgres',
    host: cluster.host,
    port: cluster.port,
    database,
    admin: { user: adminUser, password: adminPassword },
    levels: new Map(Object.values(levels).map((l) => [l.name, l])),
    maxDuration: 8 * 3_600_000,
    brokerSchema: 'db_access',
    delivery: 'reveal',
    approval: { required: 1, timeoutMs: 30 * 60_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
  };

  const target: PgTarget = {
    cluster,
    entry,
    levels,
    adminSetupSql,
    query: q,
    async connectAs(username, password, db = database) {
      const client = new Client({
        host: cluster.host,
        port: cluster.port,
        user: username,
        password,
        database: db,
        connectionTimeoutMillis: 5_000,
        ssl: harnessSsl(cluster.tls),
      });
      let lastError: (Error & { code?: string }) | undefined;
      client.on('error', (err) => (lastError = err)); // the server ending the session must not crash the process
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await client.connect();
      return {
        client,
        get lastError() {
          return lastError;
        },
        ended,
        async query(sql: string) {
          return (await client.query(sql)).rows as unknown[];
        },
        async close() {
          await client.end().catch(() => undefined);
        },
      };
    },
    async userExists(username) {
      return (await cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])).length > 0;
    },
    async hasPassword(username) {
      const [r] = await cluster.query('SELECT rolpassword IS NOT NULL AS set FROM pg_authid WHERE rolname = $1', [
        username,
      ]);
      if (!r) throw new Error(`no role ${username}`);
      return r.set === true;
    },
    async sessionsOf(username) {
      const [r] = await cluster.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [username]);
      return Number(r?.n ?? 0);
    },
    async createForeignUser(username) {
      await cluster.query(`CREATE ROLE ${escapeIdentifier(username)} LOGIN`);
    },
    async dropUserByHand(username) {
      if (!(await target.userExists(username))) return;
      await cluster.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [username]);
      await q(`DROP OWNED BY ${escapeIdentifier(username)}`);
      await cluster.query(`DROP ROLE IF EXISTS ${escapeIdentifier(username)}`);
    },
  };
  return target;
}

/** The contract suite's fixture for an engine on `target`. `teardown` defaults to stopping the cluster. */
export function pgEngineFixture(
  target: PgTarget,
  engine: DatabaseEngine,
  teardown: () => Promise<void> = () => target.cluster.stop(),
): EngineFixture {
  return {
    engine,
    levels: target.levels,
    sql: {
      select: 'SELECT id, name FROM items',
      insert: "INSERT INTO items (name) VALUES ('from a test')",
      createTable: (name) => `CREATE TABLE ${escapeIdentifier(name)} (id int)`,
      sleep: (seconds) => `SELECT pg_sleep(${Number(seconds)})`,
    },
    connectAs: (u, p) => target.connectAs(u, p),
    userExists: (u) => target.userExists(u),
    hasPassword: (u) => target.hasPassword(u),
    sessionsOf: (u) => target.sessionsOf(u),
    createForeignUser: (u) => target.createForeignUser(u),
    dropUserByHand: (u) => target.dropUserByHand(u),
    teardown,
  };
}
