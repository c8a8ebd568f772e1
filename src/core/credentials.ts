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
   * deprecated but still honours it). Every value is quoted, so it is correct whatever it holds. When the target has
   * a tls mode other than disable, the command asks for TLS too (sslmode / --ssl-mode, see below).
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

/**
 * The protection asked of the person's client: the target's tls.mode, so a person is never handed less than the
 * broker uses. No `tls` key / disable: nothing is added (the clients' defaults).
 *
 * PostgreSQL (libpq): `sslmode=<mode>`. The broker's CA path means nothing on the person's machine, so no
 * `sslrootcert` is handed out: for verify-ca / verify-full the person's libpq verifies against PGSSLROOTCERT or
 * ~/.postgresql/root.crt (the CA the operator publishes), or their system's roots with PGSSLROOTCERT=system
 * (libpq 16+). Without either, psql refuses to connect rather than connecting unverified.
 *
 * MySQL/MariaDB: the two command-line clients spell TLS differently and each rejects the other's options, so both
 * spellings are given with the `--loose-` prefix, which makes a client that does not know an option print a
 * warning and go on: MySQL 8's `mysql` takes --ssl-mode=REQUIRED | VERIFY_CA | VERIFY_IDENTITY (it removed --ssl);
 * MariaDB's `mariadb`/`mysql` takes --ssl and --ssl-verify-server-cert (chain and host name; it has no CA-only
 * check, so verify-ca hands it --ssl alone). The CA comes from `ssl-ca=<path>` under [client] in ~/.my.cnf.
 */
const PG_SSLMODE = { require: 'require', 'verify-ca': 'verify-ca', 'verify-full': 'verify-full' } as const;
const MYSQL_TLS_OPTIONS = {
  require: ['--loose-ssl-mode=REQUIRED', '--loose-ssl'],
  'verify-ca': ['--loose-ssl-mode=VERIFY_CA', '--loose-ssl'],
  'verify-full': ['--loose-ssl-mode=VERIFY_IDENTITY', '--loose-ssl', '--loose-ssl-verify-server-cert'],
} as const;

/** An IPv6 literal as clients take it outside a URL: without brackets. */
const bare = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

export function buildCredentials(
  db: DatabaseEntry,
  username: string,
  password: string,
  expiresAt: number,
): Credentials {
  const host = db.publicHost ?? db.host;
  const port = db.publicPort ?? db.port;
  const database = db.database;
  const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const userinfo = `${encodeURIComponent(username)}:${encodeURIComponent(password)}`;
  const path = encodeURIComponent(database);
  const base = { engine: db.engine, host, port, database, username, password, expiresAt };
  const mode = db.tls?.mode ?? 'disable';
  if (db.engine === 'postgres') {
    const sslmode = mode === 'disable' ? undefined : PG_SSLMODE[mode];
    const conninfo = Object.entries({
      host: bare(host),
      port: String(port),
      dbname: database,
      user: username,
      ...(sslmode && { sslmode }),
    })
      .map(([k, v]) => `${k}=${conninfoValue(v)}`)
      .join(' ');
    return {
      ...base,
      url: `postgresql://${userinfo}@${hostInUrl}:${port}/${path}${sslmode ? `?sslmode=${sslmode}` : ''}`,
      command: `PGPASSWORD=${shellWord(password, { alwaysQuote: true })} psql ${shellWord(conninfo, { alwaysQuote: true })}`,
    };
  }
  // -D rather than a trailing database word: an option's argument is never read as an option, whatever it starts with.
  const tlsArgs = mode === 'disable' ? [] : MYSQL_TLS_OPTIONS[mode];
  // Both clients take `-h localhost` to mean their default Unix socket and ignore -P: a tunnel (publicHost
  // localhost, e.g. kubectl port-forward) needs TCP said explicitly.
  const tcp = bare(host).toLowerCase() === 'localhost' ? ['--protocol=TCP'] : [];
  const args = ['-h', bare(host), '-P', String(port), ...tcp, '-u', username, ...tlsArgs, '-D', database].map((a) =>
    shellWord(a),
  );
  // The URL's ssl-mode is the MySQL Connector / URI-spec spelling (MySQL Shell, Connector/J 8 and others read it).
  const sslMode =
    mode === 'disable'
      ? undefined
      : { require: 'REQUIRED', 'verify-ca': 'VERIFY_CA', 'verify-full': 'VERIFY_IDENTITY' }[mode];
  return {
    ...base,
    url: `mysql://${userinfo}@${hostInUrl}:${port}/${path}${sslMode ? `?ssl-mode=${sslMode}` : ''}`,
    command: `MYSQL_PWD=${shellWord(password, { alwaysQuote: true })} mysql ${args.join(' ')}`,
  };
}
