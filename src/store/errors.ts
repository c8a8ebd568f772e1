/**
 * Failures of the state store itself (configuration, connection, migration). Messages name the URL only through
 * describeStateStoreUrl, so they never carry its password; the driver error is not attached as `cause` for the
 * same reason (its message is scrubbed and copied instead).
 */
export type StateStoreErrorKind = 'config' | 'connect' | 'migration';

export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
  constructor(
    readonly kind: StateStoreErrorKind,
    message: string,
    /** The driver's code when there was one (ECONNREFUSED, 28P01, ER_ACCESS_DENIED_ERROR, SQLITE_CANTOPEN …). */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Unique-key violation, by SQLSTATE / errno / SQLite extended code (never by message text). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return (
    e?.code === '23505' || // PostgreSQL unique_violation
    e?.code === 'ER_DUP_ENTRY' ||
    e?.errno === 1062 || // MySQL / MariaDB
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}
