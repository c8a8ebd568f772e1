/**
 * initialize(): what the server is and what the admin may do, in plain words, each missing thing a failed
 * EngineCheck with the statement a DBA runs to fix it. Access levels are proven by a dry run: a NOLOGIN probe
 * role gets the level's roles, templates and guard-rails inside a transaction that is rolled back.
 */
import { randomInt } from 'node:crypto';
import { escapeIdentifier } from 'pg';
import type { AccessLevel, DatabaseEntry } from '../../core/catalog.js';
import type { EngineCapabilities, EngineCheck } from '../../core/ports.js';
import {
  adminOfUserSql,
  connectGrantSql,
  createSchemasOf,
  grantRoleToAdminSql,
  logStatementGrantSql,
  logStatementPrivilegeProblem,
  reassignTargetGrantSql,
  receiverSchemaGrantSql,
  selfGrantSettingSql,
} from './admin-setup.js';
import type { Connections, Exec, ServerInfo } from './connection.js';
import { toTargetError } from './errors.js';
import { pgServiceChecks, readPgServiceFacts } from './managed-service.js';
import { isOurs, parseMarker } from './marker.js';
import {
  grantRoleSql,
  grantUserToAdminSql,
  guardRailSql,
  REASSIGN_OWNED,
  renderTemplate,
  templatePrerequisiteSql,
  templateProblem,
} from './sql.js';
import { PG15, PG16, PG18 } from './versions.js';

export type DryRun = <T>(op: string, fn: (exec: Exec, info: ServerInfo) => Promise<T>) => Promise<T>;

export interface InitializeResult {
  capabilities: EngineCapabilities;
  versionNum: number;
  superuser: boolean;
}

interface ServerRow {
  version: string;
  version_num: number;
  in_recovery: boolean;
  tx_read_only: string;
  password_encryption: string;
  self_grant: string | null;
  me: string;
  dbname: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolinherit: boolean;
  can_signal: boolean;
  can_connect: boolean;
}

interface RoleInfo {
  rolname: string;
  rolsuper: boolean;
  admin_option: boolean;
}

/** `installation`: the engine's (see marker.ts); the managed-users check looks at this installation's users only. */
export async function runInitialize(
  db: DatabaseEntry,
  conn: Connections,
  dryRun: DryRun,
  installation?: string,
): Promise<InitializeResult> {
  const s = await conn.retrying(
    'connect',
    [],
    () =>
      conn.withClient(async (exec) => {
        const [row] = await exec(
          `SELECT current_setting('server_version') AS version,
                  current_setting('server_version_num')::int AS version_num,
                  pg_catalog.pg_is_in_recovery() AS in_recovery,
                  current_setting('transaction_read_only') AS tx_read_only,
                  current_setting('password_encryption') AS password_encryption,
                  current_setting('createrole_self_grant', true) AS self_grant,
                  current_user AS me, current_database() AS dbname,
                  r.rolsuper, r.rolcreaterole, r.rolinherit,
                  pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS can_signal,
                  pg_catalog.has_database_privilege(current_database(), 'CONNECT') AS can_connect
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
        );
        return row as unknown as ServerRow;
      }),
    2,
  );
  const pg16 = s.version_num >= PG16;
  const admin = escapeIdentifier(s.me);
  const readOnly = s.in_recovery || s.tx_read_only === 'on';
  const checks: EngineCheck[] = [];
  const check = (c: EngineCheck) => checks.push(c);

  check({
    name: 'connect',
    ok: true,
    severity: 'error',
    detail: `connected to ${s.dbname} as ${s.me}: PostgreSQL ${s.version}`,
  });
  check({
    name: 'read-only',
    ok: !readOnly,
    severity: 'error',
    detail: readOnly
      ? s.in_recovery
        ? 'this server is a standby (in recovery): it cannot create users; point the catalog at the primary'
        : 'sessions here are read-only (default_transaction_read_only): users cannot be created'
      : 'the server accepts writes (primary)',
    ...(!readOnly || s.in_recovery ? {} : { fix: `ALTER ROLE ${admin} SET default_transaction_read_only = off` }),
  });
  check({
    name: 'least privilege',
    ok: !s.rolsuper,
    severity: 'warning',
    detail: s.rolsuper
      ? `${s.me} is a superuser; db-access needs only LOGIN CREATEROLE and the grants docs/targets.md lists`
      : `${s.me} is not a superuser`,
  });
  const canCreate = s.rolsuper || s.rolcreaterole;
  check({
    name: 'create users',
    ok: canCreate,
    severity: 'error',
    detail: canCreate
      ? pg16 || s.rolsuper
        ? `${s.me} may create roles and alter and drop the ones it created (CREATEROLE)`
        : `${s.me} may create, alter and drop roles (CREATEROLE; before PostgreSQL 16 that covers every non-superuser role, so guard its password like a superuser's)`
      : `${s.me} lacks CREATEROLE: it cannot create users`,
    ...(canCreate ? {} : { fix: `ALTER ROLE ${admin} CREATEROLE` }),
  });
  // Terminating a user's sessions needs the privileges of that user: db-access makes the admin an inheriting
  // member of each user it creates. PG ≤ 15: `GRANT <user> TO CURRENT_USER`, a membership that inherits only if the
  // admin has INHERIT. PG16+: createrole_self_grant = 'set, inherit' names INHERIT on the membership itself, so a
  // NOINHERIT admin is fine.
  const canKill = s.rolsuper || s.can_signal || (s.rolcreaterole && (pg16 || s.rolinherit));
  check({
    name: 'kill sessions',
    ok: canKill,
    severity: 'error',
    detail: canKill
      ? s.rolsuper || s.can_signal
        ? `${s.me} may terminate sessions of any non-superuser role`
        : `${s.me} becomes an inheriting member of each user it creates, so it may terminate that user's sessions`
      : !s.rolcreaterole
        ? `${s.me} lacks CREATEROLE: it cannot become a member of the users it would create to terminate their sessions`
        : `${s.me} has NOINHERIT: it cannot use its membership in the users it creates to terminate their sessions`,
    ...(canKill ? {} : { fix: s.rolcreaterole ? `ALTER ROLE ${admin} INHERIT` : `ALTER ROLE ${admin} CREATEROLE` }),
  });
  if (pg16 && !s.rolsuper) {
    const selfGrant = (s.self_grant ?? '').split(',').map((v) => v.trim());
    const ok = selfGrant.includes('set') && selfGrant.includes('inherit');
    check({
      name: 'self grant',
      ok,
      severity: 'warning',
      detail: ok
        ? `createrole_self_grant is '${s.self_grant}'`
        : `createrole_self_grant is '${s.self_grant ?? ''}'; db-access sets it per transaction, but a DBA working as ${s.me} by hand would not get the users' privileges`,
      ...(ok ? {} : { fix: selfGrantSettingSql(s.me) }),
    });
  }
  check({
    name: 'password encryption',
    ok: s.password_encryption === 'scram-sha-256',
    severity: 'warning',
    detail:
      s.password_encryption === 'scram-sha-256'
        ? 'password_encryption is scram-sha-256; db-access sends SCRAM verifiers, never plaintext'
        : `password_encryption is ${s.password_encryption}${s.version_num >= PG18 ? ' (MD5 passwords are deprecated since PostgreSQL 18)' : ''}; db-access still sends SCRAM-SHA-256 verifiers, so its users need pg_hba methods scram-sha-256 or md5`,
    ...(s.password_encryption === 'scram-sha-256'
      ? {}
      : { fix: `ALTER SYSTEM SET password_encryption = 'scram-sha-256'` }),
  });
  check({
    name: 'database access',
    ok: s.can_connect,
    severity: 'error',
    detail: s.can_connect ? `${s.me} has CONNECT on ${s.dbname}` : `${s.me} lacks CONNECT on ${s.dbname}`,
    ...(s.can_connect ? {} : { fix: connectGrantSql(s.dbname, s.me) }),
  });
  check({
    name: 'expiry backstop',
    ok: true,
    severity: 'warning',
    detail:
      'VALID UNTIL refuses password logins after expiry even while db-access is down (open sessions are ended by db-access)',
  });

  check(await statementStatisticsCheck(conn));

  if (!s.rolsuper) {
    const c = await managedUsersCheck(conn, s.me, s.version_num, installation);
    if (c) check(c);
  }

  // RDS / Aurora, Cloud SQL, Azure: what the service is and how the setup and TLS differ there.
  const facts = await conn.retrying('read managed-service markers', [], () => conn.withClient(readPgServiceFacts));
  for (const c of pgServiceChecks(facts, { adminUser: s.me, tls: db.tls })) check(c);

  // Roles the levels grant. ADMIN OPTION counts however it is held, directly or through a role the admin is a
  // member of (PostgreSQL's own test: pg_has_role … 'MEMBER WITH ADMIN OPTION').
  const levels = [...db.levels.values()];
  const roleNames = [...new Set(levels.flatMap((l) => l.roles))];
  const roles = new Map<string, RoleInfo>();
  if (roleNames.length > 0) {
    const rows = await conn.retrying('read roles', [], () =>
      conn.withClient((exec) =>
        exec(
          `SELECT g.rolname, g.rolsuper, pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER WITH ADMIN OPTION') AS admin_option
             FROM pg_catalog.pg_roles g WHERE g.rolname = ANY($1::text[])`,
          [roleNames],
        ),
      ),
    );
    for (const r of rows) roles.set(String(r.rolname), r as unknown as RoleInfo);
  }
  const badRoles = new Set<string>();
  for (const name of roleNames) {
    const r = roles.get(name);
    let c: EngineCheck;
    if (!r)
      c = {
        name: `role ${name}`,
        ok: false,
        severity: 'error',
        detail: `role ${name} does not exist`,
        fix: `CREATE ROLE ${escapeIdentifier(name)} NOLOGIN`,
      };
    else if (r.rolsuper)
      c = {
        name: `role ${name}`,
        ok: false,
        severity: 'error',
        detail: `role ${name} is a superuser role; db-access will not hand it out`,
      };
    else if (s.rolsuper || (pg16 ? r.admin_option : s.rolcreaterole))
      c = { name: `role ${name}`, ok: true, severity: 'error', detail: `${s.me} may grant ${name}` };
    else
      c = {
        name: `role ${name}`,
        ok: false,
        severity: 'error',
        detail: pg16
          ? `${s.me} lacks ADMIN OPTION on ${name} (PostgreSQL 16+ requires it to grant a role)`
          : `${s.me} cannot grant ${name}`,
        fix: pg16 ? grantRoleToAdminSql(name, s.me, s.version_num) : `ALTER ROLE ${admin} CREATEROLE`,
      };
    if (!c.ok) badRoles.add(name);
    check(c);
  }

  // onExpiry reassignTo: the receiving roles must exist, must not be superusers, and the admin needs their privileges.
  const receivers = new Map<string, Set<string>>();
  for (const l of levels)
    if (l.onExpiry && l.onExpiry !== 'drop')
      receivers.set(
        l.onExpiry.reassignTo,
        new Set([...(receivers.get(l.onExpiry.reassignTo) ?? []), ...createSchemasOf(l.grants)]),
      );
  for (const c of await reassignChecks(conn, receivers, s.me, s.rolsuper, s.version_num)) {
    if (!c.ok && c.severity === 'error') badRoles.add(c.name.slice('reassign to '.length));
    check(c);
  }

  const audit = await statementAuditCheck(conn, levels, s.me, s.rolsuper, s.version_num);
  if (audit) check(audit);

  // Each level, proven by a rolled-back dry run.
  for (const level of levels) {
    const receiver = level.onExpiry && level.onExpiry !== 'drop' ? level.onExpiry.reassignTo : undefined;
    if (
      readOnly ||
      !canCreate ||
      level.roles.some((r) => badRoles.has(r)) ||
      (receiver !== undefined && badRoles.has(receiver))
    ) {
      check({
        name: `level ${level.name}`,
        ok: false,
        severity: 'error',
        detail: `not tried: fix the failed checks above first`,
      });
      continue;
    }
    check(await dryRunLevel(level, s.me, s.version_num, conn, dryRun));
  }

  return {
    versionNum: s.version_num,
    superuser: s.rolsuper,
    capabilities: {
      engine: 'postgres',
      flavour: 'postgresql',
      serverVersion: s.version,
      readOnly,
      expiryBackstop: 'valid_until',
      checks,
    },
  };
}

async function dryRunLevel(
  level: AccessLevel,
  adminUser: string,
  versionNum: number,
  conn: Connections,
  dryRun: DryRun,
): Promise<EngineCheck> {
  const name = `level ${level.name}`;
  for (const t of level.grants) {
    const problem = templateProblem(t);
    if (problem) return { name, ok: false, severity: 'error', detail: `${problem}: ${t}` };
  }
  const probe = `jit_probe_${randomSuffix()}`;
  const receiver = level.onExpiry && level.onExpiry !== 'drop' ? level.onExpiry.reassignTo : undefined;
  let step: { kind: 'create' | 'role' | 'template' | 'guard' | 'reassign'; what: string } = {
    kind: 'create',
    what: probe,
  };
  try {
    await dryRun(`check level ${level.name}`, async (exec, info) => {
      // As newUser does: on 16+ the admin becomes an inheriting member of what it creates (REASSIGN needs that).
      if (info.versionNum >= PG16 && !info.superuser) await exec(`SET LOCAL createrole_self_grant = 'set, inherit'`);
      await exec(`CREATE ROLE ${escapeIdentifier(probe)} NOLOGIN`);
      if (info.versionNum < PG16 && !info.superuser) await exec(grantUserToAdminSql(probe));
      for (const r of level.roles) {
        step = { kind: 'role', what: r };
        await exec(grantRoleSql(r, probe));
      }
      for (const t of level.grants) {
        step = { kind: 'template', what: t };
        await exec(renderTemplate(t, probe));
      }
      step = { kind: 'guard', what: 'guard-rails' };
      for (const g of guardRailSql(probe, level.guardRails)) await exec(g);
      if (receiver !== undefined) {
        // The privilege checks of REASSIGN OWNED come first, so a probe that owns nothing proves them.
        step = { kind: 'reassign', what: receiver };
        await exec(REASSIGN_OWNED([probe], receiver));
      }
    });
    return {
      name,
      ok: true,
      severity: 'error',
      detail: `a rolled-back dry run granted ${
        [
          ...level.roles.map((r) => `role ${r}`),
          ...(level.grants.length > 0 ? [`${level.grants.length} templated grant(s)`] : []),
        ].join(', ') || 'nothing'
      } and set the guard-rails${receiver !== undefined ? `; at expiry what the user created goes to ${receiver} (REASSIGN OWNED proven)` : ''}`,
    };
  } catch (err) {
    const e = toTargetError(err, `dry run of level ${level.name}`, conn.secrets());
    const denied = e.code === '42501' || e.code === '01007';
    const fix = !denied
      ? undefined
      : step.kind === 'template'
        ? templatePrerequisiteSql(step.what, escapeIdentifier(adminUser))
        : step.kind === 'role'
          ? grantRoleToAdminSql(step.what, adminUser, versionNum)
          : step.kind === 'reassign'
            ? reassignTargetGrantSql(step.what, adminUser, versionNum)
            : undefined;
    return {
      name,
      ok: false,
      severity: 'error',
      detail:
        step.kind === 'reassign'
          ? `REASSIGN OWNED to ${step.what} (onExpiry reassignTo) failed: ${e.message}`
          : `granting ${step.kind === 'template' ? `"${step.what}"` : step.what} failed: ${e.message}`,
      ...(fix ? { fix } : {}),
    };
  }
}

/**
 * One check per onExpiry receiving role: it exists; it is not a superuser (objects handed to it would run their
 * triggers, defaults and functions with superuser rights for whoever touches them later: refused); the admin has its
 * privileges and (16+) may SET to it (REASSIGN OWNED requires both for functions and types); it holds CREATE on each
 * schema its levels let users create in (required to take over a function or type there). A role that can log in or
 * holds CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS passes with a warning: an unprivileged NOLOGIN role is safer.
 * `receivers`: role → the schemas its levels' templates give CREATE on.
 */
async function reassignChecks(
  conn: Connections,
  receivers: ReadonlyMap<string, ReadonlySet<string>>,
  me: string,
  superuser: boolean,
  versionNum: number,
): Promise<EngineCheck[]> {
  if (receivers.size === 0) return [];
  const pg16 = versionNum >= PG16;
  const rows = await conn.retrying('read onExpiry roles', [], () =>
    conn.withClient((exec) =>
      exec(
        `SELECT r.rolname::text AS rolname, r.rolsuper, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
                pg_catalog.pg_has_role(current_user, r.oid, 'USAGE') AS privileges,
                ${pg16 ? `pg_catalog.pg_has_role(current_user, r.oid, 'SET')` : 'true'} AS can_set,
                ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_namespace n
                       WHERE n.nspname = ANY($2::text[]) AND NOT pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE')) AS no_create
           FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1::text[])`,
        [[...receivers.keys()], [...new Set([...receivers.values()].flatMap((v) => [...v]))]],
      ),
    ),
  );
  const byName = new Map(rows.map((r) => [String(r.rolname), r]));
  const out: EngineCheck[] = [];
  for (const [role, schemas] of receivers) {
    const name = `reassign to ${role}`;
    const r = byName.get(role);
    if (!r) {
      out.push({
        name,
        ok: false,
        severity: 'error',
        detail: `role ${role} (onExpiry reassignTo) does not exist: revocation would stop before dropping the user`,
        fix: `CREATE ROLE ${escapeIdentifier(role)} NOLOGIN; ${reassignTargetGrantSql(role, me, versionNum)}`,
      });
      continue;
    }
    if (r.rolsuper === true) {
      out.push({
        name,
        ok: false,
        severity: 'error',
        detail: `role ${role} is a superuser: what an issued user created would then run with superuser rights; name an unprivileged NOLOGIN role`,
      });
      continue;
    }
    if (!superuser && (r.privileges !== true || r.can_set !== true)) {
      out.push({
        name,
        ok: false,
        severity: 'error',
        detail: `${me} lacks the privileges of ${role}${pg16 ? ' or the right to SET to it' : ''}: REASSIGN OWNED to it is refused`,
        fix: reassignTargetGrantSql(role, me, versionNum),
      });
      continue;
    }
    const noCreate = ((r.no_create as string[] | null) ?? []).filter((n) => schemas.has(n));
    if (noCreate.length > 0) {
      out.push({
        name,
        ok: false,
        severity: 'error',
        detail: `${role} lacks CREATE on schema ${noCreate.join(', ')}: taking over a function or type an issued user created there would be refused`,
        fix: noCreate.map((n) => receiverSchemaGrantSql(n, role)).join('; '),
      });
      continue;
    }
    const powers = (['rolcanlogin', 'rolcreaterole', 'rolcreatedb', 'rolreplication', 'rolbypassrls'] as const)
      .filter((k) => r[k] === true)
      .map(
        (k) =>
          ({
            rolcanlogin: 'LOGIN',
            rolcreaterole: 'CREATEROLE',
            rolcreatedb: 'CREATEDB',
            rolreplication: 'REPLICATION',
            rolbypassrls: 'BYPASSRLS',
          })[k],
      );
    out.push(
      powers.length === 0
        ? { name, ok: true, severity: 'error', detail: `${me} may hand what issued users created to ${role} at expiry` }
        : {
            name,
            ok: false,
            severity: 'warning',
            detail: `${me} may hand objects to ${role}, but ${role} has ${powers.join(', ')}: a trigger or function an issued user wrote would run with its rights when it touches the object; prefer an unprivileged NOLOGIN role`,
          },
    );
  }
  return out;
}

/**
 * auditStatements: the admin may store log_statement on the users it creates — a superuser-only parameter, so it
 * needs SET on it (has_parameter_privilege, PostgreSQL 15+) or to be a superuser. Undefined when no level asks.
 */
export async function statementAuditCheck(
  conn: Connections,
  levels: readonly AccessLevel[],
  me: string,
  superuser: boolean,
  versionNum: number,
): Promise<EngineCheck | undefined> {
  const audited = levels.filter((l) => l.auditStatements).map((l) => l.name);
  if (audited.length === 0) return undefined;
  const name = 'statement logging';
  let allowed = superuser;
  if (!allowed && versionNum >= PG15) {
    const [row] = await conn.retrying('read log_statement privilege', [], () =>
      conn.withClient((exec) => exec(`SELECT pg_catalog.has_parameter_privilege('log_statement', 'SET') AS ok`)),
    );
    allowed = row?.ok === true;
  }
  const which = `level${audited.length > 1 ? 's' : ''} ${audited.join(', ')}`;
  if (allowed)
    return {
      name,
      ok: true,
      severity: 'error',
      detail: `${me} may set log_statement = 'all' on the users of ${which} (auditStatements): their statements go to the server log`,
    };
  return {
    name,
    ok: false,
    severity: 'error',
    detail: `${which} ask${audited.length > 1 ? '' : 's'} for auditStatements, but ${logStatementPrivilegeProblem(me, { versionNum })}. Until then those users cannot be created`,
    ...(versionNum >= PG15 ? { fix: logStatementGrantSql(me) } : {}),
  };
}

/** At most this many users are named in the managed-users check (with their fixes); the rest are counted. */
const MAX_USERS_NAMED = 5;

/**
 * This installation's issued users that the admin could not revoke. It must be a member of each (to end its sessions
 * and DROP OWNED BY it; whether membership inherits is the kill-sessions check's business on ≤ 15) and, on 16+, hold
 * ADMIN OPTION on it (to alter and drop it) through a membership that inherits. db-access arranges both for the users
 * it creates; users made by another admin account, or before a pg_upgrade to 16, lack them. A superuser cannot be
 * altered by a non-superuser at all. Undefined when there are no issued users.
 */
async function managedUsersCheck(
  conn: Connections,
  me: string,
  versionNum: number,
  installation: string | undefined,
): Promise<EngineCheck | undefined> {
  const pg16 = versionNum >= PG16;
  const revocable = pg16
    ? `pg_catalog.pg_has_role(current_user, r.oid, 'USAGE') AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')`
    : `pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')`;
  const rows = await conn.retrying('read managed users', [], () =>
    conn.withClient((exec) =>
      exec(
        `SELECT r.rolname::text AS rolname, r.rolsuper, pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment,
                ${revocable} AS revocable
           FROM pg_catalog.pg_roles r WHERE r.rolname LIKE 'jit!_%' ESCAPE '!' ORDER BY r.rolname`,
      ),
    ),
  );
  const ours = rows.filter((r) => {
    const marker = parseMarker(r.comment as string | null);
    return marker !== undefined && isOurs(marker, installation);
  });
  if (ours.length === 0) return undefined;
  const stuck = ours.filter((r) => r.rolsuper === true || r.revocable !== true);
  if (stuck.length === 0)
    return {
      name: 'managed users',
      ok: true,
      severity: 'error',
      detail: `${me} may revoke each of the ${ours.length} user(s) db-access issued here`,
    };
  const named = stuck.slice(0, MAX_USERS_NAMED).map((r) => String(r.rolname));
  const more = stuck.length > named.length ? ` and ${stuck.length - named.length} more` : '';
  const fixable = stuck.filter((r) => r.rolsuper !== true).slice(0, MAX_USERS_NAMED);
  const supers = stuck.filter((r) => r.rolsuper === true).length;
  return {
    name: 'managed users',
    ok: false,
    severity: 'error',
    detail:
      `${me} cannot revoke ${stuck.length} user(s) db-access issued here: ${named.join(', ')}${more}. ` +
      (fixable.length > 0
        ? pg16
          ? 'PostgreSQL 16+ lets it alter and drop only roles it holds ADMIN OPTION on: it has that on the users it created, not on users created by another admin account or before an upgrade to 16 (a superuser can run the fix)'
          : 'It is not a member of them (another admin account created them), so it cannot end their sessions or drop what they own'
        : '') +
      (supers > 0
        ? `${fixable.length > 0 ? '; ' : ''}${supers} of them are superusers: only a superuser can lock and drop those`
        : ''),
    ...(fixable.length > 0
      ? { fix: fixable.map((r) => adminOfUserSql(String(r.rolname), me, versionNum)).join('; ') }
      : {}),
  };
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * Whether revocation receipts can say what a user ran: pg_stat_statements installed in this database and loaded
 * (shared_preload_libraries — told by reading the view: only a superuser may read that setting), and readable with
 * other users' statement text (pg_read_all_stats). A warning: access works without it; the receipt then says the
 * statements are not available.
 */
async function statementStatisticsCheck(conn: Connections): Promise<EngineCheck> {
  const state = await conn.retrying('read statement statistics setup', [], () =>
    conn.withClient(async (exec) => {
      const [r] = await exec(
        `SELECT current_user AS me, current_database() AS dbname,
                (SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                  WHERE e.extname = 'pg_stat_statements') AS schema,
                pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read`,
      );
      let loaded: boolean | undefined;
      if (typeof r?.schema === 'string') {
        loaded = await exec(`SELECT 1 FROM ${escapeIdentifier(r.schema)}.pg_stat_statements WHERE false`).then(
          () => true,
          (err: unknown) => {
            if ((err as { code?: unknown }).code === '55000') return false; // not in shared_preload_libraries
            throw err;
          },
        );
      }
      return {
        me: String(r?.me),
        dbname: String(r?.dbname),
        installed: typeof r?.schema === 'string',
        loaded,
        canRead: r?.can_read === true,
      };
    }),
  );
  const { me, dbname, installed, loaded, canRead } = state;
  const problems: string[] = [];
  const fixes: string[] = [];
  if (!installed || loaded === false) {
    problems.push(
      installed
        ? 'pg_stat_statements is not loaded (shared_preload_libraries)'
        : `pg_stat_statements is not installed in ${dbname}`,
    );
    fixes.push(
      `-- postgresql.conf: shared_preload_libraries = 'pg_stat_statements' (with any libraries already listed), then restart`,
    );
  }
  if (!installed) fixes.push('CREATE EXTENSION pg_stat_statements');
  if (!canRead) {
    problems.push(`${me} may not read other users' statement text (pg_read_all_stats)`);
    fixes.push(`GRANT pg_read_all_stats TO ${escapeIdentifier(me)}`);
  }
  const ok = problems.length === 0;
  return {
    name: 'statement statistics',
    ok,
    severity: 'warning',
    detail: ok
      ? `pg_stat_statements is loaded and installed in ${dbname}: revocation receipts say what each user ran`
      : `revocation receipts cannot say what each user ran: ${problems.join('; ')}`,
    ...(ok ? {} : { fix: fixes.join(';\n') }),
  };
}
