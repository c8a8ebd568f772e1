/**
 * The least-privilege account the broker logs in as, as statements a DBA runs once (the README prints them and
 * `check` quotes them as fixes). The integration tests create their admin by running exactly these.
 */
import { escapeIdentifier } from 'pg';
import { templatePrerequisiteSql } from './sql.js';

export interface AdminSetupOptions {
  adminUser: string;
  /** The catalog's database: the broker connects to it and runs templated grants in it. */
  database: string;
  /** Every role an access level grants (membership). */
  roles: readonly string[];
  /** Templated GRANTs of the levels: the admin must hold each privilege WITH GRANT OPTION to hand it out. */
  templates?: readonly string[];
  /** server_version_num when known; PostgreSQL 16+ lines are emitted as statements instead of comments. */
  serverVersionNum?: number;
}

/** PG16+: what the admin needs to grant `role` (ADMIN OPTION, without using the role's privileges itself). */
export function grantRoleToAdminSql(role: string, adminUser: string): string {
  return `GRANT ${escapeIdentifier(role)} TO ${escapeIdentifier(adminUser)} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`;
}

/** PG16+: make the admin an INHERIT+SET member of every role it creates (to end their sessions and DROP OWNED). */
export function selfGrantSettingSql(adminUser: string): string {
  return `ALTER ROLE ${escapeIdentifier(adminUser)} SET createrole_self_grant = 'set, inherit'`;
}

export function connectGrantSql(database: string, adminUser: string): string {
  return `GRANT CONNECT ON DATABASE ${escapeIdentifier(database)} TO ${escapeIdentifier(adminUser)}`;
}

/**
 * Statements (and `--` comment lines) to run as a superuser, connected to `database`, in order. Each element is
 * one statement for one `query()` call, without a trailing `;` (add one when printing for psql). Lines starting
 * with `--` are comments (harmless to execute). The admin's password is set separately (psql `\password`, which sends
 * a SCRAM verifier), so no password appears here or in the server log.
 */
export function postgresAdminSetupSql(opts: AdminSetupOptions): string[] {
  const admin = escapeIdentifier(opts.adminUser);
  const pg16 = (opts.serverVersionNum ?? 0) >= 160000;
  const onlyPg16 = (sql: string) => (pg16 ? sql : `-- PostgreSQL 16 and later only: ${sql};`);
  const out: string[] = [
    `-- db-access: least-privilege admin. Run as a superuser, connected to database ${escapeIdentifier(opts.database)}.`,
    `CREATE ROLE ${admin} WITH LOGIN CREATEROLE INHERIT NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS`,
    `-- Set its password without sending plaintext to the server: in psql, \\password ${admin}`,
    connectGrantSql(opts.database, opts.adminUser),
    '-- It also needs CONNECT on any other database an issued user could create objects in (PUBLIC has it by default), to DROP OWNED there.',
  ];
  if (opts.roles.length > 0) {
    out.push(
      pg16
        ? '-- PostgreSQL 16+: ADMIN OPTION on each role an access level grants (without using the role itself).'
        : '-- PostgreSQL 15 and earlier: CREATEROLE is enough to grant the access-level roles. On 16 and later also run:',
    );
    for (const role of [...new Set(opts.roles)]) out.push(onlyPg16(grantRoleToAdminSql(role, opts.adminUser)));
  }
  out.push(
    pg16
      ? '-- PostgreSQL 16+: become an INHERIT+SET member of the users it creates (db-access also sets this per transaction).'
      : '-- PostgreSQL 15 and earlier: not needed (db-access runs GRANT <user> TO CURRENT_USER after each CREATE ROLE). On 16 and later also run:',
    onlyPg16(selfGrantSettingSql(opts.adminUser)),
  );
  const templates = [...new Set(opts.templates ?? [])];
  const prerequisites = templates.map((t) => templatePrerequisiteSql(t, admin)).filter((s): s is string => s !== undefined);
  if (prerequisites.length > 0) {
    out.push('-- Templated grants: the admin hands out only what it holds WITH GRANT OPTION (run in the database they name).');
    out.push(...new Set(prerequisites));
  }
  return out;
}
