/**
 * DATABASE_URL → what the knex client needs. Accepted forms:
 *   sqlite:<path>                     e.g. sqlite:./data/db-access.sqlite, sqlite:/var/lib/db-access/state.sqlite,
 *                                     sqlite::memory: (one connection; for tests)
 *   postgres://user:pass@host:5432/db  (or postgresql://; query parameters go to node-postgres, e.g. ?sslmode=require)
 *   mysql://user:pass@host:3306/db     (or mariadb://; query parameters go to mysql2, JSON-decoded when they parse)
 */
import { StateStoreError } from './errors.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/db-access.sqlite';

export const ACCEPTED_DATABASE_URL_FORMS =
  'sqlite:<path> (e.g. sqlite:./data/db-access.sqlite), postgres://user:password@host:5432/database ' +
  '(or postgresql://), mysql://user:password@host:3306/database (or mariadb://)';

export type StoreDialect = 'sqlite' | 'postgres' | 'mysql';

export interface MysqlConnection {
  host: string;
  port: number;
  user?: string;
  password?: string;
  database: string;
  [option: string]: unknown;
}

export type ParsedStoreUrl =
  | { dialect: 'sqlite'; filename: string }
  | { dialect: 'postgres'; connectionString: string; password?: string }
  | { dialect: 'mysql'; connection: MysqlConnection; password?: string };

const SECRET_PARAM = /pass|pwd|secret|token|key/i;

/**
 * The URL with its password (and any password-like query parameter) replaced by ***: safe for logs and errors.
 * Errs on the side of masking too much when the URL is malformed.
 */
export function describeStateStoreUrl(url: string): string {
  let out = url;
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(out);
  if (m) {
    const start = m[1]!.length;
    const at = out.lastIndexOf('@');
    if (at > start) {
      const userinfo = out.slice(start, at);
      const colon = userinfo.indexOf(':');
      if (colon >= 0) out = `${out.slice(0, start + colon)}:***${out.slice(at)}`;
    }
  }
  return out.replace(/([?&])([^=&#]*)=([^&#]*)/g, (all, sep: string, key: string) =>
    SECRET_PARAM.test(key) ? `${sep}${key}=***` : all,
  );
}

/** Replaces every occurrence of the URL's password (raw and percent-decoded) in a driver message. */
export function scrubPassword(text: string, url: string): string {
  const secrets = new Set<string>();
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^]*)@/i.exec(url);
  const userinfo = m?.[1];
  if (userinfo !== undefined && userinfo.includes(':')) {
    const raw = userinfo.slice(userinfo.indexOf(':') + 1);
    secrets.add(raw);
    try {
      secrets.add(decodeURIComponent(raw));
    } catch {
      /* not percent-encoded */
    }
  }
  for (const part of url.split(/[?&]/).slice(1)) {
    const eq = part.indexOf('=');
    if (eq > 0 && SECRET_PARAM.test(part.slice(0, eq))) secrets.add(part.slice(eq + 1).split('#')[0] ?? '');
  }
  const parsed = tryUrl(url.trim());
  if (parsed?.password) {
    secrets.add(parsed.password);
    secrets.add(safeDecode(parsed.password));
  }
  let out = text;
  // Longest first, so a password that contains another candidate is masked whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s) out = out.split(s).join('***');
  return out;
}

function badUrl(url: string, why: string): StateStoreError {
  return new StateStoreError(
    'config',
    `DATABASE_URL ${JSON.stringify(describeStateStoreUrl(url))} ${why}. Accepted forms: ${ACCEPTED_DATABASE_URL_FORMS}`,
  );
}

export function parseStateStoreUrl(url: string): ParsedStoreUrl {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      let filename = trimmed.slice('sqlite:'.length);
      if (filename.startsWith('//')) filename = filename.slice(2); // sqlite:///abs/path, sqlite://./rel
      if (!filename) throw badUrl(url, 'names no file');
      return { dialect: 'sqlite', filename };
    }
    case 'postgres':
    case 'postgresql': {
      const parsed = tryUrl(trimmed);
      if (!parsed) throw badUrl(url, 'is not a valid URL');
      const password = parsed.password ? safeDecode(parsed.password) : undefined;
      return { dialect: 'postgres', connectionString: trimmed, ...(password ? { password } : {}) };
    }
    case 'mysql':
    case 'mariadb': {
      const parsed = tryUrl(trimmed);
      if (!parsed || !parsed.hostname) throw badUrl(url, 'is not a valid URL with a host');
      const database = safeDecode(parsed.pathname.replace(/^\//, ''));
      if (!database) throw badUrl(url, 'names no database (…/database)');
      const connection: MysqlConnection = {
        host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: parsed.port ? Number(parsed.port) : 3306,
        database,
      };
      if (parsed.username) connection.user = safeDecode(parsed.username);
      const password = parsed.password ? safeDecode(parsed.password) : undefined;
      if (password) connection.password = password;
      for (const [key, value] of parsed.searchParams) {
        try {
          connection[key] = JSON.parse(value);
        } catch {
          connection[key] = value;
        }
      }
      return { dialect: 'mysql', connection, ...(password ? { password } : {}) };
    }
    default:
      throw badUrl(url, scheme ? `uses the unsupported scheme "${scheme}:"` : 'has no scheme');
  }
}

function tryUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
