/**
 * The closed set of failures the core reports. User-facing sentences are chosen at the edges (CLI, chat);
 * the `message` here is for operators and logs and never contains a secret.
 */
export type BrokerErrorCode =
  | 'INVALID_INPUT' // a field of a request or command is malformed; `field` names it
  | 'UNKNOWN_DATABASE'
  | 'UNKNOWN_LEVEL'
  | 'DURATION_TOO_LONG'
  | 'NOT_FOUND'
  | 'ALREADY_DECIDED' // a conditional transition found the row in another state
  | 'FORBIDDEN'
  | 'SELF_APPROVAL'
  | 'RATE_LIMITED' // too many commands from one person in a short time; retry later
  | 'TARGET_ERROR'; // a DatabaseEngine failed; `cause` is a TargetError

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    readonly details: { field?: string; valid?: readonly string[] } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * How a target failure should be handled. Adapters classify by SQLSTATE / errno only, never by message text.
 * - retryable: transient (connection refused, deadlock, "tuple concurrently updated", lock timeout)
 * - permission: the broker's admin account lacks a privilege (a DBA must act; retrying will not help soon)
 * - read_only: the target is a replica / read-only; DDL is refused
 * - conflict: a user with the generated name exists and is not ours (never adopted, never dropped)
 * - invalid: the catalog asked for something the server rejects (unknown role, bad template)
 * - permanent: anything else that is not expected to heal by retrying
 */
export type TargetErrorKind = 'retryable' | 'permission' | 'read_only' | 'conflict' | 'invalid' | 'permanent';

export class TargetError extends Error {
  override readonly name = 'TargetError';
  constructor(
    readonly kind: TargetErrorKind,
    message: string,
    /** SQLSTATE (PostgreSQL) or errno (MySQL/MariaDB), when the server gave one. */
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof TargetError ? err.kind === 'retryable' : !(err instanceof BrokerError);
}

/** A short, secret-free description of any error, for audit rows and the state DB. */
export function describeError(err: unknown): string {
  if (err instanceof TargetError) return `${err.kind}${err.code ? ` (${err.code})` : ''}: ${err.message}`;
  if (err instanceof BrokerError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
