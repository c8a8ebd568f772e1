/**
 * initialize(): what the server is and what the admin may do, in plain words, each missing thing a failed
 * EngineCheck with the statement a DBA runs to fix it. Access levels are proven by a dry run: a NOLOGIN probe
 * role gets the level's roles, templates and guard-rails inside a transaction that is rolled back.
 */
import { randomInt } from 'node:crypto';
import { escapeIdentifier } from 'pg';
import type { AccessLevel, DatabaseEntry } from '../../core/catalog.js';
import type { EngineCapabilities, EngineCheck } from '../../core/ports.js';
import { connectGrantSql, grantRoleToAdminSql, selfGrantSettingSql } from './admin-setup.js';
import type { Connections, Exec, ServerInfo } from './connection.js';
import { toTargetError } from './errors.js';
import {
  grantRoleSql,
  grantUserToAdminSql,
  guardRailSql,
  renderTemplate,
  templatePrerequisiteSql,
  templateProblem,
} from './sql.js';

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

export async function runInitialize(db: DatabaseEntry, conn: Connections, dryRun: DryRun): Promise<InitializeResult> {
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
  const pg16 = s.version_num >= 160000;
  const admin = escapeIdentifier(s.me);
  const readOnly = s.in_recovery || s.tx_read_only === 'on';
  const checks: EngineCheck[] = [];
  const check = (c: EngineCheck) => checks.push(c);

  check({ name: 'connect', ok: true, severity: 'error', detail: `connected to ${s.dbname} as ${s.me}: PostgreSQL ${s.version}` });
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
      ? `${s.me} is a superuser; db-access needs only LOGIN CREATEROLE and the grants the README lists`
      : `${s.me} is not a superuser`,
  });
  const canCreate = s.rolsuper || s.rolcreaterole;
  check({
    name: 'create users',
    ok: canCreate,
    severity: 'error',
    detail: canCreate ? `${s.me} may create, alter and drop roles (CREATEROLE)` : `${s.me} lacks CREATEROLE: it cannot create users`,
    ...(canCreate ? {} : { fix: `ALTER ROLE ${admin} CREATEROLE` }),
  });
  // Terminating a user's sessions needs the privileges of that user: db-access makes the admin an inheriting
  // member of each user it creates (PG ≤ 15: GRANT … TO CURRENT_USER; PG16+: createrole_self_grant).
  const canKill = s.rolsuper || s.can_signal || (s.rolcreaterole && s.rolinherit);
  check({
    name: 'kill sessions',
    ok: canKill,
    severity: 'error',
    detail: canKill
      ? s.rolsuper || s.can_signal
        ? `${s.me} may terminate sessions of any non-superuser role`
        : `${s.me} becomes an inheriting member of each user it creates, so it may terminate that user's sessions`
      : `${s.me} has NOINHERIT: it cannot use its membership in the users it creates to terminate their sessions`,
    ...(canKill ? {} : { fix: `ALTER ROLE ${admin} INHERIT` }),
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
        : `password_encryption is ${s.password_encryption}; db-access still sends SCRAM-SHA-256 verifiers, so its users need pg_hba methods scram-sha-256 or md5`,
    ...(s.password_encryption === 'scram-sha-256' ? {} : { fix: `ALTER SYSTEM SET password_encryption = 'scram-sha-256'` }),
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
    detail: 'VALID UNTIL refuses password logins after expiry even while db-access is down (open sessions are ended by db-access)',
  });

  // Roles the levels grant.
  const levels = [...db.levels.values()];
  const roleNames = [...new Set(levels.flatMap((l) => l.roles))];
  const roles = new Map<string, RoleInfo>();
  if (roleNames.length > 0) {
    const rows = await conn.retrying('read roles', [], () =>
      conn.withClient((exec) =>
        exec(
          `SELECT g.rolname, g.rolsuper,
                  EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                           WHERE m.roleid = g.oid AND m.admin_option
                             AND m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) AS admin_option
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
    if (!r) c = { name: `role ${name}`, ok: false, severity: 'error', detail: `role ${name} does not exist`, fix: `CREATE ROLE ${escapeIdentifier(name)} NOLOGIN` };
    else if (r.rolsuper)
      c = { name: `role ${name}`, ok: false, severity: 'error', detail: `role ${name} is a superuser role; db-access will not hand it out` };
    else if (s.rolsuper || (pg16 ? r.admin_option : s.rolcreaterole))
      c = { name: `role ${name}`, ok: true, severity: 'error', detail: `${s.me} may grant ${name}` };
    else
      c = {
        name: `role ${name}`,
        ok: false,
        severity: 'error',
        detail: pg16 ? `${s.me} lacks ADMIN OPTION on ${name} (PostgreSQL 16+ requires it to grant a role)` : `${s.me} cannot grant ${name}`,
        fix: pg16 ? grantRoleToAdminSql(name, s.me) : `ALTER ROLE ${admin} CREATEROLE`,
      };
    if (!c.ok) badRoles.add(name);
    check(c);
  }

  // Each level, proven by a rolled-back dry run.
  for (const level of levels) {
    if (readOnly || !canCreate || level.roles.some((r) => badRoles.has(r))) {
      check({ name: `level ${level.name}`, ok: false, severity: 'error', detail: `not tried: fix the failed checks above first` });
      continue;
    }
    check(await dryRunLevel(level, s.me, conn, dryRun));
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

async function dryRunLevel(level: AccessLevel, adminUser: string, conn: Connections, dryRun: DryRun): Promise<EngineCheck> {
  const name = `level ${level.name}`;
  for (const t of level.grants) {
    const problem = templateProblem(t);
    if (problem) return { name, ok: false, severity: 'error', detail: `${problem}: ${t}` };
  }
  const probe = `jit_probe_${randomSuffix()}`;
  let step: { kind: 'create' | 'role' | 'template' | 'guard'; what: string } = { kind: 'create', what: probe };
  try {
    await dryRun(`check level ${level.name}`, async (exec, info) => {
      await exec(`CREATE ROLE ${escapeIdentifier(probe)} NOLOGIN`);
      if (info.versionNum < 160000 && !info.superuser) await exec(grantUserToAdminSql(probe));
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
    });
    return {
      name,
      ok: true,
      severity: 'error',
      detail: `a rolled-back dry run granted ${[
        ...level.roles.map((r) => `role ${r}`),
        ...(level.grants.length > 0 ? [`${level.grants.length} templated grant(s)`] : []),
      ].join(', ') || 'nothing'} and set the guard-rails`,
    };
  } catch (err) {
    const e = toTargetError(err, `dry run of level ${level.name}`, conn.secrets());
    const denied = e.code === '42501' || e.code === '01007';
    const fix =
      !denied
        ? undefined
        : step.kind === 'template'
          ? templatePrerequisiteSql(step.what, escapeIdentifier(adminUser))
          : step.kind === 'role'
            ? grantRoleToAdminSql(step.what, adminUser)
            : undefined;
    return {
      name,
      ok: false,
      severity: 'error',
      detail: `granting ${step.kind === 'template' ? `"${step.what}"` : step.what} failed: ${e.message}`,
      ...(fix ? { fix } : {}),
    };
  }
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
