/**
 * The PostgreSQL managed-service check lines for what a local cluster cannot show (the integration test dresses a
 * real cluster for detection): a catalog that verifies the server passes the TLS line, Azure's
 * require_secure_transport (not settable on a plain server: it has no dot), Cloud SQL's verify-ca.
 */
import { describe, expect, it } from 'vitest';
import { pgServiceChecks, type PgServiceFacts } from '../../src/targets/postgres/managed-service.js';

const none: PgServiceFacts = {
  roles: { rds_superuser: false, cloudsqlsuperuser: false, azure_pg_admin: false },
  memberOf: { rds_superuser: false, cloudsqlsuperuser: false, azure_pg_admin: false },
  auroraVersionFunction: false,
  settings: {
    'rds.extensions': null,
    'rds.force_ssl': null,
    'cloudsql.iam_authentication': null,
    'azure.extensions': null,
    require_secure_transport: null,
  },
};
const tlsLine = (f: PgServiceFacts, tls?: { mode: 'require' | 'verify-ca' | 'verify-full'; ca?: string }) =>
  pgServiceChecks(f, { adminUser: 'jit_admin', tls }).find((c) => c.name === 'service tls');

describe('PostgreSQL managed-service TLS line', () => {
  const rds = {
    ...none,
    roles: { ...none.roles, rds_superuser: true },
    settings: { ...none.settings, 'rds.force_ssl': '1' },
  };

  it('RDS: verify-full with a CA passes; require or no CA does not', () => {
    expect(tlsLine(rds, { mode: 'verify-full', ca: '/etc/rds/global-bundle.pem' })).toMatchObject({ ok: true });
    expect(tlsLine(rds, { mode: 'verify-full', ca: '/etc/rds/global-bundle.pem' })!.detail).toContain(
      'CA /etc/rds/global-bundle.pem',
    );
    expect(tlsLine(rds, { mode: 'require' })).toMatchObject({ ok: false });
    expect(tlsLine(rds, { mode: 'verify-full' })!.detail).toContain('tls.mode verify-full without tls.ca');
  });

  it('Azure: require_secure_transport on means TLS is required', () => {
    const azure = {
      ...none,
      roles: { ...none.roles, azure_pg_admin: true },
      settings: { ...none.settings, require_secure_transport: 'on' },
    };
    expect(tlsLine(azure)!.detail).toMatch(
      /^require_secure_transport is on: the server refuses connections without TLS/,
    );
    expect(tlsLine({ ...azure, settings: { ...azure.settings, require_secure_transport: 'off' } })!.detail).toMatch(
      /^the server does not require TLS/,
    );
  });

  it('Cloud SQL: verify-ca with the instance CA passes (its certificate does not name the IP)', () => {
    const cloudsql = { ...none, roles: { ...none.roles, cloudsqlsuperuser: true } };
    expect(tlsLine(cloudsql, { mode: 'verify-ca', ca: '/etc/server-ca.pem' })).toMatchObject({ ok: true });
    expect(tlsLine(rds, { mode: 'verify-ca', ca: '/etc/rds.pem' })).toMatchObject({ ok: false });
  });

  it('a self-managed server gets no lines', () => {
    expect(pgServiceChecks(none, { adminUser: 'jit_admin', tls: undefined })).toEqual([]);
  });
});
