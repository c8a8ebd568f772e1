/**
 * The shape of latest.json, and the targets checked against it. All times are milliseconds.
 * Ratios are broker ÷ floor (how many times the raw SQL's cost the broker's whole path takes); for the grant rate
 * the floor is the serial create+grant rate on one connection, and the ratio is floor rate ÷ broker rate.
 */
import type { Breakdown } from './breakdown.js';
import type { Costs, CpuCosts } from './costs.js';
import type { Knobs } from './knobs.js';
import type { Machine } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { Lateness } from './revocation.js';
import { span, type Summary } from './stats.js';

export interface EngineResult {
  engine: string;
  catalogName: string;
  server: string;
  floor: { createGrant: Summary; lockKillDrop: Summary };
  /** Journeys one at a time. */
  latency: {
    commandAck: Summary;
    toApprovalMessage: Summary;
    clickAck: Summary;
    clickToCredentials: Summary;
    breakdown: Breakdown;
  };
  /** All requests approved at once. */
  burst: {
    grants: number;
    wallMs: number;
    grantsPerSecond: number;
    floorGrantsPerSecond: number;
    clickAck: Summary;
    clickToCredentials: Summary;
    /** All cores' busy share (every process on the machine) from the first click to the last DM, in %. */
    coresBusyPercent: number;
    /** CPU per grant by process over that window (the sustained rate's). */
    windowCpuPerGrant: CpuCosts;
    /** What the burst cost per grant (whole journey: command, approval, provisioning, notifications). */
    costPerGrant: Costs;
  };
  revocation: {
    /** Grants approved one at a time: expiries spaced as their approvals were. */
    spaced: Lateness;
    /** The burst's grants: all expiring within the window their approvals took. */
    burst: Lateness;
    /** True if the burst's revocations were still running when the spaced grants began to expire (they then waited). */
    burstBacklogReachedSpaced: boolean;
    /** min(revokeStartedAt − expiresAt) over every grant: ≥ 0 means never early. */
    minStartMs: number;
    bySweeper: number;
    notExpired: Array<{ id: number; status: string; endReason?: string }>;
    usersLeft: string[];
    /** True if a grant expired before the latency phases ended (revocations then competed with them). */
    overlappedPhases: boolean;
  };
}

export interface BenchResult {
  date: string;
  durationSeconds: number;
  machine: Machine;
  knobs: Omit<Knobs, 'outDir' | 'brokerNodeOptions'>;
  /** BullMQ alone on the same Redis: add → processor start, and a delayed job's start − due time. */
  queueFloor: { pickup: Summary; delayedLateness: Summary };
  engines: EngineResult[];
  memory: MemoryResult;
  checks: Check[];
  passed: boolean;
}

export interface Check {
  scope: string;
  what: string;
  value: number;
  target: string;
  pass: boolean;
}

/**
 * The product's CPU per grant target by engine (ms): the broker, the state DB, the target and Redis over the sustained
 * window (the load driver and the Slack double aside). Unlike grants/s it hardly moves with how busy the host is: it
 * is the work a grant costs.
 */
export const CPU_PER_GRANT_TARGET_MS: Record<string, number> = { postgres: 12, mariadb: 8 };

/** broker + state DB + target + Redis: what the product itself costs (the driver and the Slack double aside). */
export function productCpuMs(c: CpuCosts): number {
  return c.brokerCpuMs + c.stateDbCpuMs + c.targetCpuMs + c.redisCpuMs;
}

/** The targets, as checks (2-core machine, broker-side). */
export function checkTargets(engines: EngineResult[], memory: MemoryResult): Check[] {
  const out: Check[] = [];
  for (const e of engines) {
    const s = e.engine;
    const cpuTarget = CPU_PER_GRANT_TARGET_MS[s];
    if (cpuTarget !== undefined) {
      const cpu = productCpuMs(e.burst.windowCpuPerGrant);
      out.push({
        scope: s,
        what: 'product CPU per grant, sustained window (ms)',
        value: cpu,
        target: `≤ ${cpuTarget}`,
        pass: cpu <= cpuTarget,
      });
    }
    out.push(
      {
        scope: s,
        what: 'click → credentials p50 (ms)',
        value: e.latency.clickToCredentials.p50,
        target: '≤ 25',
        pass: e.latency.clickToCredentials.p50 <= 25,
      },
      {
        scope: s,
        what: 'click → credentials p99 (ms)',
        value: e.latency.clickToCredentials.p99,
        target: '≤ 100',
        pass: e.latency.clickToCredentials.p99 <= 100,
      },
      {
        scope: s,
        what: 'revocation lateness p99, spaced expiries (ms)',
        value: e.revocation.spaced.done.p99,
        target: '≤ 250',
        pass: e.revocation.spaced.done.p99 <= 250,
      },
      {
        scope: s,
        what: `revocation lateness p99, ${e.revocation.burst.grants} expiring within ${span(e.revocation.burst.expiryWindowMs)} (ms)`,
        value: e.revocation.burst.done.p99,
        target: '≤ 250',
        pass: e.revocation.burst.done.p99 <= 250,
      },
      {
        scope: s,
        what: 'revocation start − expiry, min (ms)',
        value: e.revocation.minStartMs,
        target: '≥ 0 (never early)',
        pass: e.revocation.minStartMs >= 0,
      },
      {
        scope: s,
        what: 'sustained grants/s',
        value: e.burst.grantsPerSecond,
        target: '≥ 100',
        pass: e.burst.grantsPerSecond >= 100,
      },
      {
        scope: s,
        what: 'grants not revoked at expiry + users left',
        value: e.revocation.notExpired.length + e.revocation.usersLeft.length,
        target: '= 0',
        pass: e.revocation.notExpired.length + e.revocation.usersLeft.length === 0,
      },
    );
  }
  out.push({
    scope: 'redis',
    what: 'Redis bytes per pending expiration',
    value: memory.redisBytesPerExpiration,
    target: '≤ 1024',
    pass: memory.redisBytesPerExpiration <= 1024,
  });
  return out;
}
