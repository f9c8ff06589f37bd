import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { withScripts, type ReinsScripts } from '../redis/scripts.js';

/**
 * Fleet-wide limits on agents, in Redis: a semaphore per concurrency key (for example an API account or a
 * model), whose slots are leases renewed with the heartbeat; and a pause per key, set when an agent under it
 * hits a rate limit, that holds back every agent under the same key until the reset time.
 */
export class FleetLimits {
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
    private readonly leaseMs: number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Takes or renews a slot (lua/acquire-slot-1.lua); false when all `max` slots are held by others. */
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
