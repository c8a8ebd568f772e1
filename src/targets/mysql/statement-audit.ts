/**
 * auditStatements on MariaDB: the server_audit plugin logs the queries of the accounts named in the global
 * `server_audit_incl_users` (a comma-separated list of user names, at most 1023 bytes). db-access adds an issued
 * user to it before creating the account and removes it when the account is dropped, leaving every other entry as
 * it found it.
 *
 * The list is one global value that others (a DBA, another tool) may write too, so every change is a
 * read-modify-write: under the engine's DDL section (per-server mutex and GET_LOCK, so db-access processes take
 * turns), written with a compare-and-set (the new value only if the list still reads as it did), then read back;
 * a list that moved meanwhile is read and changed again.
 *
 * An EMPTY list means "log every account" (minus server_audit_excl_users): adding a first name would narrow the log
 * to that one account, so an empty list is left empty — the issued user is logged with everyone.
 *
 * MySQL 8 Community has no per-account statement log (the audit_log plugin is MySQL Enterprise's, and db-access does
 * not drive it), so a level with auditStatements is refused there.
 */
import { TargetError } from '../../core/errors.js';
import type { AccessLevel } from '../../core/catalog.js';
import { ERRNO, serverErrno } from './errors.js';
import { grantAuditListSql } from './admin-setup.js';
import { rows, run, type Queryable } from './session.js';

/** The plugin keeps the list in a 1024-byte buffer: 1024 bytes are silently cut to 1023 (MariaDB 10.11), more refused. */
export const AUDIT_LIST_MAX_BYTES = 1023;

const CAS_ATTEMPTS = 5;

/** Why MySQL refuses a level with auditStatements (check and provisioning say the same). */
export function mysqlAuditRefusal(levels: readonly string[]): string {
  return `level${levels.length > 1 ? 's' : ''} ${levels.join(', ')} ask${levels.length > 1 ? '' : 's'} for auditStatements, which db-access supports on MariaDB (server_audit plugin) and PostgreSQL only: MySQL 8 Community has no per-account statement log (MySQL Enterprise Audit is not driven by db-access). Remove auditStatements from ${levels.length > 1 ? 'those levels' : 'that level'}, or log every statement server-wide (general_log) if you must`;
}

/** The refusal for one level on MySQL, before anything is written. */
export function refuseOnMysql(level: AccessLevel): TargetError {
  return new TargetError('invalid', mysqlAuditRefusal([level.name]));
}

/** The entries of the list as the plugin reads them: split at commas, blanks around names ignored, empty ones dropped. */
export function parseAuditList(value: unknown): string[] {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) return [];
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The list with `names` appended (those not already in it); undefined when it is empty and must stay so. */
export function withUsers(list: readonly string[], names: readonly string[]): string[] | undefined {
  if (list.length === 0) return undefined;
  return [...list, ...[...new Set(names)].filter((n) => !list.includes(n))];
}

/** The list without `names`; every other entry kept, in its order. */
export function withoutUsers(list: readonly string[], names: readonly string[]): string[] {
  const drop = new Set(names);
  return list.filter((n) => !drop.has(n));
}

/** What the plugin will hold: names joined by commas. Refuses a list the plugin would reject as too long. */
export function auditListValue(list: readonly string[]): string {
  const value = list.join(',');
  if (Buffer.byteLength(value) > AUDIT_LIST_MAX_BYTES)
    throw new TargetError(
      'permanent',
      `server_audit_incl_users would exceed the plugin's ${AUDIT_LIST_MAX_BYTES} bytes with ${list.length} names: too many audited users live at once on this server (shorten the DBA's entries, or wait for grants to end)`,
    );
  return value;
}

/**
 * Adds `names` to server_audit_incl_users (see the file header; call under the DDL lock). Refuses while
 * server_audit_logging is OFF: the users would be created with nothing logging them.
 */
export async function addToAuditList(conn: Queryable, names: readonly string[]): Promise<'added' | 'everyone'> {
  const [row] = await rows(conn, 'SELECT @@GLOBAL.server_audit_logging AS logging');
  if (Number(row?.logging) !== 1)
    throw new TargetError(
      'invalid',
      `auditStatements: server_audit_logging is OFF, so the server_audit plugin logs nothing: SET GLOBAL server_audit_logging = ON; (and server_audit_logging = ON in the server configuration)`,
    );
  let outcome: 'added' | 'everyone' = 'added';
  await changeAuditList(conn, (list) => {
    const next = withUsers(list, names);
    if (next === undefined) outcome = 'everyone';
    return next;
  });
  return outcome;
}

/** Removes `names` from server_audit_incl_users (see the file header; call under the DDL lock). */
export async function removeFromAuditList(conn: Queryable, names: readonly string[]): Promise<void> {
  await changeAuditList(conn, (list) => (names.some((n) => list.includes(n)) ? withoutUsers(list, names) : list));
}

/** Read → change → compare-and-set → read back, until the list read back is the one written. */
async function changeAuditList(conn: Queryable, change: (list: string[]) => string[] | undefined): Promise<void> {
  for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
    const before = await readAuditList(conn);
    const next = change(parseAuditList(before));
    if (next === undefined || sameList(next, parseAuditList(before))) return;
    const value = auditListValue(next);
    await run(
      conn,
      'SET GLOBAL server_audit_incl_users = IF(@@GLOBAL.server_audit_incl_users <=> ?, ?, @@GLOBAL.server_audit_incl_users)',
      [before, value],
    );
    if (sameList(parseAuditList(await readAuditList(conn)), next)) return;
  }
  throw new TargetError(
    'retryable',
    `server_audit_incl_users changed under db-access ${CAS_ATTEMPTS} times in a row; will retry`,
  );
}

async function readAuditList(conn: Queryable): Promise<string | null> {
  const [row] = await rows(conn, 'SELECT @@GLOBAL.server_audit_incl_users AS v');
  const v: unknown = row?.v;
  return v === null || v === undefined ? null : String(v);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** A failure to change the list, in words a DBA can act on (plugin missing, SUPER missing); undefined for others. */
export function auditListProblem(err: unknown, adminAccount: string): TargetError | undefined {
  const errno = serverErrno(err);
  if (errno === ERRNO.UNKNOWN_SYSTEM_VARIABLE)
    return new TargetError(
      'invalid',
      `auditStatements needs MariaDB's server_audit plugin, which is not loaded: INSTALL SONAME 'server_audit'; SET GLOBAL server_audit_logging = ON; (and load it in the server configuration so it survives a restart)`,
      String(errno),
    );
  if (errno === ERRNO.SPECIFIC_ACCESS_DENIED)
    return new TargetError(
      'permission',
      `auditStatements needs the admin to change server_audit_incl_users, which takes SUPER: ${grantAuditListSql(adminAccount)};`,
      String(errno),
    );
  return undefined;
}
