/**
 * `npm run bench`: per engine, the raw-SQL floors, then journeys one at a time (ack and click → credentials
 * latencies), then a burst of requests approved at once (sustained grants/s), then every grant's revocation at
 * expiry (lateness, never early); finally memory per pending expiration. Writes bench/results/latest.json and
 * latest.md, and prints the Markdown on stdout (progress goes to stderr). Exit code 0 when every target is met,
 * 1 when one is missed, 2 when the run failed. Everything created is removed at the end, even on failure or ^C.
 * Size knobs: see knobs.ts (BENCH_ENGINES, BENCH_LATENCY_SAMPLES, BENCH_GRANTS, BENCH_PENDING, …).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { breakdown } from './breakdown.js';
import { cpuMeter, measureCosts } from './costs.js';
import { measureQueueFloors } from './queue-floors.js';
import { measureFloors } from './floors.js';
import { burstPhase, latencyPhase } from './journeys.js';
import { readKnobs, type EngineName, type Knobs } from './knobs.js';
import { log } from './log.js';
import { describeMachine } from './machine.js';
import { renderMarkdown } from './markdown.js';
import { measureMemory } from './memory.js';
import { checkTargets, type BenchResult, type EngineResult } from './results.js';
import { awaitRevocations, expiryRange, lateness } from './revocation.js';
import { requesterId, startStage, type Stage } from './stage.js';
import { rounded, summarize } from './stats.js';
import { startMariadbTarget, startPostgresTarget, type BenchTarget } from './targets.js';
import { Teardown } from './teardown.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const WARMUP_GRANT_SECONDS = 5;

async function benchEngine(stage: Stage, target: BenchTarget, knobs: Knobs): Promise<EngineResult> {
  const name = target.entry.name;
  const engine = target.engine;
  log(`${engine}: raw-SQL floors (${knobs.floorIterations} × create+grant, lock+kill+drop)`);
  const floors = await measureFloors(target, knobs.floorIterations);
  const createGrant = summarize(floors.createGrantMs);

  if (knobs.warmup > 0) {
    log(`${engine}: ${knobs.warmup} warm-up journeys (not measured; 5 s grants, revoked before the burst)`);
    await latencyPhase(
      stage,
      name,
      range(knobs.warmup).map((i) => requesterId(engine, 'W', i)),
      WARMUP_GRANT_SECONDS,
    );
    await awaitRevocations(stage, target);
  }
  if (knobs.warmupBurst > 0) {
    log(
      `${engine}: ${knobs.warmupBurst} warm-up requests approved at once (not measured; 5 s grants, revoked before the burst)`,
    );
    const users = range(knobs.warmupBurst).map((i) => requesterId(engine, 'X', i));
    await burstPhase(stage, await cpuMeter(stage, target), name, users, WARMUP_GRANT_SECONDS);
    await awaitRevocations(stage, target);
  }

  // The burst first: its grants expire after the one-at-a-time journeys, which expire later still (see knobs.ts).
  log(`${engine}: ${knobs.grants} requests approved at once`);
  const burstUsers = range(knobs.grants).map((i) => requesterId(engine, 'B', i));
  const meter = await cpuMeter(stage, target);
  const burst = await measureCosts(stage, meter, knobs.grants, () =>
    burstPhase(stage, meter, name, burstUsers, knobs.burstGrantSeconds),
  );

  const afterBurst = await expiryRange(stage, target);
  const latencySeconds = Math.ceil((afterBurst.last + knobs.expiryGapSeconds * 1000 - Date.now()) / 1000);
  log(`${engine}: ${knobs.latencySamples} journeys one at a time (grants of ${latencySeconds} s)`);
  const latencyUsers = range(knobs.latencySamples).map((i) => requesterId(engine, 'L', i));
  const samples = await latencyPhase(stage, name, latencyUsers, latencySeconds);
  const phasesEnded = Date.now();

  log(
    `${engine}: waiting for every grant to be revoked at expiry (${Math.max(0, Math.round((afterBurst.first - Date.now()) / 1000))} s until the first)`,
  );
  const rev = await awaitRevocations(stage, target);
  const inPhase = (users: string[]) => {
    const set = new Set(users);
    return rev.all.filter((g) => set.has(g.requester.id));
  };
  const all = lateness(rev.all);
  const spacedGrants = inPhase(latencyUsers);
  const burstGrants = inPhase(burstUsers);

  return {
    engine,
    catalogName: name,
    server: target.version,
    floor: { createGrant: rounded(createGrant), lockKillDrop: rounded(summarize(floors.lockKillDropMs)) },
    latency: {
      commandAck: rounded(summarize(samples.map((s) => s.commandAckMs))),
      toApprovalMessage: rounded(summarize(samples.map((s) => s.toApprovalMessageMs))),
      clickAck: rounded(summarize(samples.map((s) => s.clickAckMs))),
      clickToCredentials: rounded(summarize(samples.map((s) => s.clickToCredentialsMs))),
      breakdown: breakdown(samples, rev.all),
    },
    burst: {
      grants: burst.value.grants,
      wallMs: Number(burst.value.wallMs.toFixed(1)),
      grantsPerSecond: Number(burst.value.grantsPerSecond.toFixed(1)),
      // One connection doing nothing but create+grant, back to back: the rate DDL serialised per server allows.
      floorGrantsPerSecond: Number((1000 / createGrant.mean).toFixed(1)),
      clickAck: rounded(summarize(burst.value.clickAckMs)),
      clickToCredentials: rounded(summarize(burst.value.clickToCredentialsMs)),
      coresBusyPercent: burst.value.coresBusyPercent,
      windowCpuPerGrant: burst.value.windowCpuPerGrant,
      costPerGrant: burst.costs,
    },
    revocation: {
      spaced: lateness(spacedGrants),
      burst: lateness(burstGrants),
      burstBacklogReachedSpaced:
        Math.max(...burstGrants.map((g) => g.revokedAt ?? Infinity)) >
        Math.min(...spacedGrants.map((g) => g.expiresAt)),
      minStartMs: all.start.min,
      bySweeper: rev.bySweeper,
      notExpired: rev.notExpired,
      usersLeft: rev.usersLeft,
      overlappedPhases: afterBurst.first < phasesEnded,
    },
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const load = os.loadavg()[0] ?? 0;
  const knobs = readKnobs();
  const { outDir, brokerNodeOptions: _profiling, ...sizes } = knobs;
  mkdirSync(outDir, { recursive: true });
  const teardown = new Teardown();
  const interrupted = () => {
    log('interrupted: cleaning up');
    void teardown.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`starting ${knobs.engines.join(' and ')} targets, Redis, state DB, Slack double and the broker`);
    const starters: Record<EngineName, (t: Teardown) => Promise<BenchTarget>> = {
      postgres: startPostgresTarget,
      mariadb: startMariadbTarget,
    };
    const targets: BenchTarget[] = [];
    for (const e of knobs.engines) targets.push(await starters[e](teardown));
    const users = targets.flatMap((t) => [
      ...range(knobs.warmup).map((i) => requesterId(t.engine, 'W', i)),
      ...range(knobs.warmupBurst).map((i) => requesterId(t.engine, 'X', i)),
      ...range(knobs.latencySamples).map((i) => requesterId(t.engine, 'L', i)),
      ...range(knobs.grants).map((i) => requesterId(t.engine, 'B', i)),
    ]);
    const stage = await startStage(targets, users, teardown, {
      logFile: join(outDir, 'broker.log'),
      ...(knobs.brokerNodeOptions && { nodeOptions: knobs.brokerNodeOptions }),
    });

    log(`BullMQ floor: ${knobs.floorIterations} × pickup, ${knobs.floorIterations} delayed jobs`);
    const queue = await measureQueueFloors(stage, knobs.floorIterations);

    const engines: EngineResult[] = [];
    for (const t of targets) engines.push(await benchEngine(stage, t, knobs));

    log(`memory: ${knobs.pending} pending expirations`);
    const memory = await measureMemory(stage, knobs.pending);

    const checks = checkTargets(engines, memory);
    const result: BenchResult = {
      date: new Date(started).toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: describeMachine(
        {
          ...Object.fromEntries(targets.map((t) => [`target ${t.engine}`, t.version])),
          'state DB': stage.versions.stateDb,
          redis: stage.versions.redis,
        },
        load,
      ),
      knobs: sizes,
      queueFloor: {
        pickup: rounded(summarize(queue.pickupMs)),
        delayedLateness: rounded(summarize(queue.delayedLatenessMs)),
      },
      engines,
      memory: {
        ...memory,
        redisBytesPerExpiration: Math.round(memory.redisBytesPerExpiration),
        floorRedisBytesPerExpiration: Math.round(memory.floorRedisBytesPerExpiration),
      },
      checks,
      passed: checks.every((c) => c.pass),
    };
    const markdown = renderMarkdown(result);
    writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(outDir, 'latest.md'), `${markdown}\n`);
    process.stdout.write(`${markdown}\n`);
    log(`wrote ${join(outDir, 'latest.json')} and latest.md`);
    return result.passed ? 0 : 1;
  } catch (err) {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 2;
  } finally {
    log('cleaning up');
    await teardown.run();
  }
}

// Exit explicitly: pools and sockets of libraries the bench only borrows (test support, BullMQ) may keep the loop alive.
process.exit(await main());
