/**
 * Statement builders. Every statement is one string for one `query()` call; identifiers go through
 * escapeIdentifier and literals through escapeLiteral, over names checked against allow-lists first. Utility
 * statements (CREATE/ALTER ROLE, GRANT, COMMENT) cannot take bind parameters, hence the quoting.
 */
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { GuardRails } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import { USERNAME_PATTERN } from '../../core/identifiers.js';

/** Builders refuse bad input with TargetError('invalid'): retrying cannot fix it. */
function invalid(message: string): never {
  throw new TargetError('invalid', message);
}

/** The advisory lock every db-access process takes around role DDL ('dbaccess' in ASCII). Advisory locks are
 *  per database, so this serialises brokers working on the same catalog database; other collisions are retried. */
export const DDL_ADVISORY_LOCK_KEY = '7233184875441820531';

/** Quoted user name, after checking it is one of ours (prefix, lowercase, short). */
export function userIdent(username: string): string {
  if (!USERNAME_PATTERN.test(username))
    invalid(`refusing a user name outside ${USERNAME_PATTERN}: ${JSON.stringify(username)}`);
  return escapeIdentifier(username);
}

/** Quoted role name (catalog roles were validated already; quote anyway). */
export function roleIdent(role: string): string {
  if (role.length === 0 || role.length > 63 || role.includes('\0'))
    invalid(`invalid role name ${JSON.stringify(role)}`);
  return escapeIdentifier(role);
}

/** Printable ASCII only: SASLprep is then the identity, so the verifier matches what clients send. */
export function assertPassword(password: string): void {
  if (!/^[\x21-\x7e]{16,}$/.test(password)) invalid('refusing a password that is not 16+ printable ASCII characters');
}

export function isoLiteral(epochMs: number): string {
  if (!Number.isFinite(epochMs)) invalid('expiry is not a finite time');
  return escapeLiteral(new Date(epochMs).toISOString());
}

export interface CreateRoleOptions {
  username: string;
  /** Undefined: PASSWORD NULL — password authentication always fails until one is set. */
  verifier: string | undefined;
  expiresAt: number;
  connectionLimit: number;
}

function connectionLimit(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) invalid(`connection limit ${n} is not an integer in 1..10000`);
  return n;
}

export function createRoleSql(o: CreateRoleOptions): string {
  return (
    `CREATE ROLE ${userIdent(o.username)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT ` +
    `CONNECTION LIMIT ${connectionLimit(o.connectionLimit)} PASSWORD ${passwordValue(o.verifier)} VALID UNTIL ${isoLiteral(o.expiresAt)}`
  );
}

function passwordValue(verifier: string | undefined): string {
  return verifier === undefined ? 'NULL' : escapeLiteral(verifier);
}

/** ALTER ROLE for adoption: only attributes a CREATEROLE non-superuser may name (PG ≤ 15 refuses NOSUPERUSER etc.). */
export function adoptRoleSql(o: CreateRoleOptions): string {
  return (
    `ALTER ROLE ${userIdent(o.username)} WITH LOGIN CONNECTION LIMIT ${connectionLimit(o.connectionLimit)} ` +
    `PASSWORD ${passwordValue(o.verifier)} VALID UNTIL ${isoLiteral(o.expiresAt)}`
  );
}

export function setPasswordSql(username: string, verifier: string): string {
  return `ALTER ROLE ${userIdent(username)} WITH PASSWORD ${escapeLiteral(verifier)}`;
}

export function validUntilSql(username: string, expiresAt: number): string {
  return `ALTER ROLE ${userIdent(username)} VALID UNTIL ${isoLiteral(expiresAt)}`;
}

export function disableRoleSql(username: string): string {
  return `ALTER ROLE ${userIdent(username)} WITH NOLOGIN VALID UNTIL '1970-01-01T00:00:00Z'`;
}

export function commentSql(username: string, marker: string): string {
  return `COMMENT ON ROLE ${userIdent(username)} IS ${escapeLiteral(marker)}`;
}

export function grantRoleSql(role: string, username: string): string {
  return `GRANT ${roleIdent(role)} TO ${userIdent(username)}`;
}

/** PG ≤ 15: the admin becomes a member of the user, so it may terminate its sessions and DROP OWNED BY it. */
export function grantUserToAdminSql(username: string): string {
  return `GRANT ${userIdent(username)} TO CURRENT_USER`;
}

/** `ALTER ROLE … SET/RESET` statements for the level's guard-rails (milliseconds, integers). */
export function guardRailSql(username: string, g: GuardRails): string[] {
  const user = userIdent(username);
  const set = (name: string, ms: number | undefined) => {
    if (ms === undefined) return `ALTER ROLE ${user} RESET ${name}`;
    if (!Number.isInteger(ms) || ms < 0 || ms > 2_147_483_647)
      invalid(`${name} ${ms} is not an integer of milliseconds`);
    return `ALTER ROLE ${user} SET ${name} = ${ms}`;
  };
  return [
    set('statement_timeout', g.statementTimeoutMs),
    set('idle_in_transaction_session_timeout', g.idleInTransactionTimeoutMs),
  ];
}

/**
 * auditStatements: every statement of the user's sessions goes to the server log. log_statement is superuser-only
 * (the user cannot SET it back), so storing it on a role needs a superuser or, from 15, SET on the parameter.
 */
export function auditStatementsSql(username: string): string {
  return `ALTER ROLE ${userIdent(username)} SET log_statement = 'all'`;
}

export const DROP_OWNED = (username: string) => `DROP OWNED BY ${userIdent(username)}`;
export const DROP_ROLE = (username: string) => `DROP ROLE IF EXISTS ${userIdent(username)}`;

/** `REASSIGN OWNED BY a, b TO r`: what the users own in this database becomes r's (onExpiry reassignTo). */
export const REASSIGN_OWNED = (usernames: readonly string[], role: string) =>
  `REASSIGN OWNED BY ${identList(usernames)} TO ${roleIdent(role)}`;

/**
 * The per-database cleanup before DROP ROLE, for users each with its onExpiry role (undefined = drop): one REASSIGN
 * OWNED per receiving role, then one DROP OWNED BY for all of them (what is left: privileges granted to them, default
 * privileges, objects of users whose level drops them). Both statements act on the current database only.
 */
export function ownedCleanupSql(users: ReadonlyArray<{ username: string; reassignTo?: string | undefined }>): string[] {
  if (users.length === 0) invalid('an empty list of users');
  const byRole = new Map<string, string[]>();
  for (const u of users)
    if (u.reassignTo !== undefined) byRole.set(u.reassignTo, [...(byRole.get(u.reassignTo) ?? []), u.username]);
  return [
    ...[...byRole].map(([role, names]) => REASSIGN_OWNED(names, role)),
    DROP_OWNED_MANY(users.map((u) => u.username)),
  ];
}

/** Batch forms (disableUsers / deleteUsers). Each refuses an empty list: `DROP OWNED BY` with no role is a syntax error. */
function identList(usernames: readonly string[]): string {
  if (usernames.length === 0) invalid('an empty list of users');
  return usernames.map(userIdent).join(', ');
}

/** `DROP OWNED BY a, b, c` (one statement for many roles). */
export const DROP_OWNED_MANY = (usernames: readonly string[]) => `DROP OWNED BY ${identList(usernames)}`;
/** `DROP ROLE IF EXISTS a, b, c`. */
export const DROP_ROLES = (usernames: readonly string[]) => `DROP ROLE IF EXISTS ${identList(usernames)}`;

/**
 * disableRoleSql for every user, as one simple-protocol query string (no bind parameters, so PostgreSQL accepts
 * several statements in it): one round trip for the whole batch, run inside the caller's transaction.
 */
export function disableRolesSql(usernames: readonly string[]): string {
  if (usernames.length === 0) invalid('an empty list of users');
  return usernames.map(disableRoleSql).join(';\n');
}

const USER_PLACEHOLDER = /\{\{\s*user\s*\}\}/g;
const HAS_USER = /\{\{\s*user\s*\}\}/;

/** Why a catalog template is not a single GRANT with `{{user}}`, or undefined when it is fine. */
export function templateProblem(template: string): string | undefined {
  const t = template.trim().replace(/;\s*$/, '');
  if (!/^GRANT\s/i.test(t)) return 'a template must be a single GRANT statement';
  if (t.includes(';')) return 'a template must be one statement (no ";")';
  if (!HAS_USER.test(t)) return 'a template must name {{user}}';
  if (/--|\/\*/.test(t)) return 'a template must not contain comments';
  if (/\sWITH\s+(GRANT|ADMIN)\s+OPTION/i.test(t)) return 'a template must not hand out GRANT or ADMIN OPTION';
  return undefined;
}

/** The template with `{{user}}` replaced by the quoted user name. Throws when the template is malformed. */
export function renderTemplate(template: string, username: string): string {
  const problem = templateProblem(template);
  if (problem) invalid(`${problem}: ${template}`);
  const user = userIdent(username);
  return template
    .trim()
    .replace(/;\s*$/, '')
    .replace(USER_PLACEHOLDER, () => user);
}

/** What the admin needs to run `template` itself: the same privileges WITH GRANT OPTION (roles: WITH ADMIN OPTION). */
export function templatePrerequisiteSql(template: string, adminIdent: string): string | undefined {
  if (templateProblem(template)) return undefined;
  const t = template
    .trim()
    .replace(/;\s*$/, '')
    .replace(USER_PLACEHOLDER, () => adminIdent);
  return /\sON\s/i.test(t) ? `${t} WITH GRANT OPTION` : `${t} WITH ADMIN OPTION`;
}

/**
 * lookupRoles' query with the names as literals, for the simple protocol (no parameters), e.g. in the round trip
 * that begins a transaction: each name passes userIdent's allow-list and is quoted by escapeLiteral.
 */
export function lookupRolesSql(usernames: readonly string[]): string {
  const names = usernames.map((u) => {
    userIdent(u);
    return escapeLiteral(u);
  });
  return `SELECT r.rolname::text AS rolname, pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment
       FROM pg_catalog.pg_roles r WHERE r.rolname = ANY(ARRAY[${names.join(', ')}]::text[])`;
}
