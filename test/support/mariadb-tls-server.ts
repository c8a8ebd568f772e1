/**
 * A MariaDB server of the test's own, never the machine's shared one: `mariadb-install-db` into a temp dir, then
 * `mariadbd` on a free port of 127.0.0.1 and its own socket, serving TLS with the given certificate and refusing
 * every TCP connection without it (`--require-secure-transport=ON`). Root logs in over the socket (unix_socket auth:
 * we are the OS root), which the harness uses to set the target up, and to look at it behind the broker's back.
 *
 *   const server = await startMariadbTlsServer({ certFile, keyFile, caFile });
 *   const target = await setupTlsTarget(server);      // database appdb, roles app_read/app_write, admin jit_admin
 *   ...
 *   await server.stop();                              // stops mariadbd and removes the temp dir
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import type { AccessLevel, DatabaseEntry } from '../../src/core/catalog.js';
import { generatePassword } from '../../src/core/identifiers.js';
import { mysqlAdminSetupSql } from '../../src/targets/mysql/index.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';

export interface MariadbTlsServer {
  readonly host: string;
  readonly port: number;
  readonly socket: string;
  readonly dir: string;
  /** One statement as root over the socket (client-side `?` escaping). */
  query(sql: string, values?: unknown[]): Promise<RowDataPacket[]>;
  /** Stops mariadbd (waits for it to exit) and removes the dir. Idempotent. */
  stop(): Promise<void>;
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

export async function startMariadbTlsServer(tls: {
  certFile: string;
  keyFile: string;
  caFile: string;
}): Promise<MariadbTlsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'db-access-mariadb-tls-'));
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const errLog = join(dir, 'error.log');
  try {
    await run(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        '--user=root',
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
      ],
      {
        timeout: 60_000,
      },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }
  const port = await freePort();
  const child = spawn(
    'mariadbd',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      `--bind-address=${HOST}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      `--log-error=${errLog}`,
      '--skip-log-bin',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=16M',
      '--event-scheduler=ON',
      '--require-secure-transport=ON',
      `--ssl-cert=${tls.certFile}`,
      `--ssl-key=${tls.keyFile}`,
      `--ssl-ca=${tls.caFile}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const query = async (sql: string, values?: unknown[]): Promise<RowDataPacket[]> => {
    const conn = await createConnection({
      socketPath: socket,
      user: 'root',
      multipleStatements: false,
      dateStrings: true,
    });
    try {
      const [res] = await conn.query(sql, values);
      return Array.isArray(res) ? (res as RowDataPacket[]) : [];
    } finally {
      await conn.end();
    }
  };
  const server: MariadbTlsServer = {
    host: HOST,
    port,
    socket,
    dir,
    query,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      'the test mariadbd to accept root over its socket',
      async () => existsSync(socket) && (await query('SELECT 1 AS ok')).length === 1,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    const [ssl] = await query("SHOW GLOBAL VARIABLES LIKE 'have_ssl'");
    if (ssl?.Value !== 'YES') throw new Error(`mariadbd does not serve TLS (have_ssl=${String(ssl?.Value)})`);
  } catch (err) {
    const log = existsSync(errLog) ? readFileSync(errLog, 'utf8').split('\n').slice(-30).join('\n') : '';
    await server.stop();
    throw new Error(`could not start the test mariadbd: ${String(err)}\n--- error log tail ---\n${log}`, {
      cause: err,
    });
  }
  return server;
}

/** Database `appdb` with `items`, roles `app_read` / `app_write` and the admin `jit_admin` from mysqlAdminSetupSql. */
export async function setupTlsTarget(
  server: MariadbTlsServer,
): Promise<{ entry: DatabaseEntry; levels: { read: AccessLevel; write: AccessLevel }; adminPassword: string }> {
  const names = {
    database: 'appdb',
    brokerSchema: 'dbaccess',
    readRole: 'app_read',
    writeRole: 'app_write',
    adminUser: 'jit_admin',
  };
  const adminPassword = generatePassword();
  const guardRails = { connectionLimit: 5 };
  const levels = {
    read: { name: 'read', roles: [names.readRole], grants: [], guardRails },
    write: { name: 'write', roles: [names.readRole, names.writeRole], grants: [], guardRails },
  };
  for (const sql of [
    'CREATE DATABASE appdb',
    'CREATE TABLE appdb.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50))',
    "INSERT INTO appdb.items (name) VALUES ('apple'), ('pear')",
    'CREATE ROLE app_read',
    'GRANT SELECT ON appdb.* TO app_read',
    'CREATE ROLE app_write',
    'GRANT SELECT, INSERT ON appdb.* TO app_write',
    ...mysqlAdminSetupSql({
      adminUser: names.adminUser,
      adminHost: '%',
      adminPassword,
      database: names.database,
      roles: [names.readRole, names.writeRole],
      brokerSchema: names.brokerSchema,
      flavour: 'mariadb',
      templates: [],
    }),
  ])
    await server.query(sql);
  const entry: DatabaseEntry = {
    name: 'maria-tls',
    description: 'throwaway TLS-only MariaDB',
    engine: 'mysql',
    host: 'localhost',
    port: server.port,
    database: names.database,
    admin: { user: names.adminUser, password: adminPassword },
    levels: new Map(Object.values(levels).map((l) => [l.name, l])),
    maxDuration: 8 * 3_600_000,
    brokerSchema: names.brokerSchema,
    delivery: 'reveal',
    approval: { required: 1, timeoutMs: 30 * 60_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
  };
  return { entry, levels, adminPassword };
}

/** Whether the machine can run this (mariadbd and mariadb-install-db present). */
export function canRunMariadbd(): boolean {
  try {
    execFileSync('mariadbd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
