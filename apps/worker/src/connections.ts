import type { Redis } from 'ioredis';
import { createRedis, type Logger, type ReinsConfig } from '@reins/shared';

/**
 * The worker's Redis connections, by use: `main` for state, `fast` (short command timeouts, so a Redis that
 * stops answering is noticed within a tick) for heartbeats and registration, `subscriber` for the control
 * channel, `consumer` for each BullMQ consumer. The worker closes every connection it was given.
 */
export type RedisUse = 'main' | 'fast' | 'subscriber' | 'consumer';
export type RedisFactory = (use: RedisUse) => Redis;

export function defaultRedisFactory(config: ReinsConfig, logger: Logger): RedisFactory {
  return (use) => {
    if (use === 'fast') return createRedis(config.redisUrl, 'blocking', { commandTimeout: Math.max(500, config.monitorIntervalMs) }).on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
    // No ready check: its INFO would be refused once the connection is in subscriber mode.
    if (use === 'subscriber') return createRedis(config.redisUrl, 'blocking', { enableReadyCheck: false }).on('error', (error) => logger.debug({ err: error }, 'control channel connection error'));
    return createRedis(config.redisUrl, 'blocking');
  };
}
