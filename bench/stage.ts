/**
 * The stage around the broker: a private Redis, a throwaway state database on the machine's PostgreSQL, the Slack
 * Web API double with every requester and the approver, the catalog, and the broker itself as `db-access all`
 * in a child process — the way it is deployed, so its event loop and its RSS are its own and the driver (this
 * process, which also hosts the Slack double) does not share them.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startSlackDouble, type SlackDouble } from '../dev/slack/double.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../src/store/index.js';
import { writeCatalog } from '../test/support/catalog.js';
import { startWorker, type WorkerProcess } from '../test/support/processes.js';
import { freePort, startPrivateRedis, type PrivateRedis } from '../test/support/redis.js';
import type { BenchTarget } from './targets.js';
import type { Teardown } from './teardown.js';

export const SECRET = 'bench-signing-secret-0123456789abcdef';
export const CHANNEL = 'C0BENCHAPPROVALS';
export const APPROVER = 'U0BENCHBOB';
export const QUEUE_PREFIX = 'bench';

const MAIN_PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };

export interface Stage {
  baseUrl: string;
  slack: SlackDouble;
  redis: PrivateRedis;
  broker: WorkerProcess;
  /** The broker's state DB, read by the bench for grant times (revocation lateness). */
  store: OpenStateStore;
  stateUrl: string;
  /** Versions of the state DB and Redis servers. */
  versions: { stateDb: string; redis: string };
}

/** Slack user ids the bench acts as: one requester per grant (per-person limits apply to real people). */
export function requesterId(engine: string, phase: 'L' | 'B' | 'W' | 'X', i: number): string {
  return `U0${engine === 'postgres' ? 'P' : 'M'}${phase}${i}`;
}

/** Runs `fn` on a fresh client with `config`, closed afterwards whatever happens. */
export async function onPg<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(config);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** `opts.logFile`: where the broker's own log (pino JSON) is written when it stops, for looking into a run. */
export async function startStage(
  targets: BenchTarget[],
  users: string[],
  teardown: Teardown,
  opts: { logFile: string; nodeOptions?: string },
): Promise<Stage> {
  const redis = await startPrivateRedis();
  teardown.defer('stop the private Redis', () => redis.stop());

  const dbName = `dbaccess_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const stateDbVersion = await onPg(MAIN_PG, async (c) => {
    await c.query(`CREATE DATABASE ${dbName}`);
    return String((await c.query('SHOW server_version')).rows[0]?.server_version);
  });
  teardown.defer(`drop the state database ${dbName}`, () =>
    onPg(MAIN_PG, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)),
  );
  const stateUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
  await migrateLatest(stateUrl);
  const store = await openStateStore(stateUrl);
  teardown.defer('close the state store', () => store.close());

  const slack = await startSlackDouble();
  teardown.defer('stop the Slack double', () => slack.stop());
  slack.addUser({ id: APPROVER, email: 'bench-approver@example.com', name: 'approver' });
  for (const id of users) slack.addUser({ id, email: `${id.toLowerCase()}@example.com`, name: id.toLowerCase() });
  slack.addChannel(CHANNEL, { name: 'db-approvals' });

  const catalog = writeCatalog(
    targets.map((t) => t.entry),
    { perEntry: () => ({ approval: { slackChannel: CHANNEL, approvers: [{ email: 'bench-approver@example.com' }] } }) },
  );
  teardown.defer('remove the catalog file', () => rm(dirname(catalog.path), { recursive: true, force: true }));
  const port = await freePort();
  const broker = await startWorker(
    {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: stateUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      PORT: String(port),
      LOG_LEVEL: 'info',
      ...(opts.nodeOptions && { NODE_OPTIONS: opts.nodeOptions }),
    },
    'all',
  );
  teardown.defer('stop the broker', async () => {
    await broker.stop();
    await writeFile(opts.logFile, broker.output());
  });

  const info = await redis.client.info('server');
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    slack,
    redis,
    broker,
    store,
    stateUrl,
    versions: {
      stateDb: `PostgreSQL ${stateDbVersion.split(' ')[0]}`,
      redis: `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`,
    },
  };
}

/** Resident set size of a process, in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}
