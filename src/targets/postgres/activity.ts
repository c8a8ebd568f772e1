/**
 * What PostgreSQL says about the users' use of their access: sessions from pg_stat_activity (cluster-wide, one query
 * for every user of the server) and statement statistics from pg_stat_statements (when the extension is installed in
 * the catalog database; read with the admin's pg_read_all_stats to see the statement text).
 */
import { escapeIdentifier } from 'pg';
import type { StatementSummary } from '../../core/model.js';
import type { ObservedSession } from '../../core/ports.js';
import { USERNAME_PATTERN } from '../../core/identifiers.js';
import { summarise, type StatementEntry } from '../statements.js';
import type { Exec } from './connection.js';
import { errorCode } from './errors.js';

/** The sampling query (its leading comment names it in pg_stat_statements and the server log). */
export const OBSERVE_SESSIONS_SQL = `/* db-access: observe sessions */ SELECT a.usename, a.pid,
  (extract(epoch FROM a.backend_start) * 1000)::bigint AS started_ms, host(a.client_addr) AS client_addr,
  a.client_port, a.application_name, a.state
  FROM pg_catalog.pg_stat_activity a WHERE a.usename = ANY($1::text[])`;

export async function observeSessions(exec: Exec, usernames: readonly string[]): Promise<ObservedSession[]> {
  const names = usernames.filter((u) => USERNAME_PATTERN.test(u));
  if (names.length === 0) return [];
  const rows = await exec(OBSERVE_SESSIONS_SQL, [names]);
  return rows.map((r) => {
    const started = r.started_ms === null ? undefined : Number(r.started_ms);
    const s: ObservedSession = { username: String(r.usename), sessionKey: `${String(r.pid)}@${started ?? 0}` };
    if (started !== undefined) s.startedAt = started;
    if (typeof r.client_addr === 'string') s.clientAddress = r.client_addr;
    else if (Number(r.client_port) === -1) s.clientAddress = 'local';
    if (typeof r.application_name === 'string' && r.application_name !== '') s.application = r.application_name;
    if (typeof r.state === 'string') s.state = r.state;
    return s;
  });
}

const HIDDEN = '<insufficient privilege>';

/** pg_stat_statements of these users, from the catalog database `database` (named in the explanations). */
export async function statementSummaries(
  exec: Exec,
  usernames: readonly string[],
  database: string,
): Promise<Map<string, StatementSummary>> {
  const names = usernames.filter((u) => USERNAME_PATTERN.test(u));
  const none = (why: string) => new Map<string, StatementSummary>(usernames.map((u) => [u, { available: false, why }]));
  const [ext] = await exec(
    `SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'pg_stat_statements'`,
  );
  if (!ext) return none(`pg_stat_statements is not installed in database ${database}`);
  let rows;
  try {
    rows = await exec(
      `SELECT r.rolname AS username, to_jsonb(s) AS s
         FROM ${escapeIdentifier(String(ext.nspname))}.pg_stat_statements s
         JOIN pg_catalog.pg_roles r ON r.oid = s.userid
        WHERE r.rolname = ANY($1::text[])`,
      [names],
    );
  } catch (err) {
    // 55000: the library is not in shared_preload_libraries; 42501: the admin may not read the view.
    const code = errorCode(err);
    if (code === '55000') return none('pg_stat_statements is installed but not loaded (shared_preload_libraries)');
    if (code === '42501') return none('the admin may not read pg_stat_statements');
    throw err;
  }
  const entries = new Map<string, StatementEntry[]>(names.map((u) => [u, []]));
  for (const r of rows) {
    const s = r.s as Record<string, unknown>;
    const text = typeof s.query === 'string' && s.query !== HIDDEN ? s.query : undefined;
    entries.get(String(r.username))?.push({
      ...(text !== undefined && { text }),
      calls: Number(s.calls ?? 0),
      totalMs: Number(s.total_exec_time ?? s.total_time ?? 0),
      rows: Number(s.rows ?? 0),
    });
  }
  const out = none('not a db-access user name');
  for (const [u, list] of entries) out.set(u, summarise('pg_stat_statements', list));
  return out;
}
