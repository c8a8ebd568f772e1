/**
 * PostgreSQL failures → TargetError kinds, by SQLSTATE (`err.code`) or Node's errno code only — never by message
 * text, which is translated under `lc_messages` (teleport#37394).
 */
import { TargetError, type TargetErrorKind } from '../../core/errors.js';
import { scrub } from '../scrub.js';

const NODE_RETRYABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

const SQLSTATE_PATTERN = /^[0-9A-Z]{5}$/;

/** The SQLSTATE or Node error code of `err`, when it has one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.length > 0 ? code : undefined;
}

/** The TargetError kind for a SQLSTATE or Node errno code. */
export function classifyCode(code: string | undefined): TargetErrorKind {
  if (code === undefined) return 'permanent';
  if (NODE_RETRYABLE.has(code)) return 'retryable';
  if (!SQLSTATE_PATTERN.test(code)) return 'permanent';
  switch (code) {
    case '42501': // insufficient_privilege
      return 'permission';
    case '25006': // read_only_sql_transaction: a standby or a read-only endpoint
      return 'read_only';
    case 'XX000': // internal_error: "tuple concurrently updated" on concurrent catalog DDL
    case '40P01': // deadlock_detected
    case '40001': // serialization_failure
    case '55P03': // lock_not_available (lock_timeout)
    case '55006': // object_in_use
    case '57014': // query_canceled (statement_timeout)
    case '23505': // unique_violation: a concurrent CREATE ROLE; the retry re-checks and adopts or refuses
    case '2BP01': // dependent_objects_still_exist: something appeared between DROP OWNED and DROP ROLE
    case '53300': // too_many_connections
      return 'retryable';
    case '0LP01': // invalid_grant_operation (e.g. a circular membership)
    case '42704': // undefined_object: an unknown role in the catalog
      return 'invalid';
  }
  const cls = code.slice(0, 2);
  if (cls === '08') return 'retryable'; // connection exception
  if (cls === '57') return 'retryable'; // operator intervention: admin_shutdown 57P01, crash_shutdown, cannot_connect_now
  if (cls === '53') return 'retryable'; // insufficient resources
  if (cls === '40') return 'retryable'; // transaction rollback
  if (cls === '28') return 'permission'; // the admin's own login was refused
  if (cls === '42' || cls === '22' || cls === '3D' || cls === '3F' || cls === '0L') return 'invalid';
  return 'permanent';
}

/** Kind for any thrown value: SQLSTATE/errno when present; the driver's own code-less errors (connection ended,
 *  connect timeout) are transient; programming errors are permanent. */
export function classifyError(err: unknown): TargetErrorKind {
  if (err instanceof TargetError) return err.kind;
  const code = errorCode(err);
  if (code !== undefined) return classifyCode(code);
  if (
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof SyntaxError ||
    err instanceof ReferenceError
  )
    return 'permanent';
  return err instanceof Error ? 'retryable' : 'permanent';
}

/**
 * A secret-free TargetError for `err`. Only the driver's `message` is kept (PostgreSQL's messages never echo the
 * statement), passed through scrub(); the original error is not attached as `cause`, so nothing that held SQL
 * text travels with it.
 */
export function toTargetError(err: unknown, context: string, secrets: ReadonlyArray<string | undefined>): TargetError {
  if (err instanceof TargetError) {
    const message = scrub(err.message, secrets);
    return message === err.message ? err : new TargetError(err.kind, message, err.code);
  }
  const code = errorCode(err);
  const raw = err instanceof Error ? err.message : String(err);
  return new TargetError(classifyError(err), scrub(`${context}: ${raw}`, secrets), code);
}
