/** A database session opened with issued credentials, for the demo: query, and learn when the server ends it. */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Credentials } from '../../src/core/credentials.js';

export interface DemoSession {
  query(sql: string): Promise<string>;
  /** Resolves with the reason when the server ends the session. */
  ended: Promise<string>;
  close(): Promise<void>;
}

export async function openSession(
  c: Pick<Credentials, 'engine' | 'host' | 'port' | 'database' | 'username' | 'password'>,
): Promise<DemoSession> {
  if (c.engine === 'postgres') {
    const client = new pg.Client({
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.username,
      password: c.password,
    });
    const ended = new Promise<string>((resolve) => {
      client.on('error', (err) => resolve(err.message));
      client.on('end', () => resolve('connection closed by the server'));
    });
    await client.connect();
    return {
      query: async (sql) => JSON.stringify((await client.query(sql)).rows),
      ended,
      close: () => client.end().catch(() => undefined),
    };
  }
  const conn = await mysql.createConnection({
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.username,
    password: c.password,
  });
  const ended = new Promise<string>((resolve) => {
    conn.on('error', (err) => resolve(err.message));
    conn.on('end', () => resolve('connection closed by the server'));
  });
  return {
    query: async (sql) => JSON.stringify((await conn.query(sql))[0]),
    ended,
    close: () => conn.end().catch(() => undefined),
  };
}
