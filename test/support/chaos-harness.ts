/**
 * The chaos suite's stage: one SQLite state store, a private Redis (FLUSHALL and kill hurt nobody else), the
 * broker in-process as a producer (the core's use cases, the real BullMQ scheduler), and real `db-access worker`
 * processes the cases kill. Timers are short so crash recovery takes seconds: WORKER_LOCK 2 s (a dead worker's
 * job is taken over after ~2 s), SWEEP_INTERVAL 1 s, REVOKE_RETRY_MAX 2 s.
 *
 *   const stage = await startChaosStage('crash', [target.entry]);
 *   const w = await stage.worker({ DB_ACCESS_FAILPOINT: 'provision.after-create-user' });
 *   const grant = await stage.approvedGrant(target.entry.name, '20s');
 *   ...
 *   expect(await stage.violations([pgProbe(target)])).toEqual([]);
 *   await stage.close();
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import type { Grant, GrantStatus } from '../../src/core/model.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { openTestApp, type TestApp } from './app.js';
import { tempSqliteUrl, writeCatalog } from './catalog.js';
import { invariantViolations, type TargetProbe } from './chaos-invariants.js';
import type { MariadbTarget } from './mariadb-target.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from './pg-cluster.js';
import { startWorker, type WorkerProcess } from './processes.js';
import { startPrivateRedis, type PrivateRedis } from './redis.js';
import { waitFor } from './wait.js';
import { Redis } from 'ioredis';
import { gid } from './ids.js';

export const APPROVER = { platform: 'slack' as const, id: 'UAPPROVER', email: 'bob@example.com', name: 'bob' };

export interface ChaosStage {
  env: Record<string, string>;
  app: TestApp;
  deps: CoreDeps;
  /** The stage's private Redis (replaced by restartRedis). */
  readonly redis: PrivateRedis;
  /** kill -9 the Redis server and start an empty one on the same port (Redis lost everything, then came back). */
  restartRedis(): Promise<void>;
  /** Starts a `db-access worker` process (extra env, e.g. DB_ACCESS_FAILPOINT); close() stops those still running. */
  worker(extra?: Record<string, string>): Promise<WorkerProcess>;
  /** A request by a fresh requester, approved by bob; resolves with the grant row (status provisioning). */
  approvedGrant(database: string, duration: string, level?: string): Promise<Grant>;
  /** Waits until the grant reaches one of `statuses`. */
  grantIn(id: number, statuses: readonly GrantStatus[], timeoutMs?: number): Promise<Grant>;
  /** Stops every worker process still running (afterEach: a failed case must not leave a worker to the next). */
  stopWorkers(): Promise<void>;
  /** The invariant checker over this stage's store and engines (see chaos-invariants.ts). */
  violations(targets: TargetProbe[], opts?: { requestIds?: number[]; terminal?: boolean }): Promise<string[]>;
  close(): Promise<void>;
}

let requesters = 0;

export async function startChaosStage(
  name: string,
  entries: DatabaseEntry[],
  extraEnv: Record<string, string> = {},
  catalogOpts: Parameters<typeof writeCatalog>[1] = {},
): Promise<ChaosStage> {
  let redis = await startPrivateRedis();
  const catalog = writeCatalog(entries, { maxDuration: '4h', ...catalogOpts });
  const env: Record<string, string> = {
    ...catalog.env,
    CATALOG_PATH: catalog.path,
    DATABASE_URL: tempSqliteUrl(),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `chaos-${name}`,
    LOG_LEVEL: 'info',
    WORKER_LOCK: '2s',
    SWEEP_INTERVAL: '1s',
    PROVISION_STALE_AFTER: '5s',
    REVOKE_RETRY_MAX: '2s',
    ...extraEnv,
  };
  const app = await openTestApp(env);
  const deps = app.app.deps;
  const workers: WorkerProcess[] = [];

  const grantIn = (id: number, statuses: readonly GrantStatus[], timeoutMs = 30_000) =>
    waitFor(
      `grant #${id} to be ${statuses.join(' or ')}`,
      async () => {
        const g = await deps.store.getGrant(gid(id));
        return g && statuses.includes(g.status) ? g : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );

  return {
    env,
    app,
    deps,
    get redis() {
      return redis;
    },
    async restartRedis() {
      await redis.stop();
      redis = await redisServerOn(Number(new URL(redis.url).port));
    },
    async worker(extra = {}) {
      const w = await startWorker({ ...env, ...extra });
      workers.push(w);
      return w;
    },
    async approvedGrant(database, duration, level = 'read') {
      const n = ++requesters;
      const req = await requestAccess(
        deps,
        { platform: 'slack', id: `UCHAOS${n}`, email: `chaos${n}@example.com` },
        { database, level, duration, reason: `chaos ${name}` },
      );
      const res = await approve(deps, req.id, APPROVER);
      if (res.status !== 'approved') throw new Error(`request #${req.id} was not approved: ${res.status}`);
      return res.grant;
    },
    grantIn,
    async stopWorkers() {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
    },
    violations: (targets, opts = {}) =>
      invariantViolations({ store: deps.store, engines: deps.engines, targets, ...opts }),
    async close() {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
      await app.close();
      await redis.stop();
    },
  };
}

/** A test file's PostgreSQL stage: set up in beforeAll, workers stopped after each case, torn down in afterAll. */
export interface PgChaos {
  cluster: PgCluster;
  target: PgTarget;
  stage: ChaosStage;
  probe: TargetProbe;
}

export function usePgChaosStage(name: string): PgChaos {
  const ctx = {} as PgChaos;
  beforeAll(async () => {
    ctx.cluster = await startScramCluster();
    ctx.target = await setupPgTarget(ctx.cluster);
    ctx.probe = pgProbe(ctx.target);
    ctx.stage = await startChaosStage(name, [ctx.target.entry]);
  });
  afterEach(async () => {
    await ctx.stage?.stopWorkers();
    await startPgServer(ctx.cluster).catch(() => undefined); // a case that failed must not leave the server down
  });
  afterAll(async () => {
    await ctx.stage?.close();
    await ctx.cluster?.stop();
  });
  return ctx;
}

export function pgProbe(target: PgTarget): TargetProbe {
  return {
    database: target.entry.name,
    userExists: (u) => target.userExists(u),
    sessionsOf: (u) => target.sessionsOf(u),
    // The cluster is private to the test file: every jit_ role on it must belong to a live grant.
    jitUsers: async () =>
      (
        await target.cluster.query(
          "SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit!_%' ESCAPE '!' AND rolname <> $1",
          [target.entry.admin.user],
        )
      ).map((r) => String(r.rolname)),
  };
}

/** The machine's MariaDB is shared with other test runs: orphans are found by this target's markers only. */
export function mariadbProbe(target: MariadbTarget): TargetProbe {
  return { database: target.entry.name, userExists: target.userExists, sessionsOf: target.sessionsOf };
}

// -- stopping and starting a throwaway PostgreSQL cluster in place (same data dir, same port) ------------------------

const run = promisify(execFile);
const PG_CTL = join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', 'pg_ctl');

/** Stops the cluster like a crash or a power cut (immediate): every session ends, nothing answers on the port. */
export async function stopPgServer(cluster: PgCluster): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', PG_CTL, '-D', cluster.dataDir, '-m', 'immediate', '-w', 'stop'], {
    timeout: 60_000,
  });
}

/** Starts the stopped cluster again on its port and waits until a superuser login works. */
export async function startPgServer(cluster: PgCluster): Promise<void> {
  await run(
    'runuser',
    [
      '-u',
      'postgres',
      '--',
      PG_CTL,
      '-D',
      cluster.dataDir,
      '-l',
      cluster.logFile,
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${cluster.port}`,
      'start',
    ],
    {
      timeout: 60_000,
      cwd: cluster.dir,
    },
  );
  await waitFor(
    'the PostgreSQL cluster to accept logins again',
    async () => (await cluster.query('SELECT 1 AS ok'))[0]?.ok === 1,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** An empty redis-server on a given port (startPrivateRedis picks a free one; a restart must reuse the old one). */
async function redisServerOn(port: number): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'db-access-chaos-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await waitFor('the restarted redis-server to answer', async () => (await client.ping()) === 'PONG');
  const stop = async () => {
    client.disconnect();
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, client, stop };
}
