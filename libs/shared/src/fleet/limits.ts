import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { withScripts } from '../redis/scripts.js';

/**
 * Takes a slot under a concurrency key, fleet-wide. KEYS: semaphore. ARGV: job id, max, now, lease ms.
 * Expired leases (a dead worker's) are dropped first, so a slot is never leaked for longer than a lease.
 * A job that already holds a slot keeps it (renewed). Returns 1 when held, 0 when the key is full.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
`;

type LimitCommands = { reinsAcquireSlot(key: string, jobId: string, max: string, now: string, leaseMs: string): Promise<number> };

/**
 * Fleet-wide limits on agents, in Redis: a semaphore per concurrency key (for example an API account or a
 * model), whose slots are leases renewed with the heartbeat; and a pause per key, set when an agent under it
 * hits a rate limit, that holds back every agent under the same key until the reset time.
 */
export class FleetLimits {
  private readonly redis: Redis & LimitCommands;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly leaseMs: number,
  ) {
    this.redis = withScripts<LimitCommands>(redis, { reinsAcquireSlot: { numberOfKeys: 1, lua: ACQUIRE } });
  }

  /** Takes or renews a slot; false when all `max` slots are held by others. */
  async acquire(concurrencyKey: string, jobId: string, max: number, now = Date.now()): Promise<boolean> {
    return (await this.redis.reinsAcquireSlot(this.keys.semaphore(concurrencyKey), jobId, String(max), String(now), String(this.leaseMs))) === 1;
  }

  async release(concurrencyKey: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.keys.semaphore(concurrencyKey), jobId);
  }

  /** Job ids holding a slot now. */
  async holders(concurrencyKey: string, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.semaphore(concurrencyKey), now, '+inf');
  }

  /** Pauses every agent under the key until `until` (epoch ms); a later pause wins over an earlier one. */
  async pause(concurrencyKey: string, until: number, now = Date.now()): Promise<void> {
    const key = this.keys.pause(concurrencyKey);
    const current = Number((await this.redis.get(key)) ?? 0);
    if (until > current && until > now) await this.redis.set(key, String(until), 'PX', until - now);
  }

  /** When the pause on a key ends (epoch ms), or undefined when it is not paused. */
  async pausedUntil(concurrencyKey: string): Promise<number | undefined> {
    const value = await this.redis.get(this.keys.pause(concurrencyKey));
    return value ? Number(value) : undefined;
  }
}
