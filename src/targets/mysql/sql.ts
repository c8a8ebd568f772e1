/**
 * Statement builders for the MySQL/MariaDB engine: pure functions over allow-listed names, quoted with mysql2's
 * client-side `escape`/`escapeId`. Account DDL is never sent as a server-side prepared statement (many forms are
 * refused there), and every statement is a single one (the pool runs with multipleStatements off).
 *
 * Where MySQL 8 differs from MariaDB 10.11, the MySQL branch is written from the manual and is NOT exercised by
 * the tests here (only MariaDB runs in CI); such branches say "MySQL 8 (untested)".
 */
import mysql from 'mysql2';
import type { AccessLevel } from '../../core/catalog.js';
import { TargetError } from '../../core/errors.js';
import { USERNAME_PATTERN, USERNAME_PREFIX } from '../../core/identifiers.js';
import type { Flavour } from './errors.js';

export const MARKER_TABLE = 'managed_users';
/** MariaDB: the DBA-owned SQL SECURITY DEFINER procedure that runs SET DEFAULT ROLE … FOR (see admin-setup.ts). */
export const DEFAULT_ROLE_PROCEDURE = 'set_default_role';
/** Server-wide user-level lock (GET_LOCK) that serialises account DDL across broker processes. */
export const DDL_LOCK_NAME = 'db_access_ddl';

const ROLE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;
const SCHEMA_NAME = /^[A-Za-z0-9_$]{1,64}$/;
/** A templated grant: one GRANT statement ending in `TO {{user}}` (so no WITH GRANT/ADMIN OPTION), no `;`. */
const TEMPLATE = /^\s*GRANT\s[^;]*?\sTO\s+\{\{user\}\}\s*$/i;

export function q(value: string | number): string {
  return mysql.escape(value);
}

export function qid(name: string): string {
  return mysql.escapeId(name);
}

export function assertJitUser(user: string): void {
  if (!USERNAME_PATTERN.test(user)) {
    throw new TargetError('invalid', `refusing a user name outside ${USERNAME_PATTERN}: ${JSON.stringify(user)}`);
  }
}

export function assertRoleName(role: string): void {
  if (!ROLE_NAME.test(role))
    throw new TargetError('invalid', `role name ${JSON.stringify(role)} is outside ${ROLE_NAME}`);
}

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema))
    throw new TargetError('invalid', `broker schema ${JSON.stringify(schema)} is outside ${SCHEMA_NAME}`);
}

/** `'jit_x'@'%'`: every issued account has the any-host form. */
export function account(user: string): string {
  assertJitUser(user);
  return `${q(user)}@'%'`;
}

/** A role in GRANT/DROP ROLE position. Both servers accept a backquoted name (MySQL reads it as `'name'@'%'`). */
export function role(name: string): string {
  assertRoleName(name);
  return qid(name);
}

/**
 * MariaDB's per-user bundle role (Teleport's pattern): MariaDB activates exactly one role at login, so a level
 * with several roles gets `jitr_<suffix>` holding them all, set as the default role. ≤ 31 characters.
 */
export function bundleRoleName(user: string): string {
  assertJitUser(user);
  return `jitr_${user.slice(USERNAME_PREFIX.length)}`;
}

export function inSchema(schema: string, name: string): string {
  assertSchemaName(schema);
  return `${qid(schema)}.${qid(name)}`;
}

// ----------------------------------------------------------------------------------------------------------------
// Marker table
// ----------------------------------------------------------------------------------------------------------------

/**
 * The broker's marker, on both flavours. MySQL 8.0.21+ could carry it in `ATTRIBUTE '{json}'`, but a table the
 * issued user cannot read or edit works the same on MariaDB (which has no user comments) and is written before
 * CREATE USER. Times are UTC.
 */
export function markerTableDdl(schema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${inSchema(schema, MARKER_TABLE)} (` +
    '`user` VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, ' +
    '`grant_id` BIGINT NOT NULL, ' +
    "`expires_at` DATETIME(3) NOT NULL COMMENT 'UTC', " +
    "`created_at` DATETIME(3) NOT NULL COMMENT 'UTC', " +
    `${MARKER_INSTALLATION_COLUMN}` +
    ") ENGINE=InnoDB COMMENT='db-access: users created by the broker (written before CREATE USER)'"
  );
}

/** Which installation wrote the marker (two brokers may share a server); NULL on markers written before it existed. */
const MARKER_INSTALLATION_COLUMN =
  "`installation` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'db-access installation id'";

/** For marker tables created before installation ids (MySQL 8 has no ADD COLUMN IF NOT EXISTS: callers check first). */
export function addMarkerInstallationSql(schema: string): string {
  return `ALTER TABLE ${inSchema(schema, MARKER_TABLE)} ADD COLUMN ${MARKER_INSTALLATION_COLUMN}`;
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, for a DATETIME(3) column. */
export function utcDatetime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('T', ' ').replace('Z', '');
}

/** Reads back what utcDatetime wrote (the pool returns DATETIME as strings). */
export function parseUtcDatetime(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(`${value.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

// ----------------------------------------------------------------------------------------------------------------
// Accounts
// ----------------------------------------------------------------------------------------------------------------

/**
 * Guard-rails as account resource options. MariaDB: MAX_USER_CONNECTIONS and MAX_STATEMENT_TIME (seconds, may be
 * fractional). MySQL 8 (untested) has no per-account statement timeout (MAX_EXECUTION_TIME is a session/optimizer
 * hint the user can override), so a level asking for one is refused rather than silently weakened. Neither server
 * has a per-account idle-in-transaction timeout.
 */
export function resourceOptions(level: AccessLevel, flavour: Flavour): string {
  const { connectionLimit, statementTimeoutMs, idleInTransactionTimeoutMs } = level.guardRails;
  if (idleInTransactionTimeoutMs !== undefined) {
    throw new TargetError(
      'invalid',
      `level ${level.name}: idleInTransactionTimeoutMs is not supported on ${flavour} (no per-account idle-in-transaction timeout); remove it from the catalog`,
    );
  }
  if (!Number.isSafeInteger(connectionLimit) || connectionLimit < 1) {
    throw new TargetError('invalid', `level ${level.name}: connectionLimit must be a positive integer`);
  }
  let sql = `WITH MAX_USER_CONNECTIONS ${connectionLimit}`;
  if (statementTimeoutMs !== undefined) {
    if (flavour === 'mysql') {
      throw new TargetError(
        'invalid',
        `level ${level.name}: statementTimeoutMs is not supported on MySQL (no per-account statement timeout; only MariaDB has MAX_STATEMENT_TIME); remove it from the catalog`,
      );
    }
    if (!Number.isFinite(statementTimeoutMs) || statementTimeoutMs <= 0) {
      throw new TargetError('invalid', `level ${level.name}: statementTimeoutMs must be positive`);
    }
    sql += ` MAX_STATEMENT_TIME ${Math.max(statementTimeoutMs / 1000, 0.001).toFixed(3)}`;
  }
  return sql;
}

/**
 * Lock and password options in the order MariaDB documents (lock, then password); MySQL 8 accepts them in any
 * order. PASSWORD EXPIRE NEVER insulates the account from default_password_lifetime.
 */
const UNLOCKED = 'ACCOUNT UNLOCK PASSWORD EXPIRE NEVER';

/**
 * An account that no password opens, for a user created before anyone asked for its password (the first one is set
 * by `ALTER USER … IDENTIFIED BY` at the reveal, which keeps the plugin). MariaDB: mysql_native_password with the
 * string `invalid`, which is not a hash any password produces (its own installer creates root@localhost so);
 * MySQL 8: caching_sha2_password with the invalid salt-and-hash MySQL gives its own system accounts (mysql.sys,
 * mysql.session). Never an empty authentication string: that would let anyone in with no password.
 */
export const NO_PASSWORD = {
  mariadb: `IDENTIFIED VIA mysql_native_password USING 'invalid'`,
  mysql: `IDENTIFIED WITH caching_sha2_password AS '$A$005$THISISACOMBINATIONOFINVALIDSALTANDPASSWORDTHATMUSTNEVERBRBEUSED'`,
} as const satisfies Record<Flavour, string>;

/** The authentication clause: the password, or NO_PASSWORD when it is undefined. */
function identified(password: string | undefined, flavour: Flavour): string {
  return password === undefined ? NO_PASSWORD[flavour] : `IDENTIFIED BY ${q(password)}`;
}

export function createUserSql(
  user: string,
  password: string | undefined,
  level: AccessLevel,
  flavour: Flavour,
): string {
  return `CREATE USER ${account(user)} ${identified(password, flavour)} ${resourceOptions(level, flavour)} ${UNLOCKED}`;
}

/** createUserSql for several accounts of the same resource options in one statement (both servers take a list). */
export function createUsersSql(
  users: ReadonlyArray<{ user: string; password: string | undefined }>,
  level: AccessLevel,
  flavour: Flavour,
): string {
  const accounts = users.map((u) => `${account(u.user)} ${identified(u.password, flavour)}`);
  return `CREATE USER ${accounts.join(', ')} ${resourceOptions(level, flavour)} ${UNLOCKED}`;
}

/** The adopt path: converge a leftover of the same grant (new password or none, guard-rails, unlocked). */
export function convergeUserSql(
  user: string,
  password: string | undefined,
  level: AccessLevel,
  flavour: Flavour,
): string {
  return `ALTER USER ${account(user)} ${identified(password, flavour)} ${resourceOptions(level, flavour)} ${UNLOCKED}`;
}

/** A templated grant with `{{user}}` replaced by the quoted account. */
export function renderTemplate(template: string, user: string, levelName: string): string {
  if (!TEMPLATE.test(template)) {
    throw new TargetError(
      'invalid',
      `level ${levelName}: a templated grant must be one GRANT statement ending in "TO {{user}}": ${JSON.stringify(template)}`,
    );
  }
  return template.replace('{{user}}', account(user));
}

export function isValidTemplate(template: string): boolean {
  return TEMPLATE.test(template);
}

// ----------------------------------------------------------------------------------------------------------------
// Expiry backstop (one recurring EVENT per broker schema)
// ----------------------------------------------------------------------------------------------------------------

/** The broker schema's expiry event. Outside `expire_jit_…`, the names of the per-user events of earlier versions. */
export const EXPIRY_EVENT = 'db_access_expiry';
/** How often the event looks for expired markers. */
export const EXPIRY_EVENT_EVERY_SECONDS = 5;
/**
 * A marker is acted on once it has been expired this long: the broker's own revocation (lock, sessions read and
 * ended, drop) comes first whenever the broker is up; the event is for when it is not.
 */
export const EXPIRY_EVENT_GRACE_SECONDS = 2;

/** Runs `sqlExpr` (an SQL string expression) as a statement: account names come from a variable. */
function dynamic(sqlExpr: string): string[] {
  return [
    `SET @db_access_sql = ${sqlExpr};`,
    'PREPARE db_access_stmt FROM @db_access_sql;',
    'EXECUTE db_access_stmt;',
    'DEALLOCATE PREPARE db_access_stmt;',
  ];
}

/**
 * What the event does every few seconds, as its definer (the broker's admin): for each marker in the schema expired
 * for longer than the grace, and naming a `jit_` account (a marker row is all it takes to make the event act, so no
 * other name is touched), lock the account, end its connections, drop it (and MariaDB's bundle role), forget the
 * marker. Each account in a block of its own: a failing statement leaves that account and its marker for the next
 * run, the sweeper and the broker, and the others are still ended.
 *
 * MariaDB: `KILL HARD USER 'name'@'%'` ends every connection of the account in one statement (verified).
 * MySQL 8 (untested): there is no KILL USER; a cursor over the processlist issues `KILL CONNECTION id`, ignoring
 * 1094 for threads that end on their own. MySQL has no bundle role to drop. DROP USER can fail with 4006 when the
 * user is the DEFINER of stored objects; the account then stays locked and the marker stays for a human.
 */
export function expiryEventBody(schema: string, flavour: Flavour): string {
  const markers = inSchema(schema, MARKER_TABLE);
  const acct = "CONCAT(QUOTE(v_user), '@''%''')";
  const kill =
    flavour === 'mariadb'
      ? dynamic(`CONCAT('KILL HARD USER ', ${acct})`)
      : [
          'kill_sessions: BEGIN',
          '  DECLARE no_more INT DEFAULT FALSE;',
          '  DECLARE v_id BIGINT UNSIGNED;',
          '  DECLARE sessions CURSOR FOR SELECT ID FROM information_schema.PROCESSLIST WHERE USER = v_user;',
          '  DECLARE CONTINUE HANDLER FOR NOT FOUND SET no_more = TRUE;',
          '  OPEN sessions;',
          '  kill_loop: LOOP',
          '    FETCH sessions INTO v_id;',
          '    IF no_more THEN LEAVE kill_loop; END IF;',
          '    BEGIN',
          '      DECLARE CONTINUE HANDLER FOR 1094 BEGIN END;',
          '      KILL CONNECTION v_id;',
          '    END;',
          '  END LOOP;',
          '  CLOSE sessions;',
          'END kill_sessions;',
        ];
  const bundleRole =
    flavour === 'mariadb'
      ? dynamic(
          `CONCAT('DROP ROLE IF EXISTS ', QUOTE(CONCAT('jitr_', SUBSTRING(v_user, ${USERNAME_PREFIX.length + 1}))))`,
        )
      : [];
  const perUser = [
    'DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN END;',
    ...dynamic(`CONCAT('ALTER USER IF EXISTS ', ${acct}, ' ACCOUNT LOCK')`),
    ...kill,
    ...dynamic(`CONCAT('DROP USER IF EXISTS ', ${acct})`),
    ...bundleRole,
    `DELETE FROM ${markers} WHERE \`user\` = v_user;`,
  ];
  return [
    'BEGIN',
    '  DECLARE done INT DEFAULT FALSE;',
    '  DECLARE v_user VARCHAR(80);',
    `  DECLARE due CURSOR FOR SELECT \`user\` FROM ${markers}`,
    `    WHERE expires_at < UTC_TIMESTAMP(3) - INTERVAL ${EXPIRY_EVENT_GRACE_SECONDS} SECOND`,
    `    AND BINARY \`user\` REGEXP ${q(USERNAME_PATTERN.source)};`,
    '  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = TRUE;',
    '  OPEN due;',
    '  each_user: LOOP',
    '    FETCH due INTO v_user;',
    '    IF done THEN LEAVE each_user; END IF;',
    '    one_user: BEGIN',
    ...perUser.map((l) => `      ${l}`),
    '    END one_user;',
    '  END LOOP;',
    '  CLOSE due;',
    'END',
  ].join('\n');
}

/** The schema's expiry event, made (or replaced by this version's) once per broker start. */
export function createExpiryEventSql(schema: string, flavour: Flavour): string {
  return (
    `CREATE ${flavour === 'mariadb' ? 'OR REPLACE ' : ''}EVENT ${inSchema(schema, EXPIRY_EVENT)} ` +
    `ON SCHEDULE EVERY ${EXPIRY_EVENT_EVERY_SECONDS} SECOND ON COMPLETION PRESERVE ` +
    `COMMENT ${q('db-access backstop: ends jit_ users whose marker has expired')} ` +
    `DO ${expiryEventBody(schema, flavour)}`
  );
}

/** The per-user one-shot event an earlier version made for `user`; dropped wherever it may still be. */
export function legacyExpiryEventName(user: string): string {
  assertJitUser(user);
  return `expire_${user}`;
}

export function dropExpiryEventSql(schema: string, user: string): string {
  return `DROP EVENT IF EXISTS ${inSchema(schema, legacyExpiryEventName(user))}`;
}
