/** The broker wired in-process for a test (real store, real Redis, real targets), with its logs captured. */
import { loadCatalog } from '../../src/config/catalog.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { migrateLatest } from '../../src/store/index.js';
import { createWorker, openApp, type App } from '../../src/app.js';
import type { GrantWorker } from '../../src/jobs/worker.js';
import { capturingLogger } from './logs.js';
import { capturedOutput } from './processes.js';

export interface TestApp {
  app: App;
  settings: Settings;
  logs: string[];
  worker?: GrantWorker;
  close(): Promise<void>;
}

export async function openTestApp(env: Record<string, string>, opts: { worker?: boolean } = {}): Promise<TestApp> {
  const merged = { ...process.env, ...env };
  const settings = loadSettings(merged);
  await migrateLatest(settings.DATABASE_URL);
  const { logger, logs } = capturingLogger();
  const catalog = loadCatalog(settings.CATALOG_PATH, merged);
  const app = await openApp({ settings, catalog, logger, role: opts.worker ? 'worker' : 'producer' });
  const worker = opts.worker ? createWorker(app, settings) : undefined;
  await worker?.start();
  return {
    app,
    settings,
    logs,
    ...(worker && { worker }),
    async close() {
      await worker?.stop();
      await app.close();
      capturedOutput.push(...logs);
    },
  };
}
