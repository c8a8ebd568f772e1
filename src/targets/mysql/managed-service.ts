/**
 * Managed MySQL / MariaDB services, recognised by what they install (RDS's /rdsdbbin/ base directory and rdsadmin
 * account, Aurora's aurora_version variable, Cloud SQL's cloudsqlsuperuser role and cloudsql_* flags, Azure's
 * azure_superuser account and aad_auth_only parameter), and what they mean for the broker's admin, as `check` lines.
 * `readMysqlServiceFacts` gathers the facts (each read may fail on a server without it: that is "absent");
 * `mysqlServiceChecks` is a pure function of them, unit-tested with the answers each service gives.
 */
import { serviceTlsCheck } from '../service-tls.js';
import type { TargetTls } from '../../core/catalog.js';
import type { EngineCheck } from '../../core/ports.js';
import { accountTable } from './admin-setup.js';
import type { ServerInfo } from './server-info.js';
import { rows, type Queryable } from './session.js';

export type MysqlService = 'aurora' | 'rds' | 'cloudsql' | 'azure';

export interface MysqlServiceFacts {
  /** @@GLOBAL.basedir. */
  basedir: string | null;
  /** Global variables by name, for those of SERVICE_VARIABLES the server has. */
  variables: Readonly<Record<string, string>>;
  /** Which of SERVICE_ACCOUNTS exist (user or role names). */
  accounts: readonly string[];
}

/** Variables that only a service defines, plus require_secure_transport (standard, but services turn it on). */
export const SERVICE_VARIABLES = [
  'aurora_version',
  'aad_auth_only',
  'cloudsql_iam_authentication',
  'require_secure_transport',
] as const;
/** Accounts and roles the services create for themselves or their admins. */
export const SERVICE_ACCOUNTS = ['rdsadmin', 'cloudsqlsuperuser', 'azure_superuser'] as const;

export const MYSQL_SERVICE_NAMES: Readonly<Record<MysqlService, string>> = {
  aurora: 'Amazon Aurora MySQL',
  rds: 'Amazon RDS',
  cloudsql: 'Google Cloud SQL',
  azure: 'Azure Database for MySQL',
};

/** The facts, read with what the documented admin setup grants (SELECT (User, Host) on the account table). */
export async function readMysqlServiceFacts(
  pool: Queryable,
  flavour: ServerInfo['flavour'],
  accountLookup: boolean,
): Promise<MysqlServiceFacts> {
  const none = () => [] as Array<Record<string, unknown>>;
  const [dir] = await rows(pool, 'SELECT @@GLOBAL.basedir AS basedir').catch(none);
  const vars = await rows(
    pool,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${SERVICE_VARIABLES.map((v) => `'${v}'`).join(', ')})`,
  ).catch(none);
  const accounts = accountLookup
    ? await rows(
        pool,
        `SELECT DISTINCT User FROM ${accountTable(flavour)} WHERE User IN (${SERVICE_ACCOUNTS.map((a) => `'${a}'`).join(', ')})`,
      ).catch(none)
    : [];
  return {
    basedir: dir?.basedir === undefined || dir.basedir === null ? null : String(dir.basedir),
    variables: Object.fromEntries(vars.map((v) => [String(v.Variable_name), String(v.Value)])),
    accounts: accounts.map((a) => String(a.User)),
  };
}

export function detectMysqlService(f: MysqlServiceFacts): { service: MysqlService; evidence: string[] } | undefined {
  const has = (a: string) => f.accounts.includes(a);
  const rds = [
    ...(f.basedir !== null && f.basedir.startsWith('/rdsdbbin/') ? [`basedir ${f.basedir}`] : []),
    ...(has('rdsadmin') ? ['account rdsadmin'] : []),
  ];
  if (f.variables.aurora_version !== undefined)
    return { service: 'aurora', evidence: [`aurora_version ${f.variables.aurora_version}`, ...rds] };
  if (rds.length > 0) return { service: 'rds', evidence: rds };
  const cloudsql = [
    ...(has('cloudsqlsuperuser') ? ['role cloudsqlsuperuser'] : []),
    ...(f.variables.cloudsql_iam_authentication !== undefined ? ['flag cloudsql_iam_authentication'] : []),
  ];
  if (cloudsql.length > 0) return { service: 'cloudsql', evidence: cloudsql };
  const azure = [
    ...(has('azure_superuser') ? ['account azure_superuser'] : []),
    ...(f.variables.aad_auth_only !== undefined ? ['parameter aad_auth_only'] : []),
  ];
  if (azure.length > 0) return { service: 'azure', evidence: azure };
  return undefined;
}

export interface MysqlServiceContext {
  server: ServerInfo;
  tls: TargetTls | undefined;
  /** The admin holds CONNECTION_ADMIN / CONNECTION ADMIN or SUPER (the kill-sessions check). */
  canKill: boolean;
}

/** RDS for MySQL refuses to grant CONNECTION_ADMIN from 8.0.36 (and in 8.4); 8.0.35 and earlier allow it. */
function rdsRefusesConnectionAdmin(s: ServerInfo): boolean {
  return s.flavour === 'mysql' && s.major * 10_000 + s.minor * 100 + s.patch >= 80_036;
}

/**
 * The `check` lines for a managed service: what it is (with the evidence) and how the setup differs there; on the
 * RDS family without a kill privilege, why it cannot be granted and what that means; TLS. Empty when self-managed.
 */
export function mysqlServiceChecks(f: MysqlServiceFacts, ctx: MysqlServiceContext): EngineCheck[] {
  const found = detectMysqlService(f);
  if (!found) return [];
  const { service, evidence } = found;
  const product =
    service === 'rds'
      ? `Amazon RDS for ${ctx.server.flavour === 'mariadb' ? 'MariaDB' : 'MySQL'}`
      : MYSQL_SERVICE_NAMES[service];
  const checks: EngineCheck[] = [
    {
      name: 'managed service',
      ok: true,
      severity: 'warning',
      detail: `${product} (recognised by ${evidence.join(', ')}). ${notes(service)}`,
    },
  ];
  if ((service === 'rds' || service === 'aurora') && !ctx.canKill) {
    checks.push({
      name: 'kill sessions on RDS',
      ok: false,
      severity: 'warning',
      detail:
        service === 'rds' && rdsRefusesConnectionAdmin(ctx.server)
          ? `RDS for MySQL ${ctx.server.version} does not let anyone grant CONNECTION_ADMIN (allowed up to 8.0.35), and its master user has no SUPER: the admin cannot KILL another account's session. RDS's way is CALL mysql.rds_kill(<id>); until db-access uses it, a revoked user's open sessions last until they end (the account is locked and dropped at once)`
          : `the admin cannot KILL another account's session and RDS withholds SUPER; grant the kill privilege where RDS allows it (RDS for MySQL up to 8.0.35: CONNECTION_ADMIN), otherwise a revoked user's open sessions last until they end`,
    });
  }
  checks.push(tlsCheck(service, f, ctx.tls));
  return checks;
}

function notes(service: MysqlService): string {
  switch (service) {
    case 'rds':
      return 'The master user has no SUPER: run the admin setup as the master user. Point the catalog at the primary instance: read replicas are read-only and refuse CREATE USER.';
    case 'aurora':
      return 'The master user has no SUPER: run the admin setup as the master user. Point the catalog at the cluster (writer) endpoint: the reader endpoint is read-only, and sessions on reader instances are not ended from the writer (the account lock still stops new logins).';
    case 'cloudsql':
      return 'Cloud SQL grants no SUPER: run the admin setup as a user with the cloudsqlsuperuser role (e.g. root), and create the admin with SQL so it gets only the grants below. Point the catalog at the primary instance.';
    case 'azure':
      return 'The server admin has no SUPER (azure_superuser belongs to the service): run the admin setup as the server admin. Point the catalog at the source server: read replicas are read-only.';
  }
}

function tlsCheck(service: MysqlService, f: MysqlServiceFacts, tls: TargetTls | undefined): EngineCheck {
  const secure = f.variables.require_secure_transport;
  const required = secure !== undefined && /^(on|1)$/i.test(secure);
  const requirement =
    secure === undefined
      ? 'the server does not report require_secure_transport'
      : required
        ? 'require_secure_transport is ON: the server refuses connections without TLS (issued users need --ssl-mode=REQUIRED or stronger too)'
        : 'require_secure_transport is OFF: the server accepts connections without TLS';
  return serviceTlsCheck(service, tls, requirement);
}
