/**
 * src/targets/admin-password.ts: admin.passwordFile is read as it is now (one trailing newline stripped), an
 * unreadable file is a TargetError naming the database and the file, and the secrets scrubbed from target errors
 * are the file's current content — on both engines' error paths.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../src/core/errors.js';
import { adminPassword, adminSecrets } from '../../src/targets/admin-password.js';
import { toTargetError as mysqlTargetError } from '../../src/targets/mysql/errors.js';
import { Connections, DEFAULT_TUNING } from '../../src/targets/postgres/connection.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { capturingLogger } from '../support/logs.js';

const dir = mkdtempSync(join(tmpdir(), 'db-access-adminpw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'password');
const target = (admin: DatabaseEntry['admin']) => ({ name: 'orders-prod', admin });

describe('admin.passwordFile', () => {
  it.each([
    ['s3cret-one', 's3cret-one'],
    ['s3cret-two\n', 's3cret-two'],
    ['s3cret-three\r\n', 's3cret-three'],
    ['two-newlines\n\n', 'two-newlines\n'],
    [' spaced \n', ' spaced '],
  ])('%j is read as %j', (content, password) => {
    writeFileSync(file, content);
    expect(adminPassword(target({ user: 'a', passwordFile: file }))).toBe(password);
  });

  it('is read again on every call (a rotated file is picked up)', () => {
    const db = target({ user: 'a', passwordFile: file });
    writeFileSync(file, 'before\n');
    expect(adminPassword(db)).toBe('before');
    writeFileSync(file, 'after\n');
    expect(adminPassword(db)).toBe('after');
    expect(adminSecrets(db)).toEqual(['after']);
  });

  it('an unreadable file is a TargetError naming the database and the file, never a content', () => {
    const missing = join(dir, 'missing');
    let err: unknown;
    try {
      adminPassword(target({ user: 'a', passwordFile: missing }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TargetError);
    expect(err).toMatchObject({
      kind: 'invalid',
      code: 'ENOENT',
      message: `orders-prod: cannot read admin.passwordFile ${missing} (ENOENT)`,
    });
    expect(adminSecrets(target({ user: 'a', passwordFile: missing }))).toEqual([]);
  });

  it('admin.password is used as given', () => {
    expect(adminPassword(target({ user: 'a', password: 'inline-pw' }))).toBe('inline-pw');
    expect(adminSecrets(target({ user: 'a', password: 'inline-pw' }))).toEqual(['inline-pw']);
  });
});

describe('PostgreSQL connections', () => {
  it('an unreadable admin.passwordFile fails the connection with the named TargetError, before any network traffic', async () => {
    const missing = join(dir, 'gone');
    const db = {
      name: 'orders-prod',
      engine: 'postgres',
      host: '192.0.2.1',
      port: 5432,
      database: 'x',
      admin: { user: 'a', passwordFile: missing },
    } as unknown as DatabaseEntry;
    const conn = new Connections(db, capturingLogger().logger, DEFAULT_TUNING);
    try {
      await expect(conn.withClient(async () => 1)).rejects.toMatchObject({
        name: 'TargetError',
        kind: 'invalid',
        message: `orders-prod: cannot read admin.passwordFile ${missing} (ENOENT)`,
      });
    } finally {
      await conn.close();
    }
  });
});

describe("the file's current content is scrubbed from target errors", () => {
  it('PostgreSQL (Connections.secrets feeds every toTargetError) and MySQL', async () => {
    writeFileSync(file, 'Rotated-Admin-Pw-1\n');
    const db = {
      name: 'orders-prod',
      engine: 'postgres',
      host: '127.0.0.1',
      port: 1,
      database: 'x',
      admin: { user: 'a', passwordFile: file },
    } as unknown as DatabaseEntry;
    const conn = new Connections(db, capturingLogger().logger, DEFAULT_TUNING);
    try {
      expect(conn.secrets()).toContain('Rotated-Admin-Pw-1');
      writeFileSync(file, 'Rotated-Admin-Pw-2\n');
      const secrets = conn.secrets();
      expect(secrets).toContain('Rotated-Admin-Pw-2');
      const leaky = new Error("near 'Rotated-Admin-Pw-2' at line 1");
      expect(mysqlTargetError(leaky, 'mariadb', adminSecrets(db)).message).toBe("near '[REDACTED]' at line 1");
    } finally {
      await conn.close();
    }
  });
});
