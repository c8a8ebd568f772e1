/**
 * The one-time, least-privilege setup a DBA runs for the broker's admin account. docs/targets.md prints
 * `mysqlAdminSetupSql`; `initialize` quotes the single statements below as the fix for each failed check, so the
 * two never drift apart. The integration tests create their admin by running exactly this list.
 *
 * Why each grant:
 * - CREATE USER: create/alter/drop the issued accounts and (MariaDB) the per-user bundle roles.
 * - PROCESS: see other accounts' sessions; CONNECTION ADMIN (MariaDB ≥ 10.5.2) / CONNECTION_ADMIN (MySQL 8): KILL them.
 * - SELECT (User, Host) on the account table: tell "name taken by someone else" from "free" before writing a
 *   marker, without being able to read password hashes (column privilege).
 * - Each level role WITH ADMIN OPTION: the right to grant that role to others (MySQL 8 could use ROLE_ADMIN instead;
 *   that is global, so per-role admin is narrower).
 * - The broker schema: its marker table (SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER) and backstop events (EVENT).
 * - MariaDB only: `SET DEFAULT ROLE … FOR <other user>` needs UPDATE on the whole `mysql` database, which would let
 *   the broker rewrite any account's privileges. Instead the DBA creates a small SQL SECURITY DEFINER procedure
 *   that only runs SET DEFAULT ROLE for `jit_` accounts, and the broker gets EXECUTE on it alone (no ALTER ROUTINE,
 *   so it cannot replace it). MySQL 8 allows SET DEFAULT ROLE for others with CREATE USER (untested here).
 * - Templated grants: the grantor must hold what it hands out, WITH GRANT OPTION; each template is mirrored.
 * - auditStatements (MariaDB): SUPER, to add issued users to server_audit_incl_users (grantAuditListSql).
 */
import { q, qid, DEFAULT_ROLE_PROCEDURE, assertRoleName, assertSchemaName, role } from './sql.js';
import type { Flavour } from './errors.js';

export interface MysqlAdminSetupOptions {
  adminUser: string;
  /** Host part of the admin account: where the broker connects from ('%', '10.0.%', …). */
  adminHost: string;
  /** The catalog database the levels give access to. Nothing is granted on it by itself: the broker never connects
   *  to it, roles carry the access, and `templates` (which must name it) say which privileges the admin re-grants. */
  database: string;
  /** Every role any level of this database grants. */
  roles: string[];
  brokerSchema: string;
  flavour: Flavour;
  /** Templated grants of the levels (`GRANT … TO {{user}}`); each is mirrored to the admin WITH GRANT OPTION. */
  templates?: readonly string[];
  /** Some level has auditStatements (MariaDB): the admin needs SUPER to change server_audit_incl_users. */
  auditStatements?: boolean;
  /** Used in CREATE USER when given; otherwise the statement carries a `<password>` placeholder that will not parse. */
  adminPassword?: string;
}

/** `'user'@'host'` of the broker's admin. */
export function adminAccount(user: string, host: string): string {
  return `${q(user)}@${q(host)}`;
}

/** A schema name as a GRANT … ON db.* pattern: `_` and `%` are wildcards there and must be escaped. */
export function schemaPattern(schema: string): string {
  return qid(schema.replace(/([_%])/g, '\\$1'));
}

export function createAdminSql(admin: string, password: string | undefined): string {
  return `CREATE USER IF NOT EXISTS ${admin} IDENTIFIED BY ${password === undefined ? '<password>' : q(password)}`;
}

export function grantGlobalSql(admin: string, flavour: Flavour): string {
  const kill = flavour === 'mariadb' ? 'CONNECTION ADMIN' : 'CONNECTION_ADMIN';
  return `GRANT CREATE USER, PROCESS, ${kill} ON *.* TO ${admin}`;
}

/** MariaDB ≥ 10.4 keeps accounts and roles in mysql.global_priv (mysql.user is a view); MySQL in mysql.user. */
export function accountTable(flavour: Flavour): string {
  return flavour === 'mariadb' ? 'mysql.global_priv' : 'mysql.user';
}

export function grantAccountLookupSql(admin: string, flavour: Flavour): string {
  return `GRANT SELECT (User, Host) ON ${accountTable(flavour)} TO ${admin}`;
}

export function grantRoleAdminSql(admin: string, roleName: string): string {
  return `GRANT ${role(roleName)} TO ${admin} WITH ADMIN OPTION`;
}

export function createBrokerSchemaSql(schema: string): string {
  assertSchemaName(schema);
  return `CREATE DATABASE IF NOT EXISTS ${qid(schema)}`;
}

/** ALTER: a marker table created by an earlier version gains its installation column. */
export const BROKER_SCHEMA_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'ALTER', 'EVENT'] as const;

export function grantBrokerSchemaSql(admin: string, schema: string): string {
  assertSchemaName(schema);
  return `GRANT ${BROKER_SCHEMA_PRIVILEGES.join(', ')} ON ${schemaPattern(schema)}.* TO ${admin}`;
}

/** MariaDB: run by the DBA, so the procedure's DEFINER is an account allowed to set other users' default roles. */
export function createDefaultRoleProcedureSql(schema: string): string {
  assertSchemaName(schema);
  return [
    `CREATE OR REPLACE PROCEDURE ${qid(schema)}.${qid(DEFAULT_ROLE_PROCEDURE)}(IN p_user VARCHAR(80), IN p_role VARCHAR(128))`,
    '  SQL SECURITY DEFINER',
    "  COMMENT 'db-access: SET DEFAULT ROLE for jit_ accounts only'",
    'BEGIN',
    // BINARY: REGEXP follows the argument's collation, which is case-insensitive by default.
    "  IF p_user IS NULL OR NOT (BINARY p_user REGEXP '^jit_[a-z0-9_]{1,26}$') THEN",
    "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'db-access: refusing a user outside jit_';",
    '  END IF;',
    "  SET @db_access_sql = CONCAT('SET DEFAULT ROLE ', QUOTE(p_role), ' FOR ', QUOTE(p_user), '@''%''');",
    '  PREPARE db_access_stmt FROM @db_access_sql;',
    '  EXECUTE db_access_stmt;',
    '  DEALLOCATE PREPARE db_access_stmt;',
    'END',
  ].join('\n');
}

export function grantDefaultRoleProcedureSql(admin: string, schema: string): string {
  assertSchemaName(schema);
  return `GRANT EXECUTE ON PROCEDURE ${qid(schema)}.${qid(DEFAULT_ROLE_PROCEDURE)} TO ${admin}`;
}

/**
 * auditStatements on MariaDB: adding and removing issued users in server_audit_incl_users is SET GLOBAL, which
 * MariaDB allows only with SUPER (it has no narrower privilege for plugin variables). The server_audit plugin itself
 * is server configuration (docs/targets.md).
 */
export function grantAuditListSql(admin: string): string {
  return `GRANT SUPER ON *.* TO ${admin}`;
}

/** `GRANT <privs> ON <object> TO {{user}}` → the same privileges to the admin, WITH GRANT OPTION. */
export function grantTemplateToAdminSql(admin: string, template: string): string {
  return `${template.trim().replace('{{user}}', admin)} WITH GRANT OPTION`;
}

/**
 * The exact statements, in order, for a DBA account that may create users and grant the roles (e.g. root). On
 * MariaDB that account also becomes the DEFINER of the default-role procedure, so it must itself be allowed to
 * SET DEFAULT ROLE for other users (UPDATE on `mysql`.*, as root is) and must not be dropped later. One statement
 * per element, no DELIMITER: run each as one query; in the mysql CLI use `forCli()` / wrap the CREATE PROCEDURE
 * in `DELIMITER //` … `//`.
 */
export function mysqlAdminSetupSql(opts: MysqlAdminSetupOptions): string[] {
  assertSchemaName(opts.brokerSchema);
  for (const r of opts.roles) assertRoleName(r);
  const admin = adminAccount(opts.adminUser, opts.adminHost);
  const statements = [
    createAdminSql(admin, opts.adminPassword),
    grantGlobalSql(admin, opts.flavour),
    grantAccountLookupSql(admin, opts.flavour),
    ...[...new Set(opts.roles)].map((r) => grantRoleAdminSql(admin, r)),
    createBrokerSchemaSql(opts.brokerSchema),
    grantBrokerSchemaSql(admin, opts.brokerSchema),
  ];
  if (opts.flavour === 'mariadb') {
    statements.push(
      createDefaultRoleProcedureSql(opts.brokerSchema),
      grantDefaultRoleProcedureSql(admin, opts.brokerSchema),
    );
  }
  for (const t of opts.templates ?? []) statements.push(grantTemplateToAdminSql(admin, t));
  if (opts.auditStatements && opts.flavour === 'mariadb') statements.push(grantAuditListSql(admin));
  return statements;
}

/** A statement as a DBA pastes it into the mysql CLI (compound statements need another delimiter there). */
export function forCli(statement: string): string {
  return /\nBEGIN\n/.test(statement) ? `DELIMITER //\n${statement} //\nDELIMITER ;` : `${statement};`;
}
