import { Redis, type RedisOptions } from 'ioredis';
import { redactRedisUrl } from '../config/env.js';
import { RedisUnreachableError } from '../errors/redis-unreachable-error.js';

/**
 * `blocking` connections are for BullMQ workers and QueueEvents: they must retry forever
 * (BullMQ requires maxRetriesPerRequest: null). `command` connections fail fast, so a CLI
 * call against a dead Redis ends with a clear message instead of hanging.
 */
export type ConnectionRole = 'blocking' | 'command';

export function createRedis(url: string, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'blocking'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra }
      : {
          maxRetriesPerRequest: 1,
          connectTimeout: 3_000,
          retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1_000)),
          ...extra,
        };
  return new Redis(url, options);
}

/** Pings once and turns a connection failure into a message that says where and what to do. */
export async function assertRedisReachable(redis: Redis, url: string): Promise<void> {
  try {
    await redis.ping();
  } catch (error) {
    throw new RedisUnreachableError(
      `Cannot reach Redis at ${redactRedisUrl(url)} (${(error as Error).message}). ` +
        'Start one with `reins up`, or point REINS_REDIS_URL at a running Redis.',
      { cause: error },
    );
  }
}
