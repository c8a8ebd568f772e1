/**
 * admin.passwordFile: the admin's password is read from the file at every new connection, so a secret rotated
 * while the broker runs (the server's password ALTERed, the mounted file rewritten) is used by the next new
 * connection of the same engine — no restart. Proven on a scram-sha-256 PostgreSQL cluster and on a MariaDB of the
 * test's own: with the server's password changed and the file not yet, a new connection is refused (so the file is
 * what is read); once the file holds the new password (with a trailing newline, as secret tooling writes it), the
 * same engine works again. Refusals never show either password.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { createMysqlEngine } from '../../src/targets/mysql/index.js';
import { createPostgresEngine, scramSha256Verifier } from '../../src/targets/postgres/index.js';
import { capturingLogger } from '../support/logs.js';
import { startMariadbTlsServer, setupTlsTarget, type MariadbTlsServer } from '../support/mariadb-tls-server.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { makeTestPki, type TestPki } from '../support/test-ca.js';
import { waitFor } from '../support/wait.js';
import { oneUser } from '../support/one-user.js';

let dir: string;
let grantId = 990_000 + Math.floor(Math.random() * 9_000);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'db-access-pwfile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The mounted secret: the password and a newline, as `kubectl create secret --from-file` of an echoed file holds it. */
const writeSecret = (file: string, password: string) => writeFileSync(file, `${password}\n`, { mode: 0o600 });

/** Resolves with the TargetError of the first call that fails with `kind`; a call that succeeds is a failure. */
async function failsWith(kind: string, call: () => Promise<unknown>): Promise<TargetError> {
  return waitFor(
    `a ${kind} refusal`,
    async () => {
      const err = await call().then(
        () => {
          throw new Error('the call succeeded with the old password in the file');
        },
        (e: unknown) => e,
      );
      return err instanceof TargetError && err.kind === kind ? err : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

describe('PostgreSQL: admin.passwordFile rotated while the broker runs', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let engine: DatabaseEngine;
  let file: string;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    file = join(dir, 'pg-admin-password');
    writeSecret(file, target.entry.admin.password!);
    const entry: DatabaseEntry = { ...target.entry, admin: { user: target.entry.admin.user, passwordFile: file } };
    engine = createPostgresEngine(entry, { logger: capturingLogger().logger, tuning: { retryBaseDelayMs: 10 } });
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
    await cluster?.stop();
  }, 60_000);

  const endAdminSessions = async () => {
    await cluster.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'jit_admin'");
    await waitFor('the admin sessions to end', async () => (await target.sessionsOf('jit_admin')) === 0);
  };

  it('logs in with the file, and after a rotation uses the new password at the next new connection', async () => {
    const username = generateUsername('pwfile.pg@example.com');
    await oneUser(engine).newUser({
      grantId: grantId++,
      username,
      password: generatePassword(),
      expiresAt: Date.now() + 600_000,
      level: target.levels.read,
    });
    expect(await target.userExists(username)).toBe(true);

    const rotated = generatePassword();
    await cluster.query(
      `ALTER ROLE ${escapeIdentifier('jit_admin')} PASSWORD ${escapeLiteral(scramSha256Verifier(rotated))}`,
    );
    await endAdminSessions();
    // The file still holds the old password: a new connection is refused (28P01), so the file is what is read.
    const refused = await failsWith('permission', () => engine.listManagedUsers());
    expect(refused.code).toBe('28P01');
    expect(refused.message).not.toContain(rotated);
    expect(refused.message).not.toContain(target.entry.admin.password!);

    writeSecret(file, rotated);
    const users = await engine.listManagedUsers();
    expect(users.map((u) => u.username)).toContain(username);
    expect(await target.sessionsOf('jit_admin')).toBeGreaterThan(0);
  });
});

describe('MariaDB: admin.passwordFile rotated while the broker runs', () => {
  let pki: TestPki;
  let server: MariadbTlsServer;
  let engine: DatabaseEngine;
  let file: string;
  let oldPassword: string;
  let level: DatabaseEntry['levels'] extends ReadonlyMap<string, infer L> ? L : never;

  beforeAll(async () => {
    pki = makeTestPki(['localhost']);
    server = await startMariadbTlsServer({ certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca });
    const t = await setupTlsTarget(server);
    oldPassword = t.adminPassword;
    level = t.levels.read;
    file = join(dir, 'mariadb-admin-password');
    writeSecret(file, oldPassword);
    const entry: DatabaseEntry = {
      ...t.entry,
      admin: { user: 'jit_admin', passwordFile: file },
      tls: { mode: 'verify-full', ca: pki.ca },
    };
    engine = createMysqlEngine(entry, { logger: capturingLogger().logger });
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
    await server?.stop();
    pki?.remove();
  }, 60_000);

  const adminSessions = async () =>
    server.query("SELECT id FROM information_schema.processlist WHERE user = 'jit_admin'");
  const endAdminSessions = async () => {
    for (const { id } of await adminSessions()) await server.query(`KILL ${Number(id)}`).catch(() => undefined);
    await waitFor('the admin sessions to end', async () => (await adminSessions()).length === 0);
  };

  it('logs in with the file, and after a rotation uses the new password at the next new connection', async () => {
    const username = generateUsername('pwfile.maria@example.com');
    await oneUser(engine).newUser({
      grantId: grantId++,
      username,
      password: generatePassword(),
      expiresAt: Date.now() + 600_000,
      level,
    });

    const rotated = generatePassword();
    await server.query("ALTER USER 'jit_admin'@'%' IDENTIFIED BY ?", [rotated]);
    await endAdminSessions();
    const refused = await failsWith('permission', () => engine.listManagedUsers());
    expect(refused.code).toBe('1045');
    expect(refused.message).not.toContain(rotated);
    expect(refused.message).not.toContain(oldPassword);

    writeSecret(file, rotated);
    const users = await waitFor(
      'a login with the rotated password',
      async () => engine.listManagedUsers().catch(() => undefined),
      { timeoutMs: 10_000 },
    );
    expect(users.map((u) => u.username)).toContain(username);
    expect((await adminSessions()).length).toBeGreaterThan(0);
  });
});
