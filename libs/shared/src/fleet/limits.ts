import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { withScripts, type ReinsScripts } from '../redis/scripts.js';

/**
 * Fleet-wide limits on agents, in Redis: a semaphore per concurrency key (a model, a shared service), whose
 * slots are leases renewed with the heartbeat. (A usage limit pauses the account: accounts/account-state.ts.)
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
}
