/**
 * How Teams runs, decided once at start from the environment and the catalog:
 * - `bot`: TEAMS_APP_ID (+ TEAMS_APP_PASSWORD) — every activity carries a Bot Framework token, checked by botbuilder.
 * - `anonymous`: TEAMS_ANONYMOUS=true — unsigned activities, local development only: refused unless HOST is a
 *   loopback address, and outbound messages go to TEAMS_SERVICE_URL only (see adapter.ts).
 * - `off`: neither, and no database names a Teams channel.
 * A catalog that names a Teams channel with neither set is refused: an empty app id must never mean "anyone may
 * post activities".
 */
import { isIPv4 } from 'node:net';
import { ConfigError } from '../../config/catalog.js';
import type { Catalog } from '../../core/catalog.js';

export type TeamsMode = 'off' | 'bot' | 'anonymous';

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIPv4(v4) && v4.split('.')[0] === '127';
}

export function teamsMode(
  env: { TEAMS_APP_ID?: string | undefined; TEAMS_ANONYMOUS: boolean; HOST: string },
  catalog: Catalog,
): TeamsMode {
  const problem = (p: string) => new ConfigError([p], 'environment');
  if (env.TEAMS_ANONYMOUS) {
    if (env.TEAMS_APP_ID)
      throw problem(
        'TEAMS_ANONYMOUS=true and TEAMS_APP_ID are both set: anonymous mode is for local development without a bot registration; unset one of them',
      );
    if (!isLoopbackHost(env.HOST)) {
      throw problem(
        `TEAMS_ANONYMOUS=true accepts unsigned Teams activities and is for local development only: set HOST to a loopback address (127.0.0.1, ::1 or localhost), not ${JSON.stringify(env.HOST)} — or, to serve Teams, set TEAMS_APP_ID and TEAMS_APP_PASSWORD instead`,
      );
    }
    return 'anonymous';
  }
  if (env.TEAMS_APP_ID) return 'bot';
  const users = [...catalog.databases.values()]
    .filter((d) => d.approval.teamsChannel !== undefined || d.approval.breakGlass?.teamsAlertChannel !== undefined)
    .map((d) => d.name);
  if (users.length > 0) {
    throw problem(
      `the catalog names a Teams channel (${users.join(', ')}) but Teams is not configured: set TEAMS_APP_ID and TEAMS_APP_PASSWORD (the Azure bot registration), or TEAMS_ANONYMOUS=true with HOST=127.0.0.1 for local development`,
    );
  }
  return 'off';
}
