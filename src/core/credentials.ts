import type { DatabaseEntry } from './catalog.js';

/** What a person needs to connect. Built on demand, handed over once, never stored. */
export interface Credentials {
  engine: DatabaseEntry['engine'];
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  expiresAt: number;
  /**
   * A ready POSIX shell command line: `PGPASSWORD='…' psql '<conninfo>'` or `MYSQL_PWD='…' mysql -h … -P … -u … -D …`.
   * The password travels in the client's environment, which only its owner can read, and never in its argument
   * list, which `ps` shows to everyone on the machine (both clients read these variables; MySQL 8 calls MYSQL_PWD
   * deprecated but still honours it). Every value is quoted, so it is correct whatever it holds.
   */
  command: string;
  /** A connection URL for tools that take one. It carries the password: wherever it is shown, say so. */
  url: string;
}

/** A word the shell passes through unchanged, so it needs no quotes (quotes would only make it harder to read). */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `s` as one POSIX shell word: single-quoted (a quote inside becomes '\''), unless it is plainly safe. */
function shellWord(s: string, opts: { alwaysQuote?: boolean } = {}): string {
  if (!opts.alwaysQuote && SHELL_SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `value` in a libpq keyword/value connection string: quoted when empty or holding whitespace, `'` or `\`. */
function conninfoValue(value: string): string {
  return /^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** An IPv6 literal as clients take it outside a URL: without brackets. */
const bare = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

export function buildCredentials(db: DatabaseEntry, username: string, password: string, expiresAt: number): Credentials {
  const host = db.publicHost ?? db.host;
  const port = db.publicPort ?? db.port;
  const database = db.database;
  const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const userinfo = `${encodeURIComponent(username)}:${encodeURIComponent(password)}`;
  const path = encodeURIComponent(database);
  const base = { engine: db.engine, host, port, database, username, password, expiresAt };
  if (db.engine === 'postgres') {
    const conninfo = Object.entries({ host: bare(host), port: String(port), dbname: database, user: username })
      .map(([k, v]) => `${k}=${conninfoValue(v)}`)
      .join(' ');
    return {
      ...base,
      url: `postgresql://${userinfo}@${hostInUrl}:${port}/${path}`,
      command: `PGPASSWORD=${shellWord(password, { alwaysQuote: true })} psql ${shellWord(conninfo, { alwaysQuote: true })}`,
    };
  }
  // -D rather than a trailing database word: an option's argument is never read as an option, whatever it starts with.
  const args = ['-h', bare(host), '-P', String(port), '-u', username, '-D', database].map((a) => shellWord(a));
  return {
    ...base,
    url: `mysql://${userinfo}@${hostInUrl}:${port}/${path}`,
    command: `MYSQL_PWD=${shellWord(password, { alwaysQuote: true })} mysql ${args.join(' ')}`,
  };
}
