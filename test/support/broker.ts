/** The broker in-process exactly as `db-access all` runs it (HTTP + Slack + worker), with its logs captured. */
import { loadCatalog } from '../../src/config/catalog.js';
import { loadSettings } from '../../src/config/settings.js';
import { startServices, type Services } from '../../src/services.js';
import { migrateLatest } from '../../src/store/index.js';
import { capturingLogger } from './logs.js';
import { capturedOutput } from './processes.js';

export interface TestBroker extends Services {
  baseUrl: string;
  logs: string[];
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
