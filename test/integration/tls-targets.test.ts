/**
 * TLS to real targets that refuse plaintext: a PostgreSQL cluster whose pg_hba.conf has only `hostssl` lines and a
 * MariaDB started with --require-secure-transport=ON, both serving a certificate for `localhost` signed by a CA this
 * test makes. For each: the broker grants over verified TLS and the handed-out command logs in over verified TLS
 * with the real client; a wrong CA or a wrong host name is refused with a TargetError naming the database and the
 * problem, and nothing is created; verify-ca does not check the host name; revocation works over TLS.
 *
 * How a person verifies (what the test does): psql reads the CA from PGSSLROOTCERT (or ~/.postgresql/root.crt);
 * the mariadb/mysql client from `ssl-ca=` under [client] in ~/.my.cnf.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry, TargetTls } from '../../src/core/catalog.js';
import { buildCredentials, type Credentials } from '../../src/core/credentials.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { createMysqlEngine } from '../../src/targets/mysql/index.js';
import { createPostgresEngine } from '../../src/targets/postgres/index.js';
import { capturingLogger } from '../support/logs.js';
import { startMariadbTlsServer, setupTlsTarget, type MariadbTlsServer } from '../support/mariadb-tls-server.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { MACHINE_PG } from '../support/pg-versions.js';
import { makeTestPki, type TestPki } from '../support/test-ca.js';
import { waitFor } from '../support/wait.js';
import { oneUser } from '../support/one-user.js';

/** A name other than localhost that resolves to 127.0.0.1 here (the machine's own name usually does), if any. */
const OTHER_LOOPBACK_NAME = [hostname(), 'vm', 'runsc'].find((n) => {
  if (n === 'localhost' || n === '') return false;
  const res = spawnSync('getent', ['hosts', n], { encoding: 'utf8' });
  return res.status === 0 && /^127\./.test(res.stdout);
});

const CHAIN_CODES = [
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
];

let pki: TestPki;
let home: string;
let grantId = 970_000 + Math.floor(Math.random() * 20_000);
const engines: DatabaseEngine[] = [];

beforeAll(() => {
  pki = makeTestPki(['localhost']);
  home = mkdtempSync(join(tmpdir(), 'db-access-tls-home-'));
});
afterAll(async () => {
  for (const e of engines) await e.close().catch(() => undefined);
  pki?.remove();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** `script` typed into sh (stdin, so no argument list holds it) with only `env` and PATH/HOME/LANG. */
function sh(
  script: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-s'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(`${script}\n`);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function withTls(entry: DatabaseEntry, tls: TargetTls, over: Partial<DatabaseEntry> = {}): DatabaseEntry {
  return { ...entry, ...over, tls };
}

async function issue(
  engine: DatabaseEngine,
  db: DatabaseEntry,
  level: DatabaseEntry['levels'] extends ReadonlyMap<string, infer L> ? L : never,
  ttlMs = 3_600_000,
): Promise<Credentials> {
  const username = generateUsername('tls.test@example.com');
  const password = generatePassword();
  const expiresAt = Date.now() + ttlMs;
  await oneUser(engine).newUser({ grantId: grantId++, username, password, expiresAt, level });
  return buildCredentials(db, username, password, expiresAt);
}

async function refusal(p: Promise<unknown>): Promise<TargetError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TargetError);
  return err as TargetError;
}

describe('PostgreSQL that accepts TLS only (hostssl)', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let entry: DatabaseEntry;
  const pg = (db: DatabaseEntry) => {
    const e = createPostgresEngine(db, {
      logger: capturingLogger().logger,
      tuning: { retryAttempts: 2, retryBaseDelayMs: 10 },
    });
    engines.push(e);
    return e;
  };

  beforeAll(async () => {
    cluster = await startScramCluster(MACHINE_PG, { tls: { certFile: pki.serverCert, keyFile: pki.serverKey } });
    target = await setupPgTarget(cluster);
    entry = withTls(target.entry, { mode: 'verify-full', ca: pki.ca }, { name: 'orders-pg', host: 'localhost' });
  }, 120_000);
  afterAll(async () => cluster?.stop(), 60_000);

  it('refuses a login without TLS (so what follows proves TLS)', async () => {
    const c = new Client({
      host: cluster.host,
      port: cluster.port,
      user: 'postgres',
      password: cluster.superuserPassword,
      database: 'postgres',
      ssl: false,
    });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toMatchObject({ code: '28000' });
    await c.end().catch(() => undefined);
  });

  it('verify-full: grants over verified TLS; the handed-out psql command logs in over verified TLS', async () => {
    const engine = pg(entry);
    const c = await issue(engine, entry, target.levels.read);
    expect(c.command).toContain('sslmode=verify-full');
    expect(c.url).toMatch(/\?sslmode=verify-full$/);
    const res = await sh(
      `${c.command} -X -A -t -c 'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()'`,
      { PGSSLROOTCERT: pki.ca },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(`${c.username}|t`);
    // The person's client does verify: without the CA, or with another one, it refuses to connect.
    const noCa = await sh(`${c.command} -X -A -t -c 'select 1'`);
    expect(noCa.code).not.toBe(0);
    expect(noCa.stderr).toMatch(/root certificate/);
    const wrongCa = await sh(`${c.command} -X -A -t -c 'select 1'`, { PGSSLROOTCERT: pki.wrongCa });
    expect(wrongCa.code).not.toBe(0);
    expect(wrongCa.stderr).toMatch(/certificate verify failed/);
  });

  it('a CA that did not sign the server certificate: a TargetError naming the database and the CA, and nothing created', async () => {
    const db = withTls(entry, { mode: 'verify-full', ca: pki.wrongCa });
    const username = generateUsername('tls.wrongca@example.com');
    const err = await refusal(
      oneUser(pg(db)).newUser({
        grantId: grantId++,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level: target.levels.read,
      }),
    );
    expect(err.kind).toBe('permanent');
    expect(CHAIN_CODES).toContain(err.code);
    expect(err.message).toContain(`orders-pg: the server's certificate is not signed by the CA in ${pki.wrongCa}`);
    expect(await target.userExists(username)).toBe(false);
  });

  it('verify-full checks the host name; verify-ca does not; require does not verify at all', async () => {
    const byIp = (tls: TargetTls) => withTls(entry, tls, { host: '127.0.0.1' });
    const username = generateUsername('tls.host@example.com');
    const err = await refusal(
      oneUser(pg(byIp({ mode: 'verify-full', ca: pki.ca }))).newUser({
        grantId: grantId++,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level: target.levels.read,
      }),
    );
    expect(err).toMatchObject({ kind: 'permanent', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(err.message).toContain("orders-pg: the server's certificate does not name the host 127.0.0.1");
    expect(await target.userExists(username)).toBe(false);

    const viaCa = await issue(pg(byIp({ mode: 'verify-ca', ca: pki.ca })), entry, target.levels.read);
    expect(await target.userExists(viaCa.username)).toBe(true);
    const viaRequire = await issue(pg(byIp({ mode: 'require' })), entry, target.levels.read);
    expect(await target.userExists(viaRequire.username)).toBe(true);
    // verify-ca still verifies the chain.
    const err2 = await refusal(pg(byIp({ mode: 'verify-ca', ca: pki.wrongCa })).listManagedUsers());
    expect(CHAIN_CODES).toContain(err2.code);
  });

  it('revocation at expiry works over TLS: the handed-out command stops working', async () => {
    const engine = pg(entry);
    const c = await issue(engine, entry, target.levels.read, 3_000);
    const before = await sh(`${c.command} -X -A -t -c 'select 1'`, { PGSSLROOTCERT: pki.ca });
    expect(before.code, before.stderr).toBe(0);
    await waitFor('the grant to expire', () => Date.now() > c.expiresAt, { timeoutMs: 10_000 });
    // What the broker does at expiry (sweeper / revoke job): disable, then delete.
    expect((await oneUser(engine).disableUser(c.username)).existed).toBe(true);
    expect((await oneUser(engine).deleteUser(c.username)).outcome).toBe('dropped');
    expect(await target.userExists(c.username)).toBe(false);
    const after = await sh(`${c.command} -X -A -t -c 'select 1'`, { PGSSLROOTCERT: pki.ca });
    expect(after.code).not.toBe(0);
  });
});

describe('MariaDB that accepts TLS only (--require-secure-transport)', () => {
  let server: MariadbTlsServer;
  let entry: DatabaseEntry;
  let levels: Awaited<ReturnType<typeof setupTlsTarget>>['levels'];
  const maria = (db: DatabaseEntry) => {
    const e = createMysqlEngine(db, { logger: capturingLogger().logger });
    engines.push(e);
    return e;
  };
  const userExists = async (u: string) =>
    (await server.query("SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'", [u])).length > 0;
  /** The person's ~/.my.cnf naming the CA their client verifies against. */
  const myCnf = (dir: string, ca: string) => {
    writeFileSync(join(dir, '.my.cnf'), `[client]\nssl-ca=${ca}\n`, { mode: 0o600 });
    return { HOME: dir };
  };
  let goodHome: string;
  let wrongHome: string;

  beforeAll(async () => {
    server = await startMariadbTlsServer({ certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca });
    const t = await setupTlsTarget(server);
    levels = t.levels;
    entry = withTls(t.entry, { mode: 'verify-full', ca: pki.ca }, { name: 'orders-maria' });
    goodHome = mkdtempSync(join(home, 'good-'));
    wrongHome = mkdtempSync(join(home, 'wrong-'));
  }, 120_000);
  afterAll(async () => server?.stop(), 60_000);

  it('refuses a TCP login without TLS (so what follows proves TLS)', async () => {
    await expect(
      createConnection({
        host: server.host,
        port: server.port,
        user: entry.admin.user,
        password: entry.admin.password,
      }).then((c) => c.end()),
    ).rejects.toMatchObject({ errno: expect.any(Number) });
  });

  it('verify-full: grants over verified TLS; the handed-out mariadb command logs in over verified TLS', async () => {
    const engine = maria(entry);
    const c = await issue(engine, entry, levels.read);
    expect(c.command).toContain('--loose-ssl-verify-server-cert');
    expect(c.command).toContain('--protocol=TCP');
    const res = await sh(
      `${c.command} -N -B -e "select current_user(), variable_value <> '' from information_schema.session_status where variable_name = 'Ssl_cipher'"`,
      myCnf(goodHome, pki.ca),
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(`${c.username}@%\t1`);
    // What require and verify-ca hand out works with this client too.
    for (const mode of ['require', 'verify-ca'] as const) {
      const other = buildCredentials(withTls(entry, { mode, ca: pki.ca }), c.username, c.password, c.expiresAt);
      const r = await sh(`${other.command} -N -B -e 'select 1'`, myCnf(goodHome, pki.ca));
      expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
    }
    // The person's client does verify the server: with another CA it refuses.
    const wrong = await sh(`${c.command} -N -B -e 'select 1'`, myCnf(wrongHome, pki.wrongCa));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/certificate|SSL|TLS/i);
  });

  it('a CA that did not sign the server certificate: a TargetError naming the database and the CA, and nothing created', async () => {
    const db = withTls(entry, { mode: 'verify-full', ca: pki.wrongCa });
    const username = generateUsername('tls.wrongca@example.com');
    const err = await refusal(
      oneUser(maria(db)).newUser({
        grantId: grantId++,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level: levels.read,
      }),
    );
    expect(err.kind).toBe('permanent');
    expect(CHAIN_CODES).toContain(err.code);
    expect(err.message).toContain(`orders-maria: the server's certificate is not signed by the CA in ${pki.wrongCa}`);
    expect(await userExists(username)).toBe(false);
    expect(
      await server.query('SELECT 1 FROM dbaccess.managed_users WHERE `user` = ?', [username]).catch(() => []),
    ).toHaveLength(0);
  });

  it('verify-full to an IP address is refused before connecting (mysql2 would check the name localhost); verify-ca connects', async () => {
    const byIp = (tls: TargetTls) => withTls(entry, tls, { host: '127.0.0.1' });
    const username = generateUsername('tls.ip@example.com');
    const err = await refusal(
      oneUser(maria(byIp({ mode: 'verify-full', ca: pki.ca }))).newUser({
        grantId: grantId++,
        username,
        password: generatePassword(),
        expiresAt: Date.now() + 60_000,
        level: levels.read,
      }),
    );
    expect(err.kind).toBe('invalid');
    expect(err.message).toMatch(/^orders-maria: tls.mode verify-full needs the server's DNS name/);
    expect(await userExists(username)).toBe(false);
    const viaCa = await issue(maria(byIp({ mode: 'verify-ca', ca: pki.ca })), entry, levels.read);
    expect(await userExists(viaCa.username)).toBe(true);
  });

  it.skipIf(!OTHER_LOOPBACK_NAME)(
    `verify-full checks the host name: ${OTHER_LOOPBACK_NAME ?? '(no other loopback name here)'} is not in the certificate`,
    async () => {
      const username = generateUsername('tls.host@example.com');
      const db = withTls(entry, { mode: 'verify-full', ca: pki.ca }, { host: OTHER_LOOPBACK_NAME! });
      const err = await refusal(
        oneUser(maria(db)).newUser({
          grantId: grantId++,
          username,
          password: generatePassword(),
          expiresAt: Date.now() + 60_000,
          level: levels.read,
        }),
      );
      expect(err).toMatchObject({ kind: 'permanent', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      expect(err.message).toContain(
        `orders-maria: the server's certificate does not name the host ${OTHER_LOOPBACK_NAME}`,
      );
      expect(await userExists(username)).toBe(false);
    },
  );

  it('revocation at expiry works over TLS: the handed-out command stops working', async () => {
    const engine = maria(entry);
    const c = await issue(engine, entry, levels.read, 3_000);
    const env = myCnf(goodHome, pki.ca);
    const before = await sh(`${c.command} -N -B -e 'select 1'`, env);
    expect(before.code, before.stderr).toBe(0);
    await waitFor('the grant to expire', () => Date.now() > c.expiresAt, { timeoutMs: 10_000 });
    await oneUser(engine).disableUser(c.username);
    expect(['dropped', 'already_absent']).toContain((await oneUser(engine).deleteUser(c.username)).outcome);
    expect(await userExists(c.username)).toBe(false);
    const after = await sh(`${c.command} -N -B -e 'select 1'`, env);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/Access denied/);
  });
});
