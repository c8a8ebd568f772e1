/** Which server we talk to. MariaDB reports itself in VERSION(); its handshake version may carry a `5.5.5-` prefix. */
import type { Flavour } from './errors.js';
import { rows, type Queryable } from './session.js';

export interface ServerInfo {
  flavour: Flavour;
  /** `10.11.19`, `8.0.36`. */
  version: string;
  major: number;
  minor: number;
  patch: number;
  /** VERSION() as the server returned it. */
  raw: string;
}

export function parseServerVersion(raw: string): ServerInfo {
  const flavour: Flavour = /mariadb/i.test(raw) ? 'mariadb' : 'mysql';
  const stripped = raw.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(stripped);
  const [major, minor, patch] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  return { flavour, version: m ? `${major}.${minor}.${patch}` : stripped, major, minor, patch, raw };
}

export async function fetchServerInfo(db: Queryable): Promise<ServerInfo> {
  const [row] = await rows(db, 'SELECT VERSION() AS version');
  return parseServerVersion(String(row?.version ?? ''));
}

/** The oldest servers whose statements this adapter uses: MariaDB CONNECTION ADMIN (10.5.2), MySQL roles (8.0). */
export function isSupported(info: ServerInfo): boolean {
  const v = info.major * 10_000 + info.minor * 100 + info.patch;
  return info.flavour === 'mariadb' ? v >= 100_502 : v >= 80_000;
}
