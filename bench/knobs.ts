/**
 * Size knobs, read once from the environment. The defaults keep a full run (both engines) under 3 minutes on a
 * 2-core machine; grow them on a quiet machine for tighter percentiles.
 */
export type EngineName = 'postgres' | 'mariadb';

export interface Knobs {
  /** BENCH_ENGINES: which targets to measure, in order (default `postgres,mariadb`). */
  engines: EngineName[];
  /** BENCH_LATENCY_SAMPLES: journeys run one at a time for the ack and click → credentials latencies. */
  latencySamples: number;
  /**
   * BENCH_WARMUP: journeys run one at a time before anything is measured on an engine (5 s grants, revoked before
   * the burst starts), so the first engine measured is not also the one that pays the broker's JIT warm-up. 0 = none.
   */
  warmup: number;
  /**
   * BENCH_WARMUP_BURST: requests approved at once before the measured burst, not measured (5 s grants, revoked
   * before it starts). A broker in service has run the burst's code (batches of many, everything in flight at
   * once) many times over; without this the measured window also pays V8's compiling of it. 0 = none.
   */
  warmupBurst: number;
  /** BENCH_GRANTS: requests approved all at once for the sustained grants/s figure. */
  grants: number;
  /**
   * BENCH_PENDING: pending expirations scheduled for the memory figure. A few hundred overstate the bytes per job
   * (the queue's own keys are shared by fewer jobs: ≈ 1.1–1.7 KB at 100 against ≈ 0.9 KB at 10 000).
   */
  pending: number;
  /** BENCH_FLOOR_ITERATIONS: raw-SQL create+grant and lock+kill+drop repetitions per engine. */
  floorIterations: number;
  /**
   * BENCH_BURST_GRANT_SECONDS: duration of the burst's grants. They must outlive the burst and the one-at-a-time
   * journeys that follow it, so no revocation competes with a latency measurement (the report flags it if one did).
   */
  burstGrantSeconds: number;
  /**
   * BENCH_EXPIRY_GAP_SECONDS: the one-at-a-time grants expire this long after the last burst grant, so the
   * burst's revocations are done and the two lateness populations (spaced vs. all at once) stay apart.
   */
  expiryGapSeconds: number;
  /** BENCH_BROKER_NODE_OPTIONS: NODE_OPTIONS for the broker process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
  brokerNodeOptions?: string;
  /** BENCH_OUT: where latest.json and latest.md go. */
  outDir: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return v;
}

export function readKnobs(env: NodeJS.ProcessEnv = process.env): Knobs {
  const engines = (env.BENCH_ENGINES ?? 'postgres,mariadb')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of engines)
    if (e !== 'postgres' && e !== 'mariadb')
      throw new Error(`BENCH_ENGINES: unknown engine ${JSON.stringify(e)} (postgres, mariadb)`);
  return {
    engines: engines as EngineName[],
    latencySamples: int(env, 'BENCH_LATENCY_SAMPLES', 100),
    warmup: int(env, 'BENCH_WARMUP', 30, 0),
    warmupBurst: int(env, 'BENCH_WARMUP_BURST', 100, 0),
    grants: int(env, 'BENCH_GRANTS', 200),
    pending: int(env, 'BENCH_PENDING', 10_000),
    floorIterations: int(env, 'BENCH_FLOOR_ITERATIONS', 200),
    burstGrantSeconds: int(env, 'BENCH_BURST_GRANT_SECONDS', 30, 5),
    expiryGapSeconds: int(env, 'BENCH_EXPIRY_GAP_SECONDS', 15, 1),
    ...(env.BENCH_BROKER_NODE_OPTIONS && { brokerNodeOptions: env.BENCH_BROKER_NODE_OPTIONS }),
    outDir: env.BENCH_OUT ?? new URL('./results/', import.meta.url).pathname,
  };
}
