/**
 * The least-privilege account the broker logs in as, as statements a DBA runs once (docs/targets.md prints them and
 * `check` quotes them as fixes). The integration tests create their admin by running exactly these.
 */
import { escapeIdentifier } from 'pg';
import { templatePrerequisiteSql } from './sql.js';
import { PG15, PG16 } from './versions.js';

export interface AdminSetupOptions {
  adminUser: string;
  /** The catalog's database: the broker connects to it and runs templated grants in it. */
  database: string;
  /** Every role an access level grants (membership). */
  roles: readonly string[];
  /** Templated GRANTs of the levels: the admin must hold each privilege WITH GRANT OPTION to hand it out. */
  templates?: readonly string[];
  /** Levels' `onExpiry: { reassignTo }`: each receiving role, with the schemas those levels let users create in
   *  (createSchemasOf(level.grants)). The admin needs the role's privileges; the role needs CREATE on those schemas. */
  reassignTo?: ReadonlyArray<{ role: string; schemas?: readonly string[] }>;
  /** Some level has auditStatements: the admin must be able to store log_statement on the users it creates. */
  auditStatements?: boolean;
  /** server_version_num when known: the statements that version needs. Unknown (docs/targets.md): the 16+ lines as comments. */
  serverVersionNum?: number;
}

/**
 * What the admin needs to grant `role`: ADMIN OPTION — on 16+ without using the role's privileges itself (the
 * INHERIT / SET options exist only from 16; before, CREATEROLE alone lets it grant any non-superuser role).
 */
export function grantRoleToAdminSql(role: string, adminUser: string, serverVersionNum = PG16): string {
  const grant = `GRANT ${escapeIdentifier(role)} TO ${escapeIdentifier(adminUser)} WITH ADMIN OPTION`;
  return serverVersionNum >= PG16 ? `${grant}, INHERIT FALSE, SET FALSE` : grant;
}

/**
 * What the admin needs to revoke an issued user it did not create itself (made by another admin account, or before a
 * pg_upgrade to 16): membership, to end the user's sessions and DROP OWNED BY it; on 16+ also ADMIN OPTION, to alter
 * and drop it (INHERIT named, as the membership's own option decides it there).
 */
export function adminOfUserSql(username: string, adminUser: string, serverVersionNum: number): string {
  const grant = `GRANT ${escapeIdentifier(username)} TO ${escapeIdentifier(adminUser)}`;
  return serverVersionNum >= PG16 ? `${grant} WITH ADMIN OPTION, INHERIT TRUE` : grant;
}

/**
 * What the admin needs to `REASSIGN OWNED BY <user> TO <role>` (onExpiry reassignTo): PostgreSQL requires the
 * privileges of both roles (it has the user's already), i.e. a membership that inherits; and for objects other than
 * tables, indexes, sequences and views (functions, types, …) the right to become the new owner: membership before
 * 16, the SET option from 16 (named on the grant with INHERIT TRUE, as a re-grant changes only the options it names).
 */
export function reassignTargetGrantSql(role: string, adminUser: string, serverVersionNum = PG16): string {
  const grant = `GRANT ${escapeIdentifier(role)} TO ${escapeIdentifier(adminUser)}`;
  return serverVersionNum >= PG16 ? `${grant} WITH INHERIT TRUE, SET TRUE` : grant;
}

/** A receiving role must hold CREATE on each schema where a user may have created a function, type or the like:
 *  PostgreSQL checks it when such an object changes owner (tables, indexes, sequences and views are exempt). */
export function receiverSchemaGrantSql(schema: string, role: string): string {
  return `GRANT CREATE ON SCHEMA ${escapeIdentifier(schema)} TO ${escapeIdentifier(role)}`;
}

/** The schemas a level's templated grants give CREATE on (`GRANT …CREATE… ON SCHEMA a, b TO {{user}}`, or ALL). */
export function createSchemasOf(templates: readonly string[]): string[] {
  const out = new Set<string>();
  for (const t of templates) {
    const m = /^\s*GRANT\s+(.+?)\s+ON\s+SCHEMA\s+(.+?)\s+TO\s/i.exec(t);
    if (!m || !/(^|[\s,])(CREATE|ALL)([\s,]|$)/i.test(m[1]!)) continue;
    for (const raw of m[2]!.split(',')) {
      const name = raw.trim();
      out.add(name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase());
    }
  }
  return [...out];
}

/** PG16+: make the admin an INHERIT+SET member of every role it creates (to end their sessions and DROP OWNED). */
export function selfGrantSettingSql(adminUser: string): string {
  return `ALTER ROLE ${escapeIdentifier(adminUser)} SET createrole_self_grant = 'set, inherit'`;
}

/** auditStatements: the right to store log_statement on the users it creates (PostgreSQL 15+; run as a superuser). */
export function logStatementGrantSql(adminUser: string): string {
  return `GRANT SET ON PARAMETER log_statement TO ${escapeIdentifier(adminUser)}`;
}

/** Why the admin may not store log_statement on a role, and what fixes it, in words (for `check` and refusals). */
export function logStatementPrivilegeProblem(adminUser: string, info: { versionNum: number }): string {
  return info.versionNum >= PG15
    ? `${adminUser} may not set log_statement (a superuser-only parameter); a superuser runs: ${logStatementGrantSql(adminUser)}`
    : `before PostgreSQL 15 only a superuser may set log_statement on a role; upgrade to 15+ (then ${logStatementGrantSql(adminUser)}), log every statement server-wide (log_statement = 'all' in postgresql.conf), or remove auditStatements`;
}

export function connectGrantSql(database: string, adminUser: string): string {
  return `GRANT CONNECT ON DATABASE ${escapeIdentifier(database)} TO ${escapeIdentifier(adminUser)}`;
}

/**
 * Statements (and `--` comment lines) to run as a superuser, connected to `database`, in order. Each element is
 * one statement for one `query()` call, without a trailing `;` (add one when printing for psql). Lines starting
 * with `--` are comments (harmless to execute). The admin's password is set separately (psql `\password`, which sends
 * a SCRAM verifier), so no password appears here or in the server log.
 *
 * Versions: ≤ 15 needs nothing beyond CREATEROLE (it covers every non-superuser role; db-access makes the admin a
 * member of each user it creates). 16+ (the same through 18) adds ADMIN OPTION on each granted role and the
 * createrole_self_grant setting. With `serverVersionNum` unknown, the 16+ lines are printed as comments.
 */
export function postgresAdminSetupSql(opts: AdminSetupOptions): string[] {
  const admin = escapeIdentifier(opts.adminUser);
  const known = opts.serverVersionNum !== undefined;
  const pg16 = known && opts.serverVersionNum! >= PG16;
  const out: string[] = [
    `-- db-access: least-privilege admin. Run as a superuser, connected to database ${escapeIdentifier(opts.database)}.`,
    `CREATE ROLE ${admin} WITH LOGIN CREATEROLE INHERIT NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS`,
    `-- Set its password without sending plaintext to the server: in psql, \\password ${admin}`,
    connectGrantSql(opts.database, opts.adminUser),
    '-- It also needs CONNECT on any other database an issued user could create objects in (PUBLIC has it by default), to DROP OWNED there.',
  ];
  const roles = [...new Set(opts.roles)];
  const pg16Lines = [
    ...roles.map((role) => grantRoleToAdminSql(role, opts.adminUser)),
    selfGrantSettingSql(opts.adminUser),
  ];
  if (pg16) {
    if (roles.length > 0)
      out.push('-- PostgreSQL 16+: ADMIN OPTION on each role an access level grants (without using the role itself).');
    out.push(...pg16Lines.slice(0, -1));
    out.push(
      '-- PostgreSQL 16+: become an INHERIT+SET member of the users it creates (db-access also sets this per transaction).',
    );
    out.push(...pg16Lines.slice(-1));
  } else {
    out.push(
      '-- PostgreSQL 15 and earlier: CREATEROLE is enough to grant the access-level roles, and db-access makes the admin a member of each user it creates (GRANT <user> TO CURRENT_USER).',
    );
    if (!known) out.push(...pg16Lines.map((sql) => `-- PostgreSQL 16 and later only: ${sql};`));
  }
  const receivers = new Map<string, Set<string>>();
  for (const r of opts.reassignTo ?? [])
    receivers.set(r.role, new Set([...(receivers.get(r.role) ?? []), ...(r.schemas ?? [])]));
  if (receivers.size > 0) {
    out.push(
      '-- onExpiry reassignTo: what an issued user created goes to these roles at expiry. REASSIGN OWNED needs the privileges of the receiving role (keep it an unprivileged NOLOGIN role), and the role needs CREATE on the schemas users create in.',
    );
    for (const [role, schemas] of receivers) {
      out.push(reassignTargetGrantSql(role, opts.adminUser, known ? opts.serverVersionNum : 0));
      out.push(...[...schemas].map((schema) => receiverSchemaGrantSql(schema, role)));
    }
  }
  if (opts.auditStatements) {
    out.push(
      "-- auditStatements: db-access runs ALTER ROLE <user> SET log_statement = 'all' for those levels' users; log_statement is superuser-only, so the admin needs SET on it (PostgreSQL 15+).",
    );
    if (!known) out.push(`-- PostgreSQL 15 and later only: ${logStatementGrantSql(opts.adminUser)};`);
    else if (opts.serverVersionNum! >= PG15) out.push(logStatementGrantSql(opts.adminUser));
    else out.push(`-- ${logStatementPrivilegeProblem(opts.adminUser, { versionNum: opts.serverVersionNum! })}`);
  }
  const templates = [...new Set(opts.templates ?? [])];
  const prerequisites = templates
    .map((t) => templatePrerequisiteSql(t, admin))
    .filter((s): s is string => s !== undefined);
  if (prerequisites.length > 0) {
    out.push(
      '-- Templated grants: the admin hands out only what it holds WITH GRANT OPTION (run in the database they name).',
    );
    out.push(...new Set(prerequisites));
  }
  return out;
}
