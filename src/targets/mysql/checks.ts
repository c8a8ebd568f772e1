/**
 * `initialize`: what the broker's admin account can and cannot do on this server, in plain words, each missing
 * thing with the exact statement from admin-setup.ts that fixes it. Privileges are read from information_schema
 * views every account may read for itself; nothing here needs more than the documented setup.
 */
import type { AccessLevel, DatabaseEntry } from '../../core/catalog.js';
import type { EngineCapabilities, EngineCheck } from '../../core/ports.js';
import {
  BROKER_SCHEMA_PRIVILEGES,
  accountTable,
  adminAccount,
  createBrokerSchemaSql,
  createDefaultRoleProcedureSql,
  forCli,
  grantAccountLookupSql,
  grantBrokerSchemaSql,
  grantDefaultRoleProcedureSql,
  grantGlobalSql,
  grantRoleAdminSql,
  grantAuditListSql,
  grantTemplateToAdminSql,
} from './admin-setup.js';
import { toTargetError } from './errors.js';
import { mysqlServiceChecks, readMysqlServiceFacts } from './managed-service.js';
import { isSupported, type ServerInfo } from './server-info.js';
import { rows, type Queryable } from './session.js';
import { DEFAULT_ROLE_PROCEDURE, EXPIRY_EVENT, isValidTemplate, q, resourceOptions, role } from './sql.js';
import { adminSecrets } from '../admin-password.js';
import { AUDIT_LIST_MAX_BYTES, mysqlAuditRefusal, parseAuditList } from './statement-audit.js';

export interface InspectInput {
  pool: Queryable;
  db: DatabaseEntry;
  server: ServerInfo;
  /** Creates the marker table if missing; throws when it cannot. */
  ensureMarkerTable: () => Promise<void>;
}

interface Grants {
  global: Set<string>;
  /** Privileges on the broker schema, from global and schema-level grants. */
  brokerSchema: Set<string>;
  /** Roles this account may grant (holds WITH ADMIN OPTION). */
  grantableRoles: Set<string>;
  roleAdmin: boolean;
}

export async function inspectServer({
  pool,
  db,
  server,
  ensureMarkerTable,
}: InspectInput): Promise<EngineCapabilities> {
  const { flavour } = server;
  const checks: EngineCheck[] = [];
  const ok = (name: string, detail: string, severity: 'error' | 'warning' = 'error') =>
    checks.push({ name, ok: true, detail, severity });
  const fail = (name: string, detail: string, fix?: string, severity: 'error' | 'warning' = 'error') =>
    checks.push({ name, ok: false, detail, severity, ...(fix ? { fix } : {}) });

  const [state] = await rows(
    pool,
    'SELECT CURRENT_USER() AS me, @@GLOBAL.read_only AS ro, @@GLOBAL.event_scheduler AS scheduler',
  );
  const me = String(state?.me ?? '');
  const at = me.lastIndexOf('@');
  const [user, host] = [me.slice(0, at), me.slice(at + 1)];
  const admin = adminAccount(user, host);
  let readOnly = Number(state?.ro) === 1;
  if (flavour === 'mysql') {
    // MySQL 8 only (untested): unknown variable on MariaDB.
    const [sro] = await rows(pool, 'SELECT @@GLOBAL.super_read_only AS sro').catch(() => []);
    readOnly ||= Number(sro?.sro) === 1;
  }

  ok('connect', `connected as ${me} to ${flavour === 'mariadb' ? 'MariaDB' : 'MySQL'} ${server.version}`);
  if (isSupported(server)) ok('server version', `${server.version} is supported`);
  else fail('server version', `${server.version} is too old: MariaDB 10.5.2 or MySQL 8.0 is needed`);
  if (readOnly)
    fail(
      'read-only',
      'the server is read-only (a replica?): users cannot be created here; point the catalog at the primary',
    );
  else ok('read-only', 'the server accepts writes');

  const grants = await readGrants(pool, user, host, db.brokerSchema, flavour);
  const has = (p: string) => grants.global.has(p) || grants.global.has('ALL PRIVILEGES');

  if (has('CREATE USER')) ok('create users', 'may create, alter and drop users and roles');
  else
    fail(
      'create users',
      'the admin lacks CREATE USER: it cannot create or drop users',
      forCli(grantGlobalSql(admin, flavour)),
    );
  if (has('PROCESS')) ok('see sessions', "may list other accounts' sessions");
  else
    fail(
      'see sessions',
      "the admin lacks PROCESS: it cannot see the issued users' sessions to end them",
      forCli(grantGlobalSql(admin, flavour)),
    );
  const killPriv = flavour === 'mariadb' ? 'CONNECTION ADMIN' : 'CONNECTION_ADMIN';
  if (has(killPriv) || has('SUPER'))
    ok('kill sessions', `may end other accounts' sessions (${has(killPriv) ? killPriv : 'SUPER'})`);
  else
    fail(
      'kill sessions',
      `the admin lacks ${killPriv}: it cannot end the sessions of a revoked user`,
      forCli(grantGlobalSql(admin, flavour)),
    );

  const lookupOk = await rows(pool, `SELECT User, Host FROM ${accountTable(flavour)} WHERE 1 = 0`).then(
    () => true,
    () => false,
  );
  if (lookupOk) ok('account lookup', `may read account names from ${accountTable(flavour)} (names only)`);
  else
    fail(
      'account lookup',
      `the admin cannot read account names in ${accountTable(flavour)}: it could not tell a name taken by someone else before writing its marker`,
      forCli(grantAccountLookupSql(admin, flavour)),
    );

  const missingSchemaPrivs = BROKER_SCHEMA_PRIVILEGES.filter((p) => !grants.brokerSchema.has(p) && !has(p));
  if (missingSchemaPrivs.length === 0)
    ok('broker schema', `may keep its marker table and events in ${db.brokerSchema}`);
  else
    fail(
      'broker schema',
      `the admin lacks ${missingSchemaPrivs.join(', ')} on schema ${db.brokerSchema} (marker table and expiry event)`,
      `${forCli(createBrokerSchemaSql(db.brokerSchema))}\n${forCli(grantBrokerSchemaSql(admin, db.brokerSchema))}`,
    );
  try {
    await ensureMarkerTable();
    ok('marker table', `${db.brokerSchema}.managed_users is in place`);
  } catch (err) {
    fail(
      'marker table',
      `cannot create ${db.brokerSchema}.managed_users: ${toTargetError(err, flavour, adminSecrets(db)).message}`,
      `${forCli(createBrokerSchemaSql(db.brokerSchema))}\n${forCli(grantBrokerSchemaSql(admin, db.brokerSchema))}`,
    );
  }

  checks.push(await statementStatisticsCheck(pool, admin));

  // RDS / Aurora, Cloud SQL, Azure: what the service is and how the setup, session kills and TLS differ there.
  const serviceFacts = await readMysqlServiceFacts(pool, flavour, lookupOk);
  for (const c of mysqlServiceChecks(serviceFacts, { server, tls: db.tls, canKill: has(killPriv) || has('SUPER') }))
    checks.push(c);

  const levels = [...db.levels.values()];
  const levelRoles = [...new Set(levels.flatMap((l) => l.roles))];
  for (const r of levelRoles) await checkRole(r);
  if (flavour === 'mariadb' && levelRoles.length > 0) {
    const found = await rows(
      pool,
      'SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ?',
      [db.brokerSchema, DEFAULT_ROLE_PROCEDURE],
    );
    if (found.length > 0)
      ok(
        'default roles',
        `may set the issued users' default role through ${db.brokerSchema}.${DEFAULT_ROLE_PROCEDURE}`,
      );
    else
      fail(
        'default roles',
        `procedure ${db.brokerSchema}.${DEFAULT_ROLE_PROCEDURE} is missing or not executable by the admin: issued users would log in with no role active`,
        `${forCli(createDefaultRoleProcedureSql(db.brokerSchema))}\n${forCli(grantDefaultRoleProcedureSql(admin, db.brokerSchema))}`,
      );
  }
  for (const level of levels) checkLevel(level);
  checks.push(...(await statementAuditChecks(pool, levels, flavour, has('SUPER'), admin)));

  const scheduler = String(state?.scheduler ?? '').toUpperCase();
  const eventsUsable = scheduler === 'ON' && (grants.brokerSchema.has('EVENT') || has('EVENT'));
  if (scheduler === 'ON')
    ok(
      'event scheduler',
      `on: ${db.brokerSchema}.${EXPIRY_EVENT} ends expired users even when the broker is down`,
      'warning',
    );
  else
    fail(
      'event scheduler',
      `event_scheduler is ${scheduler || 'unknown'}: no server-side expiry backstop; users are revoked only by the broker. Turn it on, and set event_scheduler=ON in the server configuration so it survives a restart`,
      // DISABLED (set at startup) cannot be changed at runtime: only the server configuration can, so no statement.
      scheduler === 'DISABLED' ? undefined : 'SET GLOBAL event_scheduler = ON;',
      'warning',
    );

  if (lookupOk) {
    // MariaDB 10.11 keeps the PUBLIC role as User = '' with Host = ''; anonymous accounts have a host.
    const anonymous = await rows(pool, `SELECT Host FROM ${accountTable(flavour)} WHERE User = '' AND Host <> ''`);
    if (anonymous.length === 0)
      ok('anonymous accounts', "no anonymous account could shadow 'jit_…'@'%' logins", 'warning');
    else
      fail(
        'anonymous accounts',
        `anonymous accounts (${anonymous.map((a) => `''@'${String(a.Host)}'`).join(', ')}) match before 'jit_…'@'%' for logins from those hosts`,
        anonymous.map((a) => `DROP USER ''@${q(String(a.Host))};`).join('\n'),
        'warning',
      );
  }

  return {
    engine: 'mysql',
    flavour,
    serverVersion: server.version,
    readOnly,
    expiryBackstop: eventsUsable ? 'event' : 'none',
    checks,
  };

  async function checkRole(r: string): Promise<void> {
    const name = `role ${r}`;
    if (grants.grantableRoles.has(r) || (flavour === 'mysql' && grants.roleAdmin)) {
      ok(name, `may grant role ${r}`);
      return;
    }
    const roleHost = flavour === 'mariadb' ? '' : '%';
    const exists = lookupOk
      ? (await rows(pool, `SELECT User FROM ${accountTable(flavour)} WHERE User = ? AND Host = ?`, [r, roleHost]))
          .length > 0
      : undefined;
    if (exists === false) {
      fail(
        name,
        `role ${r} does not exist on the server`,
        `CREATE ROLE ${role(r)};\n${forCli(grantRoleAdminSql(admin, r))}`,
      );
    } else {
      fail(
        name,
        `the admin may not grant role ${r} (it needs the role WITH ADMIN OPTION)`,
        forCli(grantRoleAdminSql(admin, r)),
      );
    }
  }

  function checkLevel(level: AccessLevel): void {
    try {
      resourceOptions(level, flavour);
      ok(`guard-rails ${level.name}`, `level ${level.name}: guard-rails are supported`);
    } catch (err) {
      fail(`guard-rails ${level.name}`, err instanceof Error ? err.message : String(err));
    }
    if (level.grants.length === 0) return;
    const bad = level.grants.filter((t) => !isValidTemplate(t));
    if (bad.length > 0) {
      fail(
        `templates ${level.name}`,
        `level ${level.name}: not a single "GRANT … TO {{user}}" statement: ${bad.join(' | ')}`,
      );
    } else {
      ok(
        `templates ${level.name}`,
        `level ${level.name}: ${level.grants.length} templated grant(s); the admin must hold each WITH GRANT OPTION (${level.grants
          .map((t) => grantTemplateToAdminSql(admin, t))
          .join('; ')})`,
      );
    }
  }
}

/**
 * auditStatements: MySQL refuses it; on MariaDB the server_audit plugin must be active and logging queries, and the
 * admin needs SUPER to change server_audit_incl_users (statement-audit.ts). Nothing when no level asks.
 */
export async function statementAuditChecks(
  pool: Queryable,
  levels: readonly AccessLevel[],
  flavour: 'mysql' | 'mariadb',
  hasSuper: boolean,
  admin: string,
): Promise<EngineCheck[]> {
  const audited = levels.filter((l) => l.auditStatements).map((l) => l.name);
  if (audited.length === 0) return [];
  const which = `level${audited.length > 1 ? 's' : ''} ${audited.join(', ')}`;
  const check = (name: string, ok: boolean, detail: string, fix?: string, severity: 'error' | 'warning' = 'error') =>
    ({ name, ok, detail, severity, ...(fix && !ok ? { fix } : {}) }) satisfies EngineCheck;
  if (flavour === 'mysql') return [check('statement logging', false, mysqlAuditRefusal(audited))];

  const out: EngineCheck[] = [];
  const [plugin] = await rows(
    pool,
    "SELECT PLUGIN_STATUS AS status FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'SERVER_AUDIT'",
  );
  const active = String(plugin?.status ?? '').toUpperCase() === 'ACTIVE';
  out.push(
    check(
      'audit plugin',
      active,
      active
        ? `the server_audit plugin is active: it logs the statements of the users of ${which} (auditStatements)`
        : `${which} ask${audited.length > 1 ? '' : 's'} for auditStatements, but the server_audit plugin is ${plugin ? String(plugin.status).toLowerCase() : 'not installed'}: those users cannot be created. Install it, and load it in the server configuration too (plugin_load_add = server_audit, server_audit = FORCE_PLUS_PERMANENT) so it survives a restart`,
      "INSTALL SONAME 'server_audit';\nSET GLOBAL server_audit_logging = ON;",
    ),
  );
  out.push(
    check(
      'audit privilege',
      hasSuper,
      hasSuper
        ? 'may add and remove issued users in server_audit_incl_users (SUPER)'
        : `the admin lacks SUPER, which MariaDB requires to change server_audit_incl_users: users of ${which} cannot be created. SUPER is broad (any global variable, any session): grant it only if statement logging is worth that`,
      forCli(grantAuditListSql(admin)),
    ),
  );
  if (!active) return out;

  const [v] = await rows(
    pool,
    'SELECT @@GLOBAL.server_audit_logging AS logging, @@GLOBAL.server_audit_events AS events, @@GLOBAL.server_audit_incl_users AS incl, @@GLOBAL.server_audit_output_type AS output',
  );
  const logging = Number(v?.logging) === 1;
  out.push(
    check(
      'audit logging',
      logging,
      logging
        ? `server_audit_logging is ON (output: ${String(v?.output ?? '')})`
        : 'server_audit_logging is OFF: the plugin logs nothing, so users of audited levels are refused. Turn it on, and set server_audit_logging = ON in the server configuration',
      'SET GLOBAL server_audit_logging = ON;',
    ),
  );
  const events = String(v?.events ?? '')
    .split(',')
    .map((e) => e.trim().toUpperCase())
    .filter((e) => e.length > 0);
  const queries = events.length === 0 || events.includes('QUERY');
  out.push(
    check(
      'audit events',
      queries,
      queries
        ? `server_audit_events ${events.length === 0 ? 'is empty (every event)' : `includes QUERY (${events.join(',')})`}: every statement is logged`
        : `server_audit_events is ${events.join(',')}: without QUERY not every statement of an issued user is logged`,
      `SET GLOBAL server_audit_events = ${q([...events, 'QUERY'].join(','))};`,
    ),
  );
  const list = parseAuditList(v?.incl);
  const bytes = list.join(',').length;
  out.push(
    check(
      'audit user list',
      bytes <= AUDIT_LIST_MAX_BYTES - 200,
      list.length === 0
        ? 'server_audit_incl_users is empty, so the plugin logs every account (except server_audit_excl_users); db-access leaves it empty, since naming one account would narrow the log to the listed ones. The list is not persisted: a value in the server configuration comes back at a restart'
        : `server_audit_incl_users holds ${list.length} name(s), ${bytes} of ${AUDIT_LIST_MAX_BYTES} bytes; db-access adds each audited user while it lives. The list is not persisted: after a server restart the configured value comes back without the live users`,
      undefined,
      'warning',
    ),
  );
  return out;
}

async function readGrants(
  pool: Queryable,
  user: string,
  host: string,
  schema: string,
  flavour: 'mysql' | 'mariadb',
): Promise<Grants> {
  // MariaDB lists CONNECTION ADMIN here; MySQL 8 is believed to list dynamic privileges (CONNECTION_ADMIN,
  // ROLE_ADMIN) in USER_PRIVILEGES too (untested here).
  const grantee = `'${user}'@'${host}'`;
  const global = new Set(
    (
      await rows(pool, 'SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?', [
        grantee,
      ])
    ).map((r) => String(r.p).toUpperCase()),
  );
  const brokerSchema = new Set(
    (
      await rows(
        pool,
        'SELECT TABLE_SCHEMA AS s, PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?',
        [grantee],
      )
    )
      .filter((r) => schemaPatternMatches(String(r.s), schema))
      .map((r) => String(r.p).toUpperCase()),
  );
  const applicable = await rows(pool, 'SELECT * FROM information_schema.APPLICABLE_ROLES');
  const grantableRoles = new Set(
    applicable
      .filter((r) =>
        flavour === 'mariadb'
          ? String(r.GRANTEE) === `${user}@${host}`
          : // MySQL 8 (untested): APPLICABLE_ROLES has GRANTEE and GRANTEE_HOST columns.
            String(r.GRANTEE) === user && String(r.GRANTEE_HOST) === host,
      )
      .filter((r) => String(r.IS_GRANTABLE).toUpperCase() === 'YES')
      .map((r) => String(r.ROLE_NAME)),
  );
  return { global, brokerSchema, grantableRoles, roleAdmin: global.has('ROLE_ADMIN') };
}

/** A GRANT … ON db.* schema name is a LIKE pattern (`_`, `%`, `\` escapes). */
export function schemaPatternMatches(pattern: string, schema: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRegex(pattern[++i]!);
    else if (c === '_') re += '.';
    else if (c === '%') re += '.*';
    else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`).test(schema);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether revocation receipts can say what a user ran (statement counts by kind) and which program each session
 * came from: performance_schema on, and readable by the admin. A warning: access works without it.
 */
async function statementStatisticsCheck(pool: InspectInput['pool'], admin: string): Promise<EngineCheck> {
  const [ps] = await rows(pool, 'SELECT @@GLOBAL.performance_schema AS ps');
  const on = Number(ps?.ps) === 1;
  const readable = await rows(
    pool,
    'SELECT 1 FROM performance_schema.events_statements_summary_by_user_by_event_name WHERE 1 = 0',
  ).then(
    () => true,
    () => false,
  );
  const ok = on && readable;
  const fixes = [
    ...(on ? [] : ['performance_schema = ON under [mysqld] in the server configuration, then restart the server']),
    ...(readable ? [] : [`GRANT SELECT ON performance_schema.* TO ${admin};`]),
  ];
  return {
    name: 'statement statistics',
    ok,
    severity: 'warning',
    detail: ok
      ? 'performance_schema is on and readable: revocation receipts count what each user ran, by kind'
      : `revocation receipts cannot count what each user ran: ${[
          !on && 'performance_schema is off',
          !readable && 'the admin may not read performance_schema',
        ]
          .filter(Boolean)
          .join('; ')}`,
    ...(ok ? {} : { fix: fixes.join('\n') }),
  };
}
