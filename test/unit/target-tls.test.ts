/**
 * src/targets/tls.ts and the MySQL adapter's refusals: what each catalog tls.mode asks of each driver, how a TLS
 * failure is reported (by its code), `check`'s warning for plaintext over a network, and that a MySQL/MariaDB
 * password never leaves for a non-loopback server without TLS (refused before any connection is attempted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Catalog, DatabaseEntry, TargetTls } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { generatePassword } from '../../src/core/identifiers.js';
import { createMysqlEngine } from '../../src/targets/mysql/index.js';
import { verifyFullByIpProblem } from '../../src/targets/mysql/tls-diagnosis.js';
import {
  certificateError,
  isLoopbackHost,
  mysqlSslOptions,
  pgSslOptions,
  plaintextPasswordRefusal,
  targetTlsWarnings,
  tlsPlan,
  tlsWarning,
} from '../../src/targets/tls.js';
import { capturingLogger } from '../support/logs.js';
import { oneUser } from '../support/one-user.js';

const dir = mkdtempSync(join(tmpdir(), 'db-access-tls-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CA_FILE = join(dir, 'ca.pem');
writeFileSync(CA_FILE, '-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n');

const read = { name: 'read', roles: ['app_read'], grants: [], guardRails: { connectionLimit: 5 } };

function db(host: string, tls?: TargetTls, over: Partial<DatabaseEntry> = {}): DatabaseEntry {
  return {
    name: 'orders-prod',
    engine: 'mysql',
    host,
    port: 3306,
    database: 'orders',
    admin: { user: 'jit_admin', password: 'admin-secret-pw' },
    ...(tls && { tls }),
    levels: new Map([['read', read]]),
    maxDuration: 3_600_000,
    brokerSchema: 'db_access',
    delivery: 'reveal',
    approval: { required: 1, timeoutMs: 60_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
    ...over,
  };
}

describe('loopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['db.internal', false],
    ['localhost.example.com', false],
    ['2001:db8::1', false],
  ])('%s → %s', (host, loopback) => expect(isLoopbackHost(host)).toBe(loopback));
});

describe('what each mode asks of the drivers', () => {
  it('absent and disable: no TLS at all', () => {
    for (const tls of [undefined, { mode: 'disable' as const }]) {
      expect(pgSslOptions(tlsPlan(db('h', tls)))).toBe(false);
      expect(mysqlSslOptions(tlsPlan(db('h', tls)))).toBeUndefined();
    }
  });
  it('require: encrypted, nothing verified', () => {
    expect(pgSslOptions(tlsPlan(db('h', { mode: 'require' })))).toEqual({ rejectUnauthorized: false });
    expect(mysqlSslOptions(tlsPlan(db('h', { mode: 'require' })))).toEqual({
      rejectUnauthorized: false,
      verifyIdentity: false,
    });
  });
  it('verify-ca: the chain against the CA bundle read from the file; the host name is not checked', () => {
    const plan = tlsPlan(db('h', { mode: 'verify-ca', ca: CA_FILE }));
    const pg = pgSslOptions(plan) as {
      rejectUnauthorized: boolean;
      ca: string;
      checkServerIdentity: (h: string, c: unknown) => unknown;
    };
    expect(pg).toMatchObject({ rejectUnauthorized: true, ca: expect.stringContaining('not a real one') });
    expect(pg.checkServerIdentity('other.host', {})).toBeUndefined();
    expect(mysqlSslOptions(plan)).toEqual({
      rejectUnauthorized: true,
      verifyIdentity: false,
      ca: expect.stringContaining('not a real one'),
    });
  });
  it("verify-full: chain and host name (the driver's own host-name check stays on); no ca = the system's roots", () => {
    const pg = pgSslOptions(tlsPlan(db('h', { mode: 'verify-full', ca: CA_FILE }))) as Record<string, unknown>;
    expect(pg).toMatchObject({ rejectUnauthorized: true });
    expect(pg).not.toHaveProperty('checkServerIdentity');
    expect(mysqlSslOptions(tlsPlan(db('h', { mode: 'verify-full' })))).toEqual({
      rejectUnauthorized: true,
      verifyIdentity: true,
    });
  });
  it('an unreadable CA bundle is a TargetError naming the database and the file, raised at connection time', () => {
    const plan = tlsPlan(db('h', { mode: 'verify-full', ca: join(dir, 'missing.pem') }));
    expect(plan.problem).toBeInstanceOf(TargetError);
    expect(plan.problem).toMatchObject({ kind: 'invalid', code: 'ENOENT' });
    expect(plan.problem!.message).toBe(
      `orders-prod: cannot read the TLS CA bundle ${join(dir, 'missing.pem')} (ENOENT)`,
    );
  });
  it('MySQL verify-full to an IP address is refused (mysql2 would check the name localhost); by name it is not', () => {
    expect(verifyFullByIpProblem(db('10.0.0.5'), tlsPlan(db('10.0.0.5', { mode: 'verify-full' })))?.kind).toBe(
      'invalid',
    );
    expect(
      verifyFullByIpProblem(db('db.internal'), tlsPlan(db('db.internal', { mode: 'verify-full' }))),
    ).toBeUndefined();
    expect(verifyFullByIpProblem(db('10.0.0.5'), tlsPlan(db('10.0.0.5', { mode: 'verify-ca' })))).toBeUndefined();
  });
});

describe('a certificate that does not verify', () => {
  const target = db('db.internal', { mode: 'verify-full', ca: '/etc/db-access/ca.pem' });
  const tlsError = (code: string) => Object.assign(new Error('ignored text'), { code });
  it.each([
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      "orders-prod: the server's certificate is not signed by the CA in /etc/db-access/ca.pem (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    ],
    [
      'SELF_SIGNED_CERT_IN_CHAIN',
      "orders-prod: the server's certificate is not signed by the CA in /etc/db-access/ca.pem (SELF_SIGNED_CERT_IN_CHAIN)",
    ],
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      "orders-prod: the server's certificate is not signed by the CA in /etc/db-access/ca.pem (DEPTH_ZERO_SELF_SIGNED_CERT)",
    ],
    ['CERT_HAS_EXPIRED', "orders-prod: the server's certificate is expired or not yet valid (CERT_HAS_EXPIRED)"],
    [
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "orders-prod: the server's certificate does not name the host db.internal (ERR_TLS_CERT_ALTNAME_INVALID)",
    ],
    [
      'HANDSHAKE_NO_SSL_SUPPORT',
      'orders-prod: the server does not offer TLS but tls.mode is verify-full (HANDSHAKE_NO_SSL_SUPPORT)',
    ],
  ])('%s → permanent, by code', (code, message) => {
    const err = certificateError(tlsError(code), target);
    expect(err).toBeInstanceOf(TargetError);
    expect({ kind: err!.kind, code: err!.code, message: err!.message }).toEqual({ kind: 'permanent', code, message });
  });
  it("names the system's roots when there is no ca; other errors are not TLS errors", () => {
    expect(
      certificateError(tlsError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), db('h', { mode: 'verify-full' }))!.message,
    ).toContain("not signed by the system's trusted CAs");
    expect(certificateError(tlsError('ECONNREFUSED'), target)).toBeUndefined();
    expect(certificateError(Object.assign(new Error('x'), { code: '28P01' }), target)).toBeUndefined();
    expect(certificateError(new TargetError('retryable', 'x', 'CERT_HAS_EXPIRED'), target)).toBeUndefined();
  });
});

describe('db-access check warns about plaintext over a network', () => {
  it('warns for a non-loopback target without tls or with disable; not for loopback or any TLS mode', () => {
    const entries = [
      db('orders-db.internal', undefined, { name: 'no-tls' }),
      db('10.1.2.3', { mode: 'disable' }, { name: 'disabled' }),
      db('127.0.0.1', undefined, { name: 'loopback' }),
      db('::1', { mode: 'disable' }, { name: 'loopback-v6' }),
      db('orders-db.internal', { mode: 'require' }, { name: 'required' }),
      db('orders-db.internal', { mode: 'verify-full' }, { name: 'verified' }),
    ];
    const catalog: Catalog = { databases: new Map(entries.map((e) => [e.name, e])) };
    const warnings = targetTlsWarnings(catalog);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^no-tls: has no tls setting but orders-db.internal is not a loopback address/);
    expect(warnings[1]).toMatch(/^disabled: has tls.mode disable but 10.1.2.3 is not a loopback address/);
    expect(tlsWarning(entries[2]!)).toBeUndefined();
  });
});

describe('MySQL/MariaDB: a plaintext password never crosses a network without TLS', () => {
  // 192.0.2.1 is TEST-NET-1 (never routed): were a connection attempted, the call would end in a timeout after
  // seconds with a retryable error, not at once with 'invalid'.
  const remote = db('192.0.2.1');
  const request = () => ({
    grantId: 1,
    username: 'jit_alice_x7k2',
    password: generatePassword(),
    expiresAt: Date.now() + 60_000,
    level: read,
  });

  it('the decision: refused only for a non-loopback host without TLS', () => {
    expect(plaintextPasswordRefusal(remote)?.message).toBe(
      'orders-prod: refusing to send a new password to 192.0.2.1 over an unencrypted connection; configure tls (mode require, verify-ca or verify-full) for this database in the catalog',
    );
    expect(plaintextPasswordRefusal(db('192.0.2.1', { mode: 'disable' }))?.kind).toBe('invalid');
    expect(plaintextPasswordRefusal(db('127.0.0.1'))).toBeUndefined();
    expect(plaintextPasswordRefusal(db('192.0.2.1', { mode: 'require' }))).toBeUndefined();
  });

  it('newUser, newUsers and a password rotation are refused before connecting', async () => {
    const engine = createMysqlEngine(remote, { logger: capturingLogger().logger });
    try {
      const started = Date.now();
      await expect(oneUser(engine).newUser(request())).rejects.toMatchObject({ name: 'TargetError', kind: 'invalid' });
      const batch = await engine.newUsers([request()]);
      expect(batch.get('jit_alice_x7k2')).toMatchObject({ name: 'TargetError', kind: 'invalid' });
      await expect(
        engine.updateUser({ grantId: 1, username: 'jit_alice_x7k2', newPassword: generatePassword() }),
      ).rejects.toMatchObject({ kind: 'invalid' });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await engine.close();
    }
  });
});
