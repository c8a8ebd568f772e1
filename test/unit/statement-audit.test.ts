/**
 * auditStatements without a server: the catalog key, MySQL 8's refusal (at check and before any statement of a
 * provisioning), the server_audit_incl_users list arithmetic, and the admin setup lines per engine and version.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseCatalog } from '../../src/config/catalog.js';
import type { AccessLevel } from '../../src/core/catalog.js';
import { TargetError } from '../../src/core/errors.js';
import { statementAuditChecks } from '../../src/targets/mysql/checks.js';
import { accessStatements } from '../../src/targets/mysql/engine.js';
import { mysqlAdminSetupSql } from '../../src/targets/mysql/index.js';
import type { Queryable } from '../../src/targets/mysql/session.js';
import {
  AUDIT_LIST_MAX_BYTES,
  auditListValue,
  parseAuditList,
  withoutUsers,
  withUsers,
} from '../../src/targets/mysql/statement-audit.js';
import { postgresAdminSetupSql } from '../../src/targets/postgres/index.js';
import { auditStatementsSql } from '../../src/targets/postgres/sql.js';

const yaml = (audit: string) => `
databases:
  - name: orders
    engine: postgres
    host: db.internal
    database: orders
    admin: { user: jit_admin, password: x }
    levels:
      read: { roles: [orders_read] }
      loud: { roles: [orders_read], auditStatements: ${audit} }
`;

const level = (auditStatements: boolean): AccessLevel => ({
  name: 'loud',
  roles: ['orders_read'],
  grants: [],
  guardRails: { connectionLimit: 5 },
  ...(auditStatements && { auditStatements }),
});

/** A pool that fails the test if anything is sent: MySQL's refusal needs no query. */
const noServer: Queryable = {
  query: (() => {
    throw new Error('no statement may be sent');
  }) as unknown as Queryable['query'],
};

describe('auditStatements', () => {
  it('is a per-level boolean in the catalog, off by default', () => {
    const db = parseCatalog(yaml('true'), {}).databases.get('orders')!;
    expect(db.levels.get('loud')!.auditStatements).toBe(true);
    expect(db.levels.get('read')!.auditStatements).toBeUndefined();
    expect(
      parseCatalog(yaml('false'), {}).databases.get('orders')!.levels.get('loud')!.auditStatements,
    ).toBeUndefined();
    expect(() => parseCatalog(yaml('"yes"'), {})).toThrow(ConfigError);
  });

  it('MySQL 8: check fails with the reason and what to do, without asking the server anything', async () => {
    const checks = await statementAuditChecks(noServer, [level(true)], 'mysql', true, "'jit_admin'@'%'");
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: 'statement logging', ok: false, severity: 'error' });
    expect(checks[0]!.detail).toContain('level loud asks for auditStatements');
    expect(checks[0]!.detail).toContain('MySQL 8 Community has no per-account statement log');
    expect(checks[0]!.detail).toContain('Remove auditStatements from that level');
    expect(await statementAuditChecks(noServer, [level(false)], 'mysql', true, "'a'@'%'")).toEqual([]);
  });

  it('MySQL 8: provisioning refuses the level before any statement (invalid: retrying cannot help); MariaDB plans it', () => {
    let err: unknown;
    try {
      accessStatements('mysql', 'db_access', 'jit_ana_x1', level(true));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).kind).toBe('invalid');
    expect((err as TargetError).message).toContain('MySQL 8 Community has no per-account statement log');
    expect(() => accessStatements('mysql', 'db_access', 'jit_ana_x1', level(false))).not.toThrow();
    expect(() => accessStatements('mariadb', 'db_access', 'jit_ana_x1', level(true))).not.toThrow();
  });

  it('server_audit_incl_users: entries parsed as the plugin reads them; others kept in order; empty stays empty', () => {
    expect(parseAuditList(' dba , ,tool,')).toEqual(['dba', 'tool']);
    expect(parseAuditList(null)).toEqual([]);
    expect(withUsers(['dba', 'tool'], ['jit_a', 'jit_b', 'jit_a'])).toEqual(['dba', 'tool', 'jit_a', 'jit_b']);
    expect(withUsers(['dba', 'jit_a'], ['jit_a'])).toEqual(['dba', 'jit_a']);
    expect(withUsers([], ['jit_a'])).toBeUndefined();
    expect(withoutUsers(['dba', 'jit_a', 'tool', 'jit_b'], ['jit_a', 'jit_b', 'jit_c'])).toEqual(['dba', 'tool']);
    expect(auditListValue(['dba', 'jit_a'])).toBe('dba,jit_a');
    const full = Array.from({ length: 40 }, (_, i) => `jit_user_${String(i).padStart(16, '0')}`);
    expect(full.join(',').length).toBeGreaterThan(AUDIT_LIST_MAX_BYTES);
    expect(() => auditListValue(full)).toThrow(/would exceed the plugin's 1023 bytes/);
  });

  it('admin setup: PostgreSQL 15+ grants SET on log_statement, 14 explains, unknown comments; MariaDB grants SUPER, MySQL nothing', () => {
    const pg = (v?: number) =>
      postgresAdminSetupSql({
        adminUser: 'jit_admin',
        database: 'orders',
        roles: [],
        auditStatements: true,
        ...(v !== undefined && { serverVersionNum: v }),
      });
    expect(pg(150004)).toContain('GRANT SET ON PARAMETER log_statement TO "jit_admin"');
    expect(pg(180000)).toContain('GRANT SET ON PARAMETER log_statement TO "jit_admin"');
    expect(pg(140010).some((l) => l.startsWith('GRANT SET ON PARAMETER'))).toBe(false);
    expect(pg(140010).join('\n')).toContain('before PostgreSQL 15 only a superuser may set log_statement');
    expect(pg()).toContain('-- PostgreSQL 15 and later only: GRANT SET ON PARAMETER log_statement TO "jit_admin";');
    expect(postgresAdminSetupSql({ adminUser: 'jit_admin', database: 'orders', roles: [] }).join('\n')).not.toContain(
      'log_statement',
    );
    expect(auditStatementsSql('jit_ana_x1')).toBe(`ALTER ROLE "jit_ana_x1" SET log_statement = 'all'`);

    const my = (flavour: 'mysql' | 'mariadb', auditStatements: boolean) =>
      mysqlAdminSetupSql({
        adminUser: 'jit_admin',
        adminHost: '%',
        database: 'orders',
        roles: [],
        brokerSchema: 'db_access',
        flavour,
        auditStatements,
      });
    expect(my('mariadb', true)).toContain("GRANT SUPER ON *.* TO 'jit_admin'@'%'");
    expect(my('mariadb', false).join('\n')).not.toContain('SUPER');
    expect(my('mysql', true).join('\n')).not.toContain('SUPER');
  });
});
