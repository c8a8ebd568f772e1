/** The broker in-process exactly as `db-access all` runs it (HTTP + Slack + worker), with its logs captured. */
import { loadCatalog } from '../../src/config/catalog.js';
import { loadSettings } from '../../src/config/settings.js';
import { startServices, type Services } from '../../src/app.js';
import { migrateLatest } from '../../src/store/index.js';
import { capturingLogger } from './logs.js';
import { tempSqliteUrl } from './catalog.js';
import { capturedOutput } from './processes.js';
import { sharedRedisUrl, uniquePrefix } from './redis.js';

export interface TestBroker extends Services {
  baseUrl: string;
  logs: string[];
}

/** The settings an end-to-end journey runs with: its catalog, a fresh SQLite store, a private queue prefix on the
 *  shared Redis, a 1 s sweeper and a 5 s reminder window, debug logs (captured). */
export function journeyEnv(
  catalog: { path: string; env: Record<string, string> },
  prefix: string,
): Record<string, string> {
  return {
    ...catalog.env,
    CATALOG_PATH: catalog.path,
    DATABASE_URL: tempSqliteUrl(),
    REDIS_URL: sharedRedisUrl,
    QUEUE_PREFIX: uniquePrefix(prefix),
    SWEEP_INTERVAL: '1s',
    // A journey compresses an hour of one person's use into seconds (trust tests keep the default, 5/1m).
    REQUEST_RATE: '1000/1s',
    REMIND_BEFORE: '5s',
    LOG_LEVEL: 'debug',
  };
}

/** Teams as local development runs it against a Bot Connector double: anonymous mode on a loopback HOST, the
 *  double as the only Bot Connector, its tenant as this installation's. */
export function teamsAnonymousEnv(connector: { url: string; tenantId: string }): Record<string, string> {
  return {
    TEAMS_ANONYMOUS: 'true',
    HOST: '127.0.0.1',
    TEAMS_SERVICE_URL: connector.url,
    TEAMS_TENANT_ID: connector.tenantId,
  };
}

export async function startBroker(env: Record<string, string>): Promise<TestBroker> {
  const merged = { ...process.env, PORT: '0', ...env };
  const settings = loadSettings(merged);
  await migrateLatest(settings.DATABASE_URL);
  const { logger, logs } = capturingLogger();
  const services = await startServices(
    { settings, catalog: loadCatalog(settings.CATALOG_PATH, merged), logger },
    { http: true, worker: true },
  );
  return {
    ...services,
    baseUrl: `http://127.0.0.1:${services.port}`,
    logs,
    async stop() {
      await services.stop();
      capturedOutput.push(...logs);
    },
  };
}
