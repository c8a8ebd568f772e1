/**
 * BullMQ's own floor on the same Redis, in the same run, with a queue of its own (prefix `bench-qfloor`):
 * - pickup: `add` → the processor starts, one job at a time (what the provision step pays before any SQL);
 * - delayed lateness: a delayed job's processor start − its due time, jobs due 20 ms apart (what a revoke job
 *   would pay if it simply fired at expiry; the broker schedules 150 ms early and waits the rest in-process).
 */
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { connectRedis } from '../src/jobs/queues.js';
import type { Stage } from './stage.js';

export interface QueueFloors {
  pickupMs: number[];
  delayedLatenessMs: number[];
}

const PREFIX = 'bench-qfloor';
const SPACING_MS = 20;

export async function measureQueueFloors(stage: Stage, iterations: number): Promise<QueueFloors> {
  const producer = await connectRedis(stage.redis.url, 'producer');
  const consumer = await connectRedis(stage.redis.url, 'worker');
  const queue = new Queue<{ at: number }>('floor', { connection: producer, prefix: PREFIX });
  const started = new Map<string, number>();
  const waiters = new Set<() => void>();
  const worker = new Worker<{ at: number }>(
    'floor',
    async (job) => {
      started.set(job.id!, performance.timeOrigin + performance.now());
      for (const w of [...waiters]) w();
    },
    { connection: consumer, prefix: PREFIX, concurrency: 20 },
  );
  const startedOnce = (id: string) =>
    new Promise<number>((resolve) => {
      const check = () => {
        const t = started.get(id);
        if (t === undefined) return;
        waiters.delete(check);
        resolve(t);
      };
      waiters.add(check);
      check();
    });
  try {
    await worker.waitUntilReady();
    const pickupMs: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const id = `p${i}`;
      const t0 = performance.timeOrigin + performance.now();
      await queue.add('pickup', { at: t0 }, { jobId: id, removeOnComplete: true });
      pickupMs.push((await startedOnce(id)) - t0);
    }
    const base = Date.now() + 500;
    const due = Array.from({ length: iterations }, (_, i) => base + i * SPACING_MS);
    await queue.addBulk(
      due.map((at, i) => ({
        name: 'delayed',
        data: { at },
        opts: { jobId: `d${i}`, delay: at - Date.now(), removeOnComplete: true },
      })),
    );
    const fired = await Promise.all(due.map((_, i) => startedOnce(`d${i}`)));
    return { pickupMs, delayedLatenessMs: fired.map((t, i) => t - due[i]!) };
  } finally {
    await worker.close().catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close().catch(() => undefined);
    producer.disconnect();
    consumer.disconnect();
  }
}
