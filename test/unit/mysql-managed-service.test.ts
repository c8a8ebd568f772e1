/**
 * MySQL/MariaDB managed-service detection and its check lines. MySQL 8 and the managed services cannot run here, so
 * the fact reader is fed the answers each service gives to its three queries (a fake pool that answers by statement),
 * and the pure check function is asserted on those facts: the service named with its evidence, the RDS kill-privilege
 * caveat by version, and the TLS advice.
 */
import { describe, expect, it } from 'vitest';
import type { TargetTls } from '../../src/core/catalog.js';
import type { Queryable } from '../../src/targets/mysql/session.js';
import {
  detectMysqlService,
  mysqlServiceChecks,
  readMysqlServiceFacts,
  type MysqlServiceFacts,
} from '../../src/targets/mysql/managed-service.js';
import { parseServerVersion } from '../../src/targets/mysql/server-info.js';

interface Answers {
  basedir?: string;
  variables?: Record<string, string>;
  accounts?: string[];
}

/** A pool answering the reader's statements; anything else (or a failing answer) throws like a server would. */
function fakePool(a: Answers, seen: string[] = []): Queryable {
  return {
    query: (async (sql: string) => {
      seen.push(sql);
      if (sql.startsWith('SELECT @@GLOBAL.basedir')) return [[{ basedir: a.basedir ?? '/usr/' }], []];
      if (sql.startsWith('SHOW GLOBAL VARIABLES WHERE Variable_name IN')) {
        const asked = [...sql.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
        return [
          Object.entries(a.variables ?? {})
            .filter(([k]) => asked.includes(k))
            .map(([k, v]) => ({ Variable_name: k, Value: v })),
          [],
        ];
      }
      if (/^SELECT DISTINCT User FROM mysql\.(user|global_priv) WHERE User IN/.test(sql)) {
        if (a.accounts === undefined) throw Object.assign(new Error('SELECT command denied'), { errno: 1142 });
        const asked = [...sql.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
        return [a.accounts.filter((u) => asked.includes(u)).map((User) => ({ User })), []];
      }
      throw new Error(`unexpected statement: ${sql}`);
    }) as unknown as Queryable['query'],
  };
}

const mysql8036 = parseServerVersion('8.0.36');
const mysql8035 = parseServerVersion('8.0.35');
const mariadb = parseServerVersion('5.5.5-10.11.8-MariaDB');
const verified: TargetTls = { mode: 'verify-full', ca: '/etc/db-access/ca.pem' };

const checkNamed = (checks: ReturnType<typeof mysqlServiceChecks>, name: string) => checks.find((c) => c.name === name);

describe('MySQL managed-service detection', () => {
  it('reads basedir, the service variables and the service accounts (MariaDB: mysql.global_priv)', async () => {
    const seen: string[] = [];
    const f = await readMysqlServiceFacts(
      fakePool(
        {
          basedir: '/rdsdbbin/mysql-8.0.36.R1/',
          variables: { require_secure_transport: 'ON', version: 'x' },
          accounts: ['rdsadmin'],
        },
        seen,
      ),
      'mariadb',
      true,
    );
    expect(f).toEqual({
      basedir: '/rdsdbbin/mysql-8.0.36.R1/',
      variables: { require_secure_transport: 'ON' },
      accounts: ['rdsadmin'],
    });
    expect(seen.some((s) => s.includes('mysql.global_priv'))).toBe(true);
  });

  it('a failed account lookup is "no accounts", and without the lookup privilege it is not tried', async () => {
    expect((await readMysqlServiceFacts(fakePool({}), 'mysql', true)).accounts).toEqual([]);
    const seen: string[] = [];
    await readMysqlServiceFacts(fakePool({ accounts: ['rdsadmin'] }, seen), 'mysql', false);
    expect(seen.some((s) => s.includes('mysql.user'))).toBe(false);
  });

  it('self-managed: no service, no check lines', async () => {
    const f = await readMysqlServiceFacts(
      fakePool({ basedir: '/usr/', variables: { require_secure_transport: 'OFF' }, accounts: [] }),
      'mysql',
      true,
    );
    expect(detectMysqlService(f)).toBeUndefined();
    expect(mysqlServiceChecks(f, { server: mysql8036, tls: undefined, canKill: true })).toEqual([]);
  });

  it('RDS for MySQL 8.0.36+: named with its evidence; no CONNECTION_ADMIN can be granted, so rds_kill is named', async () => {
    const f = await readMysqlServiceFacts(
      fakePool({
        basedir: '/rdsdbbin/mysql-8.0.36.R1/',
        variables: { require_secure_transport: 'ON' },
        accounts: ['rdsadmin'],
      }),
      'mysql',
      true,
    );
    expect(detectMysqlService(f)).toEqual({
      service: 'rds',
      evidence: ['basedir /rdsdbbin/mysql-8.0.36.R1/', 'account rdsadmin'],
    });
    const checks = mysqlServiceChecks(f, { server: mysql8036, tls: undefined, canKill: false });
    expect(checkNamed(checks, 'managed service')).toMatchObject({ ok: true, severity: 'warning' });
    expect(checkNamed(checks, 'managed service')!.detail).toMatch(
      /^Amazon RDS for MySQL \(recognised by basedir \/rdsdbbin\/.*, account rdsadmin\)\. The master user has no SUPER/,
    );
    const kill = checkNamed(checks, 'kill sessions on RDS')!;
    expect(kill).toMatchObject({ ok: false, severity: 'warning' });
    expect(kill.detail).toContain('does not let anyone grant CONNECTION_ADMIN (allowed up to 8.0.35)');
    expect(kill.detail).toContain('mysql.rds_kill');
    const tls = checkNamed(checks, 'service tls')!;
    expect(tls).toMatchObject({ ok: false, severity: 'warning' });
    expect(tls.detail).toContain('require_secure_transport is ON');
    expect(tls.detail).toContain(
      'set tls: { mode: verify-full, ca: <the AWS RDS CA bundle for the region (global-bundle.pem)> }',
    );
  });

  it('RDS for MySQL 8.0.35 says CONNECTION_ADMIN can still be granted; an admin that can kill gets no kill caveat', () => {
    const f: MysqlServiceFacts = { basedir: '/rdsdbbin/mysql-8.0.35.R2/', variables: {}, accounts: [] };
    expect(
      checkNamed(mysqlServiceChecks(f, { server: mysql8035, tls: verified, canKill: false }), 'kill sessions on RDS')!
        .detail,
    ).toContain('up to 8.0.35: CONNECTION_ADMIN');
    const checks = mysqlServiceChecks(f, { server: mysql8035, tls: verified, canKill: true });
    expect(checkNamed(checks, 'kill sessions on RDS')).toBeUndefined();
    expect(checkNamed(checks, 'service tls')).toMatchObject({ ok: true });
  });

  it('RDS for MariaDB is named as such', () => {
    const f: MysqlServiceFacts = { basedir: '/rdsdbbin/mariadb-10.11.8.R1/', variables: {}, accounts: ['rdsadmin'] };
    expect(
      checkNamed(mysqlServiceChecks(f, { server: mariadb, tls: undefined, canKill: true }), 'managed service')!.detail,
    ).toMatch(/^Amazon RDS for MariaDB/);
  });

  it('Aurora MySQL: aurora_version wins over the RDS signs; the writer endpoint is named', () => {
    const f: MysqlServiceFacts = {
      basedir: '/rdsdbbin/oscar/',
      variables: { aurora_version: '3.05.2' },
      accounts: ['rdsadmin'],
    };
    expect(detectMysqlService(f)?.service).toBe('aurora');
    const detail = checkNamed(
      mysqlServiceChecks(f, { server: mysql8036, tls: undefined, canKill: true }),
      'managed service',
    )!.detail;
    expect(detail).toMatch(
      /^Amazon Aurora MySQL \(recognised by aurora_version 3\.05\.2, basedir \/rdsdbbin\/oscar\/, account rdsadmin\)/,
    );
    expect(detail).toContain('cluster (writer) endpoint');
  });

  it('Cloud SQL: the cloudsqlsuperuser role or cloudsql_ flag; verify-ca with the instance CA is accepted', () => {
    const f: MysqlServiceFacts = {
      basedir: '/usr/',
      variables: { cloudsql_iam_authentication: 'off' },
      accounts: ['cloudsqlsuperuser'],
    };
    expect(detectMysqlService(f)).toEqual({
      service: 'cloudsql',
      evidence: ['role cloudsqlsuperuser', 'flag cloudsql_iam_authentication'],
    });
    const checks = mysqlServiceChecks(f, {
      server: mysql8036,
      tls: { mode: 'verify-ca', ca: '/etc/server-ca.pem' },
      canKill: true,
    });
    expect(checkNamed(checks, 'managed service')!.detail).toContain('Cloud SQL grants no SUPER');
    expect(checkNamed(checks, 'service tls')).toMatchObject({ ok: true });
    expect(checkNamed(checks, 'kill sessions on RDS')).toBeUndefined();
  });

  it('Azure: azure_superuser or aad_auth_only; verify-ca is not enough there', () => {
    const f: MysqlServiceFacts = {
      basedir: '/usr/',
      variables: { aad_auth_only: 'OFF', require_secure_transport: 'ON' },
      accounts: ['azure_superuser'],
    };
    expect(detectMysqlService(f)).toEqual({
      service: 'azure',
      evidence: ['account azure_superuser', 'parameter aad_auth_only'],
    });
    const checks = mysqlServiceChecks(f, {
      server: mysql8036,
      tls: { mode: 'verify-ca', ca: '/x.pem' },
      canKill: true,
    });
    expect(checkNamed(checks, 'managed service')!.detail).toMatch(
      /^Azure Database for MySQL .*azure_superuser belongs to the service/,
    );
    expect(checkNamed(checks, 'service tls')).toMatchObject({ ok: false });
    expect(checkNamed(checks, 'service tls')!.detail).toContain('tls.mode verify-ca');
  });
});
