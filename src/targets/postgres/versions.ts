/**
 * server_version_num thresholds where PostgreSQL changed something db-access relies on. CI runs the engine contract
 * on 14–18 and the whole lifecycle on 15 and 18 (test/support/pg-versions.ts).
 */

/** pg_terminate_backend(pid, timeout) waits for the backend to exit. */
export const PG14 = 140000;

/** Superuser-only parameters can be granted (GRANT SET ON PARAMETER; has_parameter_privilege). */
export const PG15 = 150000;

/**
 * CREATEROLE was narrowed: granting, altering, commenting on and dropping a role needs ADMIN OPTION on it (the creator
 * gets it on roles it creates); membership grants take INHERIT / SET options; createrole_self_grant makes the creator
 * a member of what it creates. Before 16, CREATEROLE covered every non-superuser role.
 */
export const PG16 = 160000;

/** MD5-encrypted passwords are deprecated (a warning whenever one is set). */
export const PG18 = 180000;
