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
  /** A ready command line: psql or mysql. */
  command: string;
  url: string;
}

export function buildCredentials(db: DatabaseEntry, username: string, password: string, expiresAt: number): Credentials {
  const host = db.publicHost ?? db.host;
  const port = db.publicPort ?? db.port;
  const database = db.database;
  const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  // username and password are [a-z0-9_] / [A-Za-z0-9]: nothing to escape in a URL or a shell word.
  if (db.engine === 'postgres') {
    const url = `postgresql://${username}:${password}@${hostInUrl}:${port}/${encodeURIComponent(database)}`;
    return { engine: db.engine, host, port, database, username, password, expiresAt, url, command: `psql '${url}'` };
  }
  const url = `mysql://${username}:${password}@${hostInUrl}:${port}/${encodeURIComponent(database)}`;
  const command = `mysql -h ${host} -P ${port} -u ${username} -p${password} ${database}`;
  return { engine: db.engine, host, port, database, username, password, expiresAt, url, command };
}
