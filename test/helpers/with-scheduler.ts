import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createKeys, loadConfig, type EnvName, type Keys, type ReinsConfig } from '@reins/shared';
import { Scheduler } from '../../apps/scheduler/src/scheduler.js';

export interface InProcessScheduler {
  scheduler: Scheduler;
  config: ReinsConfig;
  /** Its own key prefix, so stories in one Redis never see each other. */
  keys: Keys;
  /** A new connection to the same Redis for the story's own use (a fake worker, assertions); closed afterwards. */
  connect(): Redis;
  /** What the scheduler logged, as pino objects. */
  logs: { msg: string; [field: string]: unknown }[];
}

/**
 * Runs the Scheduler in the test process, with connections the helper opens and checks: after the story it
 * closes the scheduler (twice, which must be harmless) and fails if the scheduler left any of its
 * connections open. The environment is built from scratch, not copied from the developer's.
 */
export async function withScheduler<T>(options: { redisUrl: string; env?: Partial<Record<EnvName, string>> }, story: (s: InProcessScheduler) => Promise<T>): Promise<T> {
  const prefix = `t-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({}, { REINS_REDIS_URL: options.redisUrl, REINS_PREFIX: prefix, REINS_RECONCILE_INTERVAL_MS: '250', ...options.env });
  const keys = createKeys(config.prefix);
  const logs: InProcessScheduler['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as InProcessScheduler['logs'][number]) });
  const open = () => new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const schedulerConnections: Redis[] = [];
  const storyConnections: Redis[] = [];
  const scheduler = new Scheduler({
    config,
    keys,
    logger,
    connection: () => {
      const redis = open();
      schedulerConnections.push(redis);
      return redis;
    },
  });
  await scheduler.start();
  // The story's own failure wins over a leak found while cleaning up after it.
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = {
      ok: true,
      value: await story({
        scheduler,
        config,
        keys,
        logs,
        connect: () => {
          const redis = open();
          storyConnections.push(redis);
          return redis;
        },
      }),
    };
  } catch (error) {
    outcome = { ok: false, error };
  }
  await Promise.all([scheduler.close(), scheduler.close()]);
  await Promise.all(storyConnections.map((redis) => redis.quit().catch(() => redis.disconnect())));
  // A closed connection reports 'end' once its socket is gone, a moment after quit() or disconnect().
  const deadline = Date.now() + 2_000;
  while (schedulerConnections.some((redis) => redis.status !== 'end') && Date.now() < deadline) await sleep(20);
  const leaked = schedulerConnections.filter((redis) => redis.status !== 'end');
  for (const redis of leaked) redis.disconnect();
  if (!outcome.ok) throw outcome.error;
  if (leaked.length > 0) throw new Error(`the scheduler left ${leaked.length} of its ${schedulerConnections.length} connections open after close()`);
  return outcome.value;
}
