/** latest.md: the date and machine, one table per engine (broker │ raw-SQL floor │ ratio │ target), memory, method. */
import type { CpuCosts } from './costs.js';
import { CPU_PER_GRANT_TARGET_MS, productCpuMs, type BenchResult, type EngineResult } from './results.js';
import { span, type Summary } from './stats.js';

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '—');
const x = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : '—';
const mark = (pass: boolean) => (pass ? '✅' : '❌');

type Row = [metric: string, broker: string, floor: string, ratio: string, target: string];

const cpuRow = (c: CpuCosts) =>
  [c.brokerCpuMs, c.driverCpuMs, c.stateDbCpuMs, c.targetCpuMs, c.redisCpuMs]
    .map((v) => `${v.toFixed(1)} ms`)
    .join(' / ');

function engineRows(e: EngineResult, q: BenchResult['queueFloor']): Row[] {
  const c = e.latency.clickToCredentials;
  const f = e.floor.createGrant;
  const k = e.floor.lockKillDrop;
  const { spaced, burst } = e.revocation;
  const cost = e.burst.costPerGrant;
  const late = (l: typeof spaced, label: string): Row[] => [
    [
      `revocation lateness (user gone − expiresAt), ${label}, p50`,
      ms(l.done.p50),
      `${ms(k.p50)} lock+kill+drop`,
      x(l.done.p50, k.p50),
      '—',
    ],
    [
      `revocation lateness, ${label}, p99`,
      ms(l.done.p99),
      ms(k.p99),
      x(l.done.p99, k.p99),
      `≤ 250 ms ${mark(l.done.p99 <= 250)}`,
    ],
    [`revocation lateness, ${label}, max`, ms(l.done.max), ms(k.max), x(l.done.max, k.max), '—'],
    [
      `revocation start − expiresAt, ${label}, p50 / p99`,
      pct(l.start),
      `${pct(q.delayedLateness)} bare delayed job`,
      '—',
      '—',
    ],
  ];
  const pct = (s: Summary) => `${ms(s.p50)} / ${ms(s.p99)}`;
  return [
    [
      'ack: `/db-access` command, p50 / p99',
      pct(e.latency.commandAck),
      '—',
      '—',
      `< 3000 ms (Slack) ${mark(e.latency.commandAck.p99 < 3000)}`,
    ],
    [
      'ack: Approve click, p50 / p99',
      pct(e.latency.clickAck),
      '—',
      '—',
      `< 3000 ms (Slack) ${mark(e.latency.clickAck.p99 < 3000)}`,
    ],
    ['command → approval message posted, p50 / p99', pct(e.latency.toApprovalMessage), '—', '—', '—'],
    [
      'click → credentials p50',
      ms(c.p50),
      `${ms(f.p50)} create+grant`,
      x(c.p50, f.p50),
      `≤ 25 ms ${mark(c.p50 <= 25)}`,
    ],
    ['click → credentials p95', ms(c.p95), ms(f.p95), x(c.p95, f.p95), '—'],
    ['click → credentials p99', ms(c.p99), ms(f.p99), x(c.p99, f.p99), `≤ 100 ms ${mark(c.p99 <= 100)}`],
    [
      'click → credentials, p50 of each step: approve / provision / schedule revoke + notify',
      `${ms(e.latency.breakdown.approve.p50)} / ${ms(e.latency.breakdown.provision.p50)} / ${ms(e.latency.breakdown.notify.p50)}`,
      `provision: ${ms(q.pickup.p50 + f.p50)} (BullMQ pickup ${ms(q.pickup.p50)} + create+grant ${ms(f.p50)})`,
      `provision ${x(e.latency.breakdown.provision.p50, q.pickup.p50 + f.p50)}`,
      '—',
    ],
    [
      `click → credentials during the ${e.burst.grants}-grant burst, p50 / p99`,
      pct(e.burst.clickToCredentials),
      '—',
      '—',
      '—',
    ],
    ...late(spaced, `${spaced.grants} approved one at a time`),
    ...late(burst, `${burst.grants} expiring within ${span(burst.expiryWindowMs)}`),
    [
      'revocation start − expiresAt, min over all (never early)',
      ms(e.revocation.minStartMs),
      '0 ms',
      '—',
      `≥ 0 ${mark(e.revocation.minStartMs >= 0)}`,
    ],
    [
      'sustained grants/s',
      `${e.burst.grantsPerSecond.toFixed(1)} /s`,
      `${e.burst.floorGrantsPerSecond.toFixed(1)} /s serial create+grant`,
      x(e.burst.floorGrantsPerSecond, e.burst.grantsPerSecond),
      `≥ 100 /s ${mark(e.burst.grantsPerSecond >= 100)}`,
    ],
    [
      'per journey in the burst, CPU: broker / driver + Slack double / state-DB server / target server / Redis',
      cpuRow(cost),
      '—',
      '—',
      '—',
    ],
    [
      'per journey in the burst: state-DB transactions / Redis commands / Slack calls',
      `${cost.stateDbTransactions.toFixed(1)} / ${cost.redisCommands.toFixed(1)} / ${cost.slackCalls.toFixed(1)}`,
      '—',
      '—',
      '—',
    ],
    [
      'per grant from the first click to the last DM (the sustained window), CPU: broker / driver + Slack double / state-DB server / target server / Redis; all cores busy',
      `${cpuRow(e.burst.windowCpuPerGrant)}; ${e.burst.coresBusyPercent.toFixed(0)} %`,
      '—',
      '—',
      '—',
    ],
    cpuTargetRow(e),
  ];
}

/** The product's CPU per grant (broker + state DB + target + Redis, the sustained window) against its target. */
function cpuTargetRow(e: EngineResult): Row {
  const cpu = productCpuMs(e.burst.windowCpuPerGrant);
  const target = CPU_PER_GRANT_TARGET_MS[e.engine];
  return [
    'product CPU per grant, sustained window: broker + state DB + target + Redis',
    ms(cpu),
    `${ms(e.floor.createGrant.p50)} create+grant`,
    x(cpu, e.floor.createGrant.p50),
    target === undefined ? '—' : `≤ ${target} ms ${mark(cpu <= target)}`,
  ];
}

function table(rows: Row[]): string {
  const head = '| Metric | Broker | Raw-SQL floor (same run) | Ratio | Target |\n|---|---|---|---|---|';
  return [head, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdown(res: BenchResult): string {
  const m = res.machine;
  const mem = res.memory;
  const out: string[] = [
    `## Benchmark (${res.date.slice(0, 10)})`,
    '',
    `Run ${res.date} in ${res.durationSeconds.toFixed(0)} s on ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os}, Node ${m.node}, BullMQ ${m.bullmq}; ` +
      `${Object.entries(m.servers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}. Load average when it started: ${m.loadAtStart}.`,
    `Sizes: ${res.knobs.warmup} warm-up journeys and ${res.knobs.warmupBurst} warm-up requests approved at once per engine (not measured), ${res.knobs.latencySamples} journeys one at a time, ${res.knobs.grants} approved at once, ${res.knobs.pending} pending expirations, ${res.knobs.floorIterations} floor iterations per engine.`,
    '',
  ];
  for (const e of res.engines) {
    out.push(`### ${e.engine} — ${e.server}`, '', table(engineRows(e, res.queueFloor)), '');
    const notes: string[] = [];
    if (e.revocation.overlappedPhases)
      notes.push(
        'some burst grants expired before the journeys one at a time ended: their revocations competed with them (raise BENCH_BURST_GRANT_SECONDS)',
      );
    if (e.revocation.burstBacklogReachedSpaced) {
      notes.push(
        "the burst's revocations were still running when the grants approved one at a time began to expire, so those waited behind them (raise BENCH_EXPIRY_GAP_SECONDS)",
      );
    }
    if (e.revocation.bySweeper)
      notes.push(`${e.revocation.bySweeper} grant(s) were revoked by the sweeper, not by their revoke job`);
    if (e.revocation.notExpired.length)
      notes.push(
        `${e.revocation.notExpired.length} grant(s) did not end as "revoked, expired": ${JSON.stringify(e.revocation.notExpired.slice(0, 5))}`,
      );
    if (e.revocation.usersLeft.length)
      notes.push(`users left on the target: ${e.revocation.usersLeft.slice(0, 5).join(', ')}`);
    if (notes.length) out.push(...notes.map((n) => `> ⚠ ${n}`), '');
  }
  const per10k = (bytes: number) => `${((bytes * 10_000) / 2 ** 20).toFixed(2)} MiB`;
  out.push(
    '### Memory per pending expiration (both engines: a revoke job holds only the grant id)',
    '',
    '| Metric | Broker | Floor | Ratio | Target |\n|---|---|---|---|---|',
    `| Redis bytes per pending expiration | ${mem.redisBytesPerExpiration.toFixed(0)} B | ${mem.floorRedisBytesPerExpiration.toFixed(0)} B bare BullMQ delayed job | ${x(mem.redisBytesPerExpiration, mem.floorRedisBytesPerExpiration)} | ≤ 1024 B ${mark(mem.redisBytesPerExpiration <= 1024)} |`,
    `| Redis per 10k pending expirations | ${per10k(mem.redisBytesPerExpiration)} | ${per10k(mem.floorRedisBytesPerExpiration)} | — | ≤ 9.77 MiB |`,
    `| broker process RSS change per 10k pending expirations | ${((mem.brokerRssDeltaBytes * (10_000 / mem.pending)) / 2 ** 20).toFixed(2)} MiB (of ${(mem.brokerRssBeforeBytes / 2 ** 20).toFixed(0)} MiB) | — | — | — |`,
    '',
    `**Targets: ${res.checks.filter((c) => c.pass).length} of ${res.checks.length} met${
      res.passed
        ? ''
        : ` — missed: ${res.checks
            .filter((c) => !c.pass)
            .map((c) => `${c.scope} ${c.what} = ${c.value.toFixed(1)} (target ${c.target})`)
            .join('; ')}`
    }.**`,
    '',
    'How it is measured (`npm run bench`, see bench/): the broker runs as `db-access all` in its own process, with a PostgreSQL state DB, a private Redis and the local Slack Web API double; ' +
      'requests and clicks are signed POSTs to `/slack/events`. *Ack* is the HTTP answer time of the command and of the Approve click, each written to the inbox in the state DB (one insert) before it is answered. *Click → credentials* runs from sending the Approve click to the ' +
      "double recording the requester's DM with **Show credentials** (journeys one at a time; the burst row while all are in flight). *Revocation lateness* is the state DB's `revokedAt` " +
      '(stamped after lock → kill → drop) minus `expiresAt`, for the grants approved one at a time (expiries spaced as they were approved) and for the burst (all expiring within the window its approvals took); *start* is `revokeStartedAt − expiresAt`. *Sustained grants/s* is grants ÷ (first click → last ' +
      "credentials DM) for requests all approved at once. *Memory*: revoke jobs scheduled through the broker's own scheduler for synthetic grants due in 6 h, Redis `used_memory` delta ÷ count; " +
      "the floor is bare BullMQ delayed jobs. The raw-SQL floors time the least SQL doing the same on the same server as the same admin (create+grant; lock + session lookup/kill + drop) over one open connection; the queue floor is BullMQ alone on the same Redis (add → processor start; a delayed job's start − due time, jobs due 20 ms apart). " +
      "*CPU* is read from `/proc`: the broker process, this one (load driver + Slack double), and each server as its root process with every child, living or already exited (PostgreSQL's backends come and go); " +
      "*cores busy* is the share of all cores' time not idle over the same window, every process on the machine included.",
  );
  return out.join('\n');
}
