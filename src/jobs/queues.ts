/** Queue names, job ids and Redis connections. Job data holds ids only: never a password (it rests in Redis). */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import type { GrantId } from '../core/model.js';

export const PROVISION_QUEUE = 'provision';
export const REVOKE_QUEUE = 'revoke';

/** BullMQ custom ids must not contain ":" nor be all digits. */
export const provisionJobId = (grantId: GrantId) => `provision-${grantId}`;
export const revokeJobId = (grantId: GrantId) => `revoke-${grantId}`;

export interface GrantJobData {
  grantId: GrantId;
}

/** Revoke jobs are due this much before expiry; the processor then waits out the rest (never early). */
export const REVOKE_LEAD_MS = 150;
/** A revoke job that fires earlier than this before expiry is put back to sleep instead of waiting in-process. */
export const MAX_INPROCESS_WAIT_MS = 2_000;

/**
 * Producers (web, CLI) fail fast when Redis is down — the state DB already holds the work and the sweeper picks
 * it up — while workers (blocking commands) retry forever, as BullMQ requires.
 */
export async function connectRedis(url: string, role: 'producer' | 'worker', readyTimeoutMs = 3_000): Promise<Redis> {
  const redis =
    role === 'worker'
      ? new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false })
      : new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
  redis.on('error', () => undefined); // reconnects on its own; failures surface on the commands
  if (redis.status !== 'ready') {
    await Promise.race([once(redis, 'ready'), new Promise((resolve) => setTimeout(resolve, readyTimeoutMs).unref())]);
  }
  return redis;
}

/**
 * BullMQ keeps scheduled revocations as Redis keys: a Redis that evicts keys under memory pressure would drop
 * them silently. Refuses anything but `maxmemory-policy noeviction`. A Redis that forbids CONFIG (some managed
 * services) cannot be checked: that is logged, not refused — the sweeper still revokes from the state DB.
 */
export async function assertNoEviction(redis: Redis, warn: (msg: string) => void): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as unknown;
    const arr = Array.isArray(reply) ? reply : reply && typeof reply === 'object' ? Object.entries(reply).flat() : [];
    policy = arr[1] === undefined ? undefined : String(arr[1]);
  } catch (err) {
    warn(
      `cannot read Redis maxmemory-policy (${err instanceof Error ? err.message : String(err)}); make sure it is noeviction`,
    );
    return;
  }
  if (policy !== undefined && policy !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is "${policy}": Redis may evict scheduled revocations. Set maxmemory-policy noeviction (and appendonly yes) and restart.`,
    );
  }
}
