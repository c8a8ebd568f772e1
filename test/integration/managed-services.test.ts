/**
 * `check` recognises managed PostgreSQL services. RDS, Aurora, Cloud SQL and Azure cannot run here, so a throwaway
 * scram-sha-256 cluster of the machine's PostgreSQL is dressed as each in turn with what identifies it — the service's
 * built-in roles (CREATE ROLE rds_superuser, …), its settings (custom GUCs set per database: rds.force_ssl, …) and
 * Aurora's aurora_version() function — and initialize() (and once the `db-access check` CLI) must name the service,
 * its caveats and the TLS advice; a plain cluster must get none of it. Each case removes its disguise afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { EngineCheck, Logger } from '../../src/core/ports.js';
import { createPostgresEngine } from '../../src/targets/postgres/index.js';
import { writeCatalog, tempSqliteUrl } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgTarget } from '../support/pg-cluster.js';
import { runCli } from '../support/processes.js';

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

let t: PgTarget;

beforeAll(async () => {
  const cluster = await startScramCluster();
  try {
    t = await setupPgTarget(cluster);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}, 120_000);

afterAll(async () => {
  await t?.cluster.stop();
}, 30_000);

/** initialize() with a fresh engine (a new pool, so per-database settings changed since apply). */
async function checks(entry: DatabaseEntry = t.entry): Promise<EngineCheck[]> {
  const engine = createPostgresEngine(entry, { logger: quiet });
  try {
    return (await engine.initialize()).checks;
  } finally {
    await engine.close();
  }
}

const named = (cs: EngineCheck[], name: string) => cs.find((c) => c.name === name);

/** Runs `body` with the cluster dressed by `setup` statements (superuser, in the target database); undoes it after. */
async function dressedAs(setup: string[], undo: string[], body: () => Promise<void>): Promise<void> {
  try {
    for (const sql of setup) await t.query(sql);
    await body();
  } finally {
    for (const sql of undo) await t.query(sql);
  }
}

const RESET = `ALTER DATABASE appdb RESET ALL`;

describe('managed PostgreSQL services in check', () => {
  it('a self-managed server gets no managed-service lines', async () => {
    const cs = await checks();
    expect(named(cs, 'managed service')).toBeUndefined();
    expect(named(cs, 'service tls')).toBeUndefined();
    // pg_stat_statements is not preloaded on this cluster: only that warning.
    expect(cs.filter((c) => !c.ok).map((c) => c.name)).toEqual(['statement statistics']);
  });

  it('RDS: rds_superuser + rds.extensions + rds.force_ssl=1 → named, no-superuser caveat, TLS required; the admin in rds_superuser is told to leave it', async () => {
    await dressedAs(
      [
        'CREATE ROLE rds_superuser NOLOGIN',
        `ALTER DATABASE appdb SET "rds.extensions" = 'pg_stat_statements,pgcrypto'`,
        `ALTER DATABASE appdb SET "rds.force_ssl" = '1'`,
        'GRANT rds_superuser TO jit_admin',
      ],
      [RESET, 'DROP ROLE rds_superuser'],
      async () => {
        const cs = await checks();
        const service = named(cs, 'managed service')!;
        expect(service).toMatchObject({ ok: true, severity: 'warning' });
        expect(service.detail).toMatch(
          /^Amazon RDS for PostgreSQL \(recognised by role rds_superuser, setting rds\.extensions, setting rds\.force_ssl\)\. There is no superuser/,
        );
        expect(service.detail).toContain('run the admin setup as the master user');
        expect(service.detail).toContain('through its membership in each user it creates');
        expect(service.detail).toContain('read replicas refuse CREATE ROLE');
        const tls = named(cs, 'service tls')!;
        expect(tls).toMatchObject({ ok: false, severity: 'warning' });
        expect(tls.detail).toContain('rds.force_ssl is 1: the server refuses connections without TLS');
        expect(tls.detail).toContain(
          'set tls: { mode: verify-full, ca: <the AWS RDS CA bundle for the region (global-bundle.pem)> }',
        );
        const member = named(cs, 'service admin role')!;
        expect(member).toMatchObject({ ok: false, severity: 'warning', fix: 'REVOKE rds_superuser FROM "jit_admin"' });
        // The fix, run verbatim, clears that line; the service is still recognised.
        await t.query(member.fix!);
        const after = await checks();
        expect(named(after, 'service admin role')).toBeUndefined();
        expect(named(after, 'managed service')).toBeDefined();
        // Warnings only: check still passes (no failed error-severity line).
        expect(after.filter((c) => !c.ok && c.severity === 'error')).toEqual([]);
      },
    );
  });

  it('RDS with rds.force_ssl off says so (and that 15+ turns it on by default)', async () => {
    await dressedAs(
      ['CREATE ROLE rds_superuser NOLOGIN', `ALTER DATABASE appdb SET "rds.force_ssl" = '0'`],
      [RESET, 'DROP ROLE rds_superuser'],
      async () => {
        expect(named(await checks(), 'service tls')!.detail).toContain(
          'rds.force_ssl is off here (RDS for PostgreSQL 15 and later turn it on by default)',
        );
      },
    );
  });

  it('Aurora: aurora_version() makes it Aurora, with the writer-endpoint caveat', async () => {
    await dressedAs(
      [
        'CREATE ROLE rds_superuser NOLOGIN',
        `CREATE FUNCTION public.aurora_version() RETURNS text LANGUAGE sql AS $$SELECT '16.4.1'$$`,
      ],
      ['DROP FUNCTION public.aurora_version()', 'DROP ROLE rds_superuser'],
      async () => {
        const service = named(await checks(), 'managed service')!;
        expect(service.detail).toMatch(
          /^Amazon Aurora PostgreSQL \(recognised by function aurora_version\(\), role rds_superuser\)/,
        );
        expect(service.detail).toContain('cluster (writer) endpoint');
      },
    );
  });

  it('Cloud SQL: cloudsqlsuperuser + cloudsql.iam_authentication → named, with the create-the-admin-with-SQL caveat', async () => {
    await dressedAs(
      [
        'CREATE ROLE cloudsqlsuperuser NOLOGIN',
        `ALTER DATABASE appdb SET "cloudsql.iam_authentication" = 'on'`,
        'GRANT cloudsqlsuperuser TO jit_admin',
      ],
      [RESET, 'DROP ROLE cloudsqlsuperuser'],
      async () => {
        const cs = await checks();
        const service = named(cs, 'managed service')!;
        expect(service.detail).toMatch(
          /^Google Cloud SQL for PostgreSQL \(recognised by role cloudsqlsuperuser, setting cloudsql\.iam_authentication\)/,
        );
        expect(service.detail).toContain('Create the admin with SQL, not in the console or gcloud');
        expect(named(cs, 'service admin role')).toMatchObject({
          ok: false,
          fix: 'REVOKE cloudsqlsuperuser FROM "jit_admin"',
        });
        expect(named(cs, 'service admin role')!.detail).toContain(
          'users made in the Cloud SQL console or with gcloud join cloudsqlsuperuser',
        );
        expect(named(cs, 'service tls')!.detail).toContain('server-ca.pem');
      },
    );
  });

  it('Azure: azure_pg_admin + azure.extensions → named, azure_superuser belongs to the service', async () => {
    await dressedAs(
      ['CREATE ROLE azure_pg_admin NOLOGIN', `ALTER DATABASE appdb SET "azure.extensions" = 'pg_trgm'`],
      [RESET, 'DROP ROLE azure_pg_admin'],
      async () => {
        const service = named(await checks(), 'managed service')!;
        expect(service.detail).toMatch(
          /^Azure Database for PostgreSQL \(recognised by role azure_pg_admin, setting azure\.extensions\)\. There is no superuser \(azure_superuser belongs to the service\)/,
        );
      },
    );
  });

  it('db-access check prints the service and its caveats, and still passes on warnings', async () => {
    await dressedAs(
      ['CREATE ROLE rds_superuser NOLOGIN', `ALTER DATABASE appdb SET "rds.force_ssl" = '1'`],
      [RESET, 'DROP ROLE rds_superuser'],
      async () => {
        const catalog = writeCatalog([t.entry]);
        const out = await runCli(['check'], {
          ...catalog.env,
          CATALOG_PATH: catalog.path,
          DATABASE_URL: tempSqliteUrl(),
        });
        expect(out.stdout).toMatch(
          /\[ok {2}\] managed service: Amazon RDS for PostgreSQL \(recognised by role rds_superuser, setting rds\.force_ssl\)/,
        );
        expect(out.stdout).toMatch(
          /\[WARN\] service tls: rds\.force_ssl is 1: the server refuses connections without TLS/,
        );
        expect(out.stdout).toContain('All checks passed.');
        expect(out.code, out.stderr).toBe(0);
      },
    );
  });
});
