/**
 * Pending terminal logins in Redis (core/terminal-login.ts): one hash per login that expires with its code, tries
 * counted atomically by Redis, consumed by exactly one caller (DEL answers 1 once). Holds the code's HMAC, never the
 * code.
 */
import type { Redis } from 'ioredis';
import type { LoginStore, PendingLogin } from '../core/terminal-login.js';

/**
 * Counts a try: {attempts, login JSON}, {-1} once over the limit, {0} when there is no such login. A login over its
 * limit is left to expire rather than deleted: deleting it would also refuse a right code already counted within the
 * limit that is on its way to consume() at the same moment.
 */
const ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if n > tonumber(ARGV[1]) then return {-1} end
return {n, redis.call('HGET', KEYS[1], 'login')}
`;

export class RedisLoginStore implements LoginStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(loginId: string): string {
    return `${this.prefix}:terminal:login:${loginId}`;
  }

  async save(loginId: string, login: PendingLogin, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key(loginId), 'login', JSON.stringify(login), 'attempts', 0)
      .pexpire(this.key(loginId), ttlMs)
      .exec();
  }

  async attempt(
    loginId: string,
    maxAttempts: number,
  ): Promise<{ login: PendingLogin; attempts: number } | 'locked' | undefined> {
    const [n, json] = (await this.redis.eval(ATTEMPT, 1, this.key(loginId), maxAttempts)) as [number, string?];
    if (n === 0 || json === undefined) return n === -1 ? 'locked' : undefined;
    return { login: JSON.parse(json) as PendingLogin, attempts: n };
  }

  async consume(loginId: string): Promise<boolean> {
    return (await this.redis.del(this.key(loginId))) === 1;
  }

  async once(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:terminal:once:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
}
