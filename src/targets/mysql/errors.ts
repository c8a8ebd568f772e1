/**
 * MySQL/MariaDB error classification. By server errno only (plus the flavour where the two servers give one
 * number different meanings), never by message text or by mysql2's `code` string: mysql2 names every errno
 * after MySQL's table, so MariaDB's 4151 "account is locked" arrives labelled ER_BULK_PARSER_INCOMPLETE_ESCAPE_SEQUENCE.
 * Network failures carry no server errno; they are recognised by Node's system error codes.
 */
import { TargetError, type TargetErrorKind } from '../../core/errors.js';
import { scrub } from '../scrub.js';

export type Flavour = 'mysql' | 'mariadb';

/** The errno values the adapter branches on (both flavours unless named). */
export const ERRNO = {
  /** CREATE/DROP/ALTER USER or ROLE failed: the account exists (CREATE) or is absent (DROP/ALTER). */
  ACCOUNT_OPERATION_FAILED: 1396,
  /** KILL of a thread that has already gone. */
  UNKNOWN_THREAD: 1094,
  EVENT_ALREADY_EXISTS: 1537,
  DEADLOCK: 1213,
  LOCK_WAIT_TIMEOUT: 1205,
  /** The account's MAX_USER_CONNECTIONS is used up. */
  USER_LIMIT_REACHED: 1226,
  /** MariaDB: login to an account with ACCOUNT LOCK. */
  MARIADB_ACCOUNT_LOCKED: 4151,
  /** MySQL 8: login to an account with ACCOUNT LOCK. */
  MYSQL_ACCOUNT_LOCKED: 3118,
  /** MySQL ≥ 8.0.22: DROP USER of an account that is the DEFINER of stored objects. MariaDB drops it anyway. */
  MYSQL_USER_IS_DEFINER: 4006,
  /** MariaDB: the statement ran past MAX_STATEMENT_TIME. */
  MARIADB_STATEMENT_TIMEOUT: 1969,
  /** SET/SELECT of a system variable the server does not have (e.g. a plugin's, when the plugin is not loaded). */
  UNKNOWN_SYSTEM_VARIABLE: 1193,
  /** A statement needs a global privilege the account lacks (SUPER, CREATE USER, …). */
  SPECIFIC_ACCESS_DENIED: 1227,
} as const;

const COMMON: ReadonlyMap<number, TargetErrorKind> = new Map<number, TargetErrorKind>([
  // permission: the broker's admin account lacks something; a DBA must act
  [1044, 'permission'], // access denied to database
  [1045, 'permission'], // access denied for user (bad admin credentials)
  [1095, 'permission'], // KILL of a thread that is not ours (no CONNECTION ADMIN / CONNECTION_ADMIN)
  [1142, 'permission'], // table privilege missing
  [1143, 'permission'], // column privilege missing
  [1227, 'permission'], // CREATE USER / SUPER / CONNECTION ADMIN … missing; role not grantable by us
  [1370, 'permission'], // EXECUTE / ALTER ROUTINE missing
  [1449, 'permission'], // the DEFINER of a routine/event we use no longer exists (DBA dropped the setup account)
  [1698, 'permission'], // access denied (no password)
  // read_only: a replica or a server in read-only mode refuses DDL
  [1036, 'read_only'], // table is read only
  [1290, 'read_only'], // --read-only / --super-read-only prevents the statement
  [1792, 'read_only'], // read-only transaction
  // retryable: transient
  [1040, 'retryable'], // too many connections
  [1053, 'retryable'], // server shutdown in progress
  [1158, 'retryable'],
  [1159, 'retryable'],
  [1160, 'retryable'],
  [1161, 'retryable'], // network read/write errors
  [1203, 'retryable'], // max_user_connections of the admin
  [1205, 'retryable'], // lock wait timeout
  [1213, 'retryable'], // deadlock
  [1317, 'retryable'], // query interrupted
  // conflict: CREATE USER/ROLE found the name taken. (DROP/ALTER callers handle 1396 as "absent" before classifying.)
  [1396, 'conflict'],
  // invalid: the catalog asked for something the server rejects
  [1046, 'invalid'], // no database selected (a template without a qualified object)
  [1049, 'invalid'], // unknown database (template, or broker schema not created)
  [1064, 'invalid'], // syntax error (a malformed template)
  [1146, 'invalid'], // no such table
  [1221, 'invalid'], // incorrect usage
  [1470, 'invalid'], // name too long
]);

const MARIADB_ONLY: ReadonlyMap<number, TargetErrorKind> = new Map<number, TargetErrorKind>([
  [1927, 'retryable'], // connection was killed
  [1959, 'invalid'], // invalid role specification (unknown role)
  [1969, 'retryable'], // max_statement_time exceeded
  [4151, 'permission'], // the admin account is locked
]);

const MYSQL_ONLY: ReadonlyMap<number, TargetErrorKind> = new Map<number, TargetErrorKind>([
  [1836, 'read_only'], // running in read-only mode
  [3024, 'retryable'], // MAX_EXECUTION_TIME exceeded
  [3118, 'permission'], // the admin account is locked
  [3523, 'invalid'], // unknown authorization ID (unknown role)
  [3530, 'invalid'], // role not granted
  [4006, 'permanent'], // DROP USER of a definer: the account stays locked, a human must look
  [4031, 'retryable'], // disconnected by the server for inactivity
]);

/** Node/mysql2 transport failures: no server errno, the server is unreachable or the socket died. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** The server's errno, when the error came from the server (Node system errors carry negative errnos). */
export function serverErrno(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const errno = (err as { errno?: unknown }).errno;
  return typeof errno === 'number' && Number.isInteger(errno) && errno > 0 ? errno : undefined;
}

function nodeCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && NETWORK_CODES.has(code) ? code : undefined;
}

export function classifyMysqlError(err: unknown, flavour: Flavour): TargetErrorKind {
  const errno = serverErrno(err);
  if (errno !== undefined) {
    const specific = (flavour === 'mariadb' ? MARIADB_ONLY : MYSQL_ONLY).get(errno);
    return specific ?? COMMON.get(errno) ?? 'permanent';
  }
  if (nodeCode(err)) return 'retryable';
  if (isFatal(err)) return 'retryable';
  return 'permanent';
}

export function isErrno(err: unknown, errno: number): boolean {
  return serverErrno(err) === errno;
}

/** Deadlock / lock-wait: worth retrying the same statement after a short, jittered pause. */
export function isLockContention(err: unknown): boolean {
  const errno = serverErrno(err);
  return errno === ERRNO.DEADLOCK || errno === ERRNO.LOCK_WAIT_TIMEOUT;
}

/** mysql2's mark of a connection-level failure: the connection is unusable (and any GET_LOCK on it released). */
export function isFatal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { fatal?: unknown }).fatal === true;
}

/** 1094: the thread ended before our KILL reached it — the goal is met. */
export function isUnknownThread(err: unknown): boolean {
  return serverErrno(err) === ERRNO.UNKNOWN_THREAD;
}

/** A login refused because the account is locked (ACCOUNT LOCK). The numbers differ between the servers. */
export function isAccountLocked(err: unknown, flavour: Flavour): boolean {
  return serverErrno(err) === (flavour === 'mariadb' ? ERRNO.MARIADB_ACCOUNT_LOCKED : ERRNO.MYSQL_ACCOUNT_LOCKED);
}

/**
 * Any failure as a TargetError with its secrets scrubbed. The driver error is not attached as `cause`: it
 * carries the SQL text (`err.sql`), which may hold a password.
 */
export function toTargetError(
  err: unknown,
  flavour: Flavour,
  secrets: ReadonlyArray<string | undefined>,
  context?: string,
): TargetError {
  if (err instanceof TargetError) {
    const message = scrub(err.message, secrets);
    return message === err.message ? err : new TargetError(err.kind, message, err.code);
  }
  const errno = serverErrno(err);
  const raw = err instanceof Error ? err.message : String(err);
  const text = scrub(context ? `${context}: ${raw}` : raw, secrets);
  const code = errno !== undefined ? String(errno) : nodeCode(err);
  return new TargetError(classifyMysqlError(err, flavour), text, code);
}
