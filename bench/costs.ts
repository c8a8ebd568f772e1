/**
 * What a phase cost, for explaining its figures: CPU of the broker process, of this one (driver + Slack double)
 * and of each server on the machine (state DB, target, Redis: root process and every child, see process-cpu.ts),
 * state-DB transactions (pg_stat_database; an autocommit statement is one), Redis commands
 * (INFO total_commands_processed) and Slack Web API calls the broker made.
 */
import pg from 'pg';
import { ownCpuMs, postmasterOf, treesCpuMs } from './process-cpu.js';
import { onPg, type Stage } from './stage.js';
import type { BenchTarget } from './targets.js';

export interface Costs {
  brokerCpuMs: number;
  driverCpuMs: number;
  /** The state DB's server (the machine's PostgreSQL: the bench's own reads of it included). */
  stateDbCpuMs: number;
  /** The target server the users are created on. */
  targetCpuMs: number;
  redisCpuMs: number;
  stateDbTransactions: number;
  redisCommands: number;
  slackCalls: number;
}

type CpuKey = 'brokerCpuMs' | 'driverCpuMs' | 'stateDbCpuMs' | 'targetCpuMs' | 'redisCpuMs';
type CountKey = Exclude<keyof Costs, CpuKey>;

function onStateDb<T>(stage: Stage, fn: (c: pg.Client, db: string) => Promise<T>): Promise<T> {
  const url = new URL(stage.stateUrl);
  const db = url.pathname.slice(1);
  return onPg({ host: url.hostname, port: Number(url.port), user: url.username, database: db }, (c) => fn(c, db));
}

function stateDbTransactions(stage: Stage): Promise<number> {
  return onStateDb(stage, async (c, db) => {
    // Statistics are sent to the cumulative stats system at transaction end; force a fresh snapshot.
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ n: string }>(
      'SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = $1',
      [db],
    );
    return Number(rows[0]?.n ?? 0);
  });
}

export type CpuCosts = Pick<Costs, CpuKey>;

/** Reads the CPU used so far by the broker, this process and each server on the machine. */
export interface CpuMeter {
  read(): Promise<CpuCosts>;
}

export async function cpuMeter(stage: Stage, target: BenchTarget): Promise<CpuMeter> {
  const stateDb = await onStateDb(stage, postmasterOf);
  const info = await stage.redis.client.info('server');
  const pids = { stateDb, target: await target.serverPid(), redis: Number(/process_id:(\d+)/.exec(info)?.[1]) };
  return {
    async read() {
      const own = process.cpuUsage();
      const [stateDbCpuMs, targetCpuMs, redisCpuMs] = await treesCpuMs([pids.stateDb, pids.target, pids.redis]);
      return {
        brokerCpuMs: await ownCpuMs(stage.broker.child.pid!),
        driverCpuMs: (own.user + own.system) / 1000,
        stateDbCpuMs: stateDbCpuMs!,
        targetCpuMs: targetCpuMs!,
        redisCpuMs: redisCpuMs!,
      };
    },
  };
}

/** (after − before) / per, rounded, for every key. */
export function perUnit<T extends object>(before: T, after: T, per: number): T {
  const b = before as Record<string, number>;
  const a = after as Record<string, number>;
  return Object.fromEntries(Object.keys(a).map((k) => [k, Number(((a[k]! - b[k]!) / per).toFixed(2))])) as T;
}

async function counts(stage: Stage): Promise<Record<CountKey, number>> {
  const info = await stage.redis.client.info('stats');
  return {
    stateDbTransactions: await stateDbTransactions(stage),
    redisCommands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0),
    slackCalls: stage.slack.calls.length,
  };
}

/** Runs `fn` and returns what it cost, divided by `per` (e.g. per grant). CPU is read as soon as `fn` ends. */
export async function measureCosts<T>(
  stage: Stage,
  meter: CpuMeter,
  per: number,
  fn: () => Promise<T>,
): Promise<{ value: T; costs: Costs }> {
  const before = { ...(await meter.read()), ...(await counts(stage)) };
  const value = await fn();
  const cpuAfter = await meter.read();
  // PostgreSQL backends flush their statistics at most once a second once idle (PGSTAT_MIN_INTERVAL): let them.
  await new Promise((r) => setTimeout(r, 1_500));
  return { value, costs: perUnit<Costs>(before, { ...cpuAfter, ...(await counts(stage)) }, per) };
}
