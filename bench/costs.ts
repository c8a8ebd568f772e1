/**
 * What a phase cost, for explaining its figures: CPU of the broker process and of this one (driver + Slack
 * double), state-DB transactions (pg_stat_database; an autocommit statement is one), Redis commands
 * (INFO total_commands_processed) and Slack Web API calls the broker made.
 */
import pg from 'pg';
import { cpuMsOf, type Stage } from './stage.js';

export interface Costs {
  brokerCpuMs: number;
  driverCpuMs: number;
  stateDbTransactions: number;
  redisCommands: number;
  slackCalls: number;
}

async function stateDbTransactions(stage: Stage): Promise<number> {
  const url = new URL(stage.stateUrl);
  const db = url.pathname.slice(1);
  const c = new pg.Client({ host: url.hostname, port: Number(url.port), user: url.username, database: db });
  await c.connect();
  try {
    // Statistics are sent to the cumulative stats system at transaction end; force a fresh snapshot.
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ n: string }>('SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = $1', [db]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function snapshot(stage: Stage): Promise<Costs> {
  const info = await stage.redis.client.info('stats');
  const cpu = process.cpuUsage();
  return {
    brokerCpuMs: await cpuMsOf(stage.broker.child.pid!),
    driverCpuMs: (cpu.user + cpu.system) / 1000,
    stateDbTransactions: await stateDbTransactions(stage),
    redisCommands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0),
    slackCalls: stage.slack.calls.length,
  };
}

/** Runs `fn` and returns what it cost, divided by `per` (e.g. per grant). */
export async function measureCosts<T>(stage: Stage, per: number, fn: () => Promise<T>): Promise<{ value: T; costs: Costs }> {
  const before = await snapshot(stage);
  const value = await fn();
  // PostgreSQL backends flush their statistics at most once a second once idle (PGSTAT_MIN_INTERVAL): let them.
  await new Promise((r) => setTimeout(r, 1_500));
  const after = await snapshot(stage);
  const d = (k: keyof Costs) => Number(((after[k] - before[k]) / per).toFixed(2));
  return {
    value,
    costs: { brokerCpuMs: d('brokerCpuMs'), driverCpuMs: d('driverCpuMs'), stateDbTransactions: d('stateDbTransactions'), redisCommands: d('redisCommands'), slackCalls: d('slackCalls') },
  };
}
