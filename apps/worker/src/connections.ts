import type { WorkerOptions } from 'bullmq';
import { beatIntervalMs, createRedis, lockRenewTimeMs, type Keys, type Logger, type ReinsConfig, type RedisConnection } from '@reins/shared';
import { attemptBackoff } from './attempt/retry-error.js';

/**
 * The worker's Redis connections, by use: `main` for state, `fast` (short command timeouts, so a Redis that
 * stops answering is noticed within a tick) for heartbeats and registration, `subscriber` for the control
 * channel, `consumer` for each BullMQ consumer. The worker closes every connection it was given.
 */
export type RedisUse = 'main' | 'fast' | 'subscriber' | 'consumer';
export type RedisFactory = (use: RedisUse) => RedisConnection;

export function defaultRedisFactory(config: ReinsConfig, logger: Logger): RedisFactory {
  return (use) => {
    if (use === 'fast') return createRedis(config.redisUrl, 'blocking', { commandTimeout: Math.max(500, config.monitorIntervalMs) }).on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
    // No ready check: its INFO would be refused once the connection is in subscriber mode.
    if (use === 'subscriber') return createRedis(config.redisUrl, 'blocking', { enableReadyCheck: false }).on('error', (error) => logger.debug({ err: error }, 'control channel connection error'));
    return createRedis(config.redisUrl, 'blocking');
  };
}

/**
 * A BullMQ consumer's settings. The lock lasts one heartbeat TTL and stalls are checked every beat interval
 * (config/timings.ts: every tick with a short TTL, every other tick with the defaults), so a dead worker's job
 * is back on the queue within TTL plus that interval (BullMQ's defaults would take about 90 s). A
 * stall is recorded as a failed attempt by the next worker (attempt/admission.ts) and retried at once;
 * maxStalledCount is only a last resort against a job that kills every worker. The backoff is the one each
 * attempt's conclusion chose (attempt/retry-error.ts).
 */
export function consumerOptions(config: ReinsConfig, keys: Keys, connection: RedisConnection, concurrency: number): WorkerOptions {
  return {
    connection,
    prefix: keys.bullPrefix,
    concurrency,
    autorun: false,
    lockDuration: config.heartbeatTtlMs,
    lockRenewTime: lockRenewTimeMs(config.heartbeatTtlMs),
    stalledInterval: beatIntervalMs(config.heartbeatTtlMs, config.monitorIntervalMs),
    maxStalledCount: 1_000,
    settings: { backoffStrategy: attemptBackoff(config.backoff) },
  };
}
