/**
 * Memory per pending expiration. A pending expiration is, in Redis, the delayed revoke job the broker schedules
 * when a grant activates. Activating 10 000 real grants (10 000 users on a target) would take most of the run,
 * so the bench schedules the same jobs through the broker's own Scheduler (`BullScheduler.revokeAt`: the same
 * queue, prefix, job id, data and options the worker uses) for synthetic grant ids due in 6 h, and measures:
 * - Redis `used_memory` before and after, ÷ count (includes BullMQ's event stream entries, which it caps);
 * - the floor: the same count of bare BullMQ delayed jobs (`{ grantId }`, a job id, a delay, no other option);
 * - the RSS of the running broker process (`db-access all`) before and after, with a `/metrics` scrape in
 *   between so it has counted them. Pending jobs live in Redis, not in the broker: expect ~0 plus GC noise.
 * Run it last: the synthetic jobs stay until the private Redis is discarded (they are due long after the run).
 */
import { Queue } from 'bullmq';
import { BullScheduler } from '../src/jobs/scheduler.js';
import { connectRedis } from '../src/jobs/queues.js';
import type { GrantId } from '../src/core/model.js';
import { QUEUE_PREFIX, rssOf, type Stage } from './stage.js';

export interface MemoryResult {
  pending: number;
  redisBytesPerExpiration: number;
  floorRedisBytesPerExpiration: number;
  brokerRssBeforeBytes: number;
  brokerRssDeltaBytes: number;
}

/** Synthetic grant ids, far above anything the run creates. */
const FIRST_ID = 1_000_000_000;
const IN_FLIGHT = 200;
const DUE_IN_MS = 6 * 3_600_000;

async function usedMemory(stage: Stage): Promise<number> {
  const info = await stage.redis.client.info('memory');
  const v = /used_memory:(\d+)/.exec(info)?.[1];
  if (!v) throw new Error('INFO memory has no used_memory');
  return Number(v);
}

async function inBatches(count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += IN_FLIGHT) {
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count - start) }, (_, k) => fn(start + k)));
  }
}

export async function measureMemory(stage: Stage, pending: number): Promise<MemoryResult> {
  const pid = stage.broker.child.pid!;
  const conn = await connectRedis(stage.redis.url, 'producer');
  const scheduler = new BullScheduler(conn, QUEUE_PREFIX, { now: () => Date.now() });
  const floor = new Queue<{ grantId: number }>('bench-floor', { connection: conn, prefix: `${QUEUE_PREFIX}-floor` });
  try {
    await fetch(`${stage.baseUrl}/metrics`).then((r) => r.text());
    const rss0 = await rssOf(pid);
    const mem0 = await usedMemory(stage);
    const dueAt = Date.now() + DUE_IN_MS;
    await inBatches(pending, (i) => scheduler.revokeAt((FIRST_ID + i) as GrantId, dueAt));
    const delayed = await scheduler.revokeQueue.getDelayedCount();
    if (delayed < pending) throw new Error(`expected ≥ ${pending} delayed revoke jobs, Redis holds ${delayed}`);
    const mem1 = await usedMemory(stage);
    await fetch(`${stage.baseUrl}/metrics`).then((r) => r.text());
    const rss1 = await rssOf(pid);

    for (let start = 0; start < pending; start += 1000) {
      const n = Math.min(1000, pending - start);
      await floor.addBulk(
        Array.from({ length: n }, (_, k) => ({
          name: 'revoke',
          data: { grantId: FIRST_ID + start + k },
          opts: { jobId: `revoke-${FIRST_ID + start + k}`, delay: DUE_IN_MS },
        })),
      );
    }
    const mem2 = await usedMemory(stage);
    return {
      pending,
      redisBytesPerExpiration: (mem1 - mem0) / pending,
      floorRedisBytesPerExpiration: (mem2 - mem1) / pending,
      brokerRssBeforeBytes: rss0,
      brokerRssDeltaBytes: rss1 - rss0,
    };
  } finally {
    await floor.obliterate({ force: true }).catch(() => undefined);
    await floor.close().catch(() => undefined);
    await scheduler.close().catch(() => undefined);
    conn.disconnect();
  }
}
