/**
 * A token bucket per key in Redis, shared by every replica: `capacity` commands at once, then one more every
 * `refillMs`. One atomic script per call, timed by Redis's own clock (replicas' clocks may disagree). The key holds
 * two numbers and expires once the bucket would be full again.
 */
import type { Redis } from 'ioredis';
import type { Logger, RateLimiter } from '../core/ports.js';

const TAKE = `
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[2]) or now
local gained = math.floor((now - at) / refill)
if gained > 0 then
  tokens = math.min(capacity, tokens + gained)
  at = at + gained * refill
end
if tokens >= capacity then at = now end
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = refill - (now - at)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', at)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * refill) + refill)
return {allowed, wait}
`;

export interface BucketShape {
  /** Commands admitted at once. */
  capacity: number;
  /** One more is admitted every this many milliseconds. */
  refillMs: number;
}

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly shape: BucketShape,
    private readonly logger: Logger,
  ) {}

  async take(key: string): Promise<{ allowed: boolean; retryAfterMs: number }> {
    try {
      const [allowed, wait] = (await this.redis.eval(
        TAKE,
        1,
        `${this.prefix}:rate:${key}`,
        this.shape.capacity,
        this.shape.refillMs,
      )) as [number, number];
      return { allowed: allowed === 1, retryAfterMs: Math.max(0, Number(wait)) };
    } catch (err) {
      this.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'rate limiter unavailable: admitting the request',
      );
      return { allowed: true, retryAfterMs: 0 };
    }
  }
}
