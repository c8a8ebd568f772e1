/**
 * What MySQL/MariaDB says about the users' use of their access: sessions from information_schema.PROCESSLIST
 * (server-wide, one query for every user of the server; the program name from performance_schema's connection
 * attributes where the server keeps them) and statement counts per kind from performance_schema's per-user summary.
 */
import type { StatementSummary } from '../../core/model.js';
import type { ObservedSession } from '../../core/ports.js';
import { USERNAME_PATTERN } from '../../core/identifiers.js';
import { summarise, type StatementEntry } from '../statements.js';
import { serverErrno } from './errors.js';
import { delay, rows, type Queryable } from './session.js';

/** ER_TABLEACCESS_DENIED_ERROR / ER_DBACCESS_DENIED_ERROR: the admin may not read performance_schema. */
const DENIED = new Set([1142, 1044]);

/** The sampling query, with the program name (the comment names it in the server's statistics). */
const OBSERVE_WITH_PROGRAM = `/* db-access: observe sessions */ SELECT p.ID AS id, p.USER AS user, p.HOST AS host,
  p.COMMAND AS command, p.TIME AS time, a.ATTR_VALUE AS program
  FROM information_schema.PROCESSLIST p
  LEFT JOIN performance_schema.session_connect_attrs a ON a.PROCESSLIST_ID = p.ID AND a.ATTR_NAME = 'program_name'
  WHERE p.USER IN (?)`;
/** The same without it, for an admin that may not read performance_schema. */
const OBSERVE_PLAIN = `/* db-access: observe sessions */ SELECT p.ID AS id, p.USER AS user, p.HOST AS host,
  p.COMMAND AS command, p.TIME AS time, NULL AS program
  FROM information_schema.PROCESSLIST p WHERE p.USER IN (?)`;

/** Sessions sampling for one engine: remembers that the admin may not read the connection attributes. */
export class SessionSampler {
  private withProgram = true;

  async observe(db: Queryable, usernames: readonly string[], now = Date.now()): Promise<ObservedSession[]> {
    const names = usernames.filter((u) => USERNAME_PATTERN.test(u));
    if (names.length === 0) return [];
    let found;
    try {
      found = await rows(db, this.withProgram ? OBSERVE_WITH_PROGRAM : OBSERVE_PLAIN, [names]);
    } catch (err) {
      if (!this.withProgram || !DENIED.has(serverErrno(err) ?? 0)) throw err;
      this.withProgram = false;
      found = await rows(db, OBSERVE_PLAIN, [names]);
    }
    return found.map((r) => {
      const s: ObservedSession = { username: String(r.user), sessionKey: String(r.id) };
      const seconds = Number(r.time);
      if (Number.isFinite(seconds) && seconds >= 0) s.startedAt = now - seconds * 1000;
      const address = clientAddress(r.host);
      if (address !== undefined) s.clientAddress = address;
      if (typeof r.program === 'string' && r.program !== '') s.application = r.program;
      else if (Buffer.isBuffer(r.program) && r.program.length > 0) s.application = r.program.toString('utf8');
      if (typeof r.command === 'string') s.state = r.command;
      return s;
    });
  }
}

/** PROCESSLIST.HOST ("10.0.4.7:51234", "[::1]:51234", "localhost") → the address without the port. */
function clientAddress(host: unknown): string | undefined {
  if (typeof host !== 'string' || host === '') return undefined;
  if (host === 'localhost') return 'local';
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return v6[1];
  return host.replace(/:\d+$/, '');
}

/** How long statementSummaries waits for the users' ended sessions to leave performance_schema. */
const THREADS_GONE_MS = 2_000;

/**
 * Waits (at most THREADS_GONE_MS) until performance_schema holds no thread of these users. A killed session leaves
 * PROCESSLIST before performance_schema has folded its statements into the per-user summary; read in between, the
 * summary misses that session's statements (seen on MariaDB 10.11).
 */
async function threadsEnded(db: Queryable, names: readonly string[]): Promise<void> {
  const deadline = Date.now() + THREADS_GONE_MS;
  for (;;) {
    const [left] = await rows(
      db,
      'SELECT COUNT(*) AS n FROM performance_schema.threads WHERE PROCESSLIST_USER IN (?)',
      [names],
    );
    if (Number(left?.n ?? 0) === 0 || Date.now() > deadline) return;
    await delay(20);
  }
}

/** performance_schema.events_statements_summary_by_user_by_event_name of these users (SQL statements only). */
export async function statementSummaries(
  db: Queryable,
  usernames: readonly string[],
): Promise<Map<string, StatementSummary>> {
  const names = usernames.filter((u) => USERNAME_PATTERN.test(u));
  const none = (why: string) => new Map<string, StatementSummary>(usernames.map((u) => [u, { available: false, why }]));
  const [ps] = await rows(db, 'SELECT @@GLOBAL.performance_schema AS ps');
  if (Number(ps?.ps) !== 1) return none('performance_schema is off on this server');
  if (names.length === 0) return none('not a db-access user name');
  let found;
  try {
    await threadsEnded(db, names);
    found = await rows(
      db,
      `SELECT USER AS user, EVENT_NAME AS ev, COUNT_STAR AS n, SUM_TIMER_WAIT AS t,
              SUM_ROWS_SENT AS sent, SUM_ROWS_AFFECTED AS affected
         FROM performance_schema.events_statements_summary_by_user_by_event_name
        WHERE USER IN (?) AND COUNT_STAR > 0 AND EVENT_NAME LIKE 'statement/sql/%'`,
      [names],
    );
  } catch (err) {
    if (DENIED.has(serverErrno(err) ?? 0)) return none('the admin may not read performance_schema');
    throw err;
  }
  const entries = new Map<string, StatementEntry[]>(names.map((u) => [u, []]));
  for (const r of found) {
    entries.get(String(r.user))?.push({
      kind: String(r.ev).slice('statement/sql/'.length).replace(/_/g, ' ').toUpperCase(),
      calls: Number(r.n),
      // Timers are in picoseconds.
      totalMs: Number(r.t) / 1e9,
      rows: Number(r.sent) + Number(r.affected),
    });
  }
  const out = none('not a db-access user name');
  for (const [u, list] of entries) out.set(u, summarise('performance_schema', list));
  return out;
}
