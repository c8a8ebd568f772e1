/**
 * Managed PostgreSQL services, recognised by the roles and settings they install, and what they mean for the
 * broker's admin, as `check` lines. Detection reads only what any role may read (pg_roles, current_setting with
 * missing_ok, to_regprocedure); nothing here changes the server. The caveats are what the providers document:
 * where a behaviour is not documented, the check says nothing about it rather than guess.
 */
import { serviceTlsCheck } from '../service-tls.js';
import { escapeIdentifier } from 'pg';
import type { TargetTls } from '../../core/catalog.js';
import type { EngineCheck } from '../../core/ports.js';
import type { Exec } from './connection.js';

export type PgService = 'aurora' | 'rds' | 'cloudsql' | 'azure';

/** What the server shows of a managed service. Settings are null when the server does not define them. */
export interface PgServiceFacts {
  roles: { rds_superuser: boolean; cloudsqlsuperuser: boolean; azure_pg_admin: boolean };
  /** The admin's own memberships in those roles (more than db-access needs). */
  memberOf: { rds_superuser: boolean; cloudsqlsuperuser: boolean; azure_pg_admin: boolean };
  auroraVersionFunction: boolean;
  settings: {
    'rds.extensions': string | null;
    'rds.force_ssl': string | null;
    'cloudsql.iam_authentication': string | null;
    'azure.extensions': string | null;
    require_secure_transport: string | null;
  };
}

export const PG_SERVICE_NAMES: Readonly<Record<PgService, string>> = {
  aurora: 'Amazon Aurora PostgreSQL',
  rds: 'Amazon RDS for PostgreSQL',
  cloudsql: 'Google Cloud SQL for PostgreSQL',
  azure: 'Azure Database for PostgreSQL',
};

/** One query: the marker roles, the admin's membership in them, Aurora's function and the services' settings. */
export async function readPgServiceFacts(exec: Exec): Promise<PgServiceFacts> {
  const [row] = await exec(
    `SELECT ${(['rds_superuser', 'cloudsqlsuperuser', 'azure_pg_admin'] as const)
      .map(
        (r) =>
          `EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${r}') AS has_${r},
           COALESCE((SELECT pg_catalog.pg_has_role(current_user, oid, 'MEMBER') FROM pg_catalog.pg_roles WHERE rolname = '${r}'), false) AS in_${r}`,
      )
      .join(',\n')},
            pg_catalog.to_regprocedure('aurora_version()') IS NOT NULL AS aurora_fn,
            current_setting('rds.extensions', true) AS rds_extensions,
            current_setting('rds.force_ssl', true) AS rds_force_ssl,
            current_setting('cloudsql.iam_authentication', true) AS cloudsql_iam,
            current_setting('azure.extensions', true) AS azure_extensions,
            current_setting('require_secure_transport', true) AS require_secure_transport`,
  );
  const r = row ?? {};
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    roles: {
      rds_superuser: r.has_rds_superuser === true,
      cloudsqlsuperuser: r.has_cloudsqlsuperuser === true,
      azure_pg_admin: r.has_azure_pg_admin === true,
    },
    memberOf: {
      rds_superuser: r.in_rds_superuser === true,
      cloudsqlsuperuser: r.in_cloudsqlsuperuser === true,
      azure_pg_admin: r.in_azure_pg_admin === true,
    },
    auroraVersionFunction: r.aurora_fn === true,
    settings: {
      'rds.extensions': str(r.rds_extensions),
      'rds.force_ssl': str(r.rds_force_ssl),
      'cloudsql.iam_authentication': str(r.cloudsql_iam),
      'azure.extensions': str(r.azure_extensions),
      require_secure_transport: str(r.require_secure_transport),
    },
  };
}

/** The service and the evidence for it, or undefined for a self-managed server. */
export function detectPgService(f: PgServiceFacts): { service: PgService; evidence: string[] } | undefined {
  const set = (name: keyof PgServiceFacts['settings']) => f.settings[name] !== null && f.settings[name] !== '';
  const rds = [
    ...(f.roles.rds_superuser ? ['role rds_superuser'] : []),
    ...(set('rds.extensions') ? ['setting rds.extensions'] : []),
    ...(set('rds.force_ssl') ? ['setting rds.force_ssl'] : []),
  ];
  if (f.auroraVersionFunction) return { service: 'aurora', evidence: ['function aurora_version()', ...rds] };
  if (rds.length > 0) return { service: 'rds', evidence: rds };
  const cloudsql = [
    ...(f.roles.cloudsqlsuperuser ? ['role cloudsqlsuperuser'] : []),
    ...(set('cloudsql.iam_authentication') ? ['setting cloudsql.iam_authentication'] : []),
  ];
  if (cloudsql.length > 0) return { service: 'cloudsql', evidence: cloudsql };
  const azure = [
    ...(f.roles.azure_pg_admin ? ['role azure_pg_admin'] : []),
    ...(set('azure.extensions') ? ['setting azure.extensions'] : []),
  ];
  if (azure.length > 0) return { service: 'azure', evidence: azure };
  return undefined;
}

const on = (v: string | null) => v !== null && /^(1|on|true)$/i.test(v.trim());

export interface PgServiceContext {
  adminUser: string;
  tls: TargetTls | undefined;
}

/**
 * The `check` lines for a managed service: what it is (with the evidence) and how the admin setup differs there,
 * the admin's membership in the service's admin role (more than it needs), and TLS. Empty for a self-managed server.
 * All are warnings: none stops the broker from working as configured.
 */
export function pgServiceChecks(f: PgServiceFacts, ctx: PgServiceContext): EngineCheck[] {
  const found = detectPgService(f);
  if (!found) return [];
  const { service, evidence } = found;
  const name = PG_SERVICE_NAMES[service];
  const checks: EngineCheck[] = [
    {
      name: 'managed service',
      ok: true,
      severity: 'warning',
      detail: `${name} (recognised by ${evidence.join(', ')}). ${setupNotes(service)}`,
    },
  ];
  const adminRole =
    service === 'cloudsql' ? 'cloudsqlsuperuser' : service === 'azure' ? 'azure_pg_admin' : 'rds_superuser';
  if (f.memberOf[adminRole])
    checks.push({
      name: 'service admin role',
      ok: false,
      severity: 'warning',
      detail:
        `${ctx.adminUser} is a member of ${adminRole}: more than db-access needs (LOGIN CREATEROLE and the grants of the admin setup)` +
        (service === 'cloudsql'
          ? '; users made in the Cloud SQL console or with gcloud join cloudsqlsuperuser, so create the admin with SQL'
          : ''),
      fix: `REVOKE ${adminRole} FROM ${escapeIdentifier(ctx.adminUser)}`,
    });
  checks.push(tlsCheck(service, f, ctx.tls));
  return checks;
}

function setupNotes(service: PgService): string {
  switch (service) {
    case 'rds':
    case 'aurora':
      return (
        'There is no superuser: run the admin setup as the master user (a member of rds_superuser: CREATEROLE, CREATEDB, not SUPERUSER). ' +
        "AWS documents that rds_superuser may end other connections (pg_terminate_backend); db-access's admin needs no such role: it ends its users' sessions through its membership in each user it creates. " +
        (service === 'aurora'
          ? 'Point the catalog at the cluster (writer) endpoint: reader instances refuse CREATE ROLE, and sessions an issued user opens on a reader are not ended from the writer (NOLOGIN and VALID UNTIL still stop new logins there).'
          : 'Point the catalog at the primary instance: read replicas refuse CREATE ROLE, and sessions an issued user opens on a replica are not ended from the primary (NOLOGIN and VALID UNTIL still stop new logins there).')
      );
    case 'cloudsql':
      return (
        'There is no superuser: run the admin setup as the postgres user (a member of cloudsqlsuperuser: CREATEROLE, CREATEDB, not SUPERUSER). ' +
        "Create the admin with SQL, not in the console or gcloud (those users join cloudsqlsuperuser). db-access's admin ends its users' sessions through its membership in each user it creates, not through cloudsqlsuperuser. " +
        'Point the catalog at the primary instance: read replicas refuse CREATE ROLE.'
      );
    case 'azure':
      return (
        'There is no superuser (azure_superuser belongs to the service): run the admin setup as the server admin (a member of azure_pg_admin: CREATEROLE, CREATEDB, not SUPERUSER). ' +
        "db-access's admin ends its users' sessions through its membership in each user it creates. Point the catalog at the primary server: read replicas refuse CREATE ROLE."
      );
  }
}

function tlsCheck(service: PgService, f: PgServiceFacts, tls: TargetTls | undefined): EngineCheck {
  const required =
    service === 'rds' || service === 'aurora'
      ? on(f.settings['rds.force_ssl'])
      : service === 'azure'
        ? on(f.settings.require_secure_transport)
        : false;
  const requirement =
    service === 'rds' || service === 'aurora'
      ? required
        ? 'rds.force_ssl is 1: the server refuses connections without TLS (issued users need sslmode=require or stronger too)'
        : 'rds.force_ssl is off here (RDS for PostgreSQL 15 and later turn it on by default)'
      : service === 'azure'
        ? required
          ? 'require_secure_transport is on: the server refuses connections without TLS (issued users need sslmode=require or stronger too)'
          : 'the server does not require TLS'
        : "Cloud SQL requires TLS when the instance's SSL mode says so";
  return serviceTlsCheck(service, tls, requirement);
}
