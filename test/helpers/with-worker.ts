import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createKeys, loadConfig, type ReinsConfig } from '@reins/shared';
import { AgentWorker } from '../../apps/worker/src/worker.js';
import type { RedisUse } from '../../apps/worker/src/connections.js';

export interface InProcessWorker {
  worker: AgentWorker;
  config: ReinsConfig;
  /** This worker's log lines (JSON, one a line). */
  log(): string;
  /** Every connection the worker was given, by use. */
  connections: { use: RedisUse; redis: Redis }[];
}

export interface WithWorkerOptions {
  redisUrl: string;
  /** The fleet's key prefix and data dir, so the worker serves that fleet's queues. */
  prefix: string;
  dataDir: string;
  workerId?: string;
  concurrency?: number;
  /** REINS_* settings (short intervals, …), read as the worker's own environment would be. */
  env?: Record<string, string>;
  /** The environment agents inherit their baseline from (ANTHROPIC_* for a claude agent); PATH by default. */
  agentEnv?: Record<string, string>;
}

/**
 * Runs an AgentWorker in the test process, with connections the test makes (the worker closes them), for
 * stories about admission and conclusion; spawned fleets stay for chaos, multi-host and end-to-end
 * stories. The worker is always closed, and the story fails if it left a connection open or a tmux
 * session alive.
 */
export async function withWorker<T>(options: WithWorkerOptions, story: (w: InProcessWorker) => Promise<T>): Promise<T> {
  const workerId = options.workerId ?? 'in-process';
  const config = loadConfig({ PATH: process.env.PATH, REINS_REDIS_URL: options.redisUrl, REINS_PREFIX: options.prefix, REINS_DATA_DIR: options.dataDir, REINS_MONITOR_INTERVAL_MS: '100', ...options.env });
  const logFile = path.join(options.dataDir, 'logs', `worker-${workerId}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logger = pino({ name: 'reins-worker', level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const connections: InProcessWorker['connections'] = [];
  const worker = new AgentWorker({
    config,
    keys: createKeys(config.prefix),
    logger,
    workerId,
    concurrency: options.concurrency ?? 2,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.agentEnv },
    redis: (use) => {
      const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null, ...(use === 'subscriber' ? { enableReadyCheck: false } : {}) });
      redis.on('error', () => undefined);
      connections.push({ use, redis });
      return redis;
    },
  });
  const handle: InProcessWorker = { worker, config, connections, log: () => readFileSync(logFile, 'utf8') };
  let result: T;
  try {
    await worker.start();
    result = await story(handle);
  } finally {
    await worker.close();
  }
  // quit() resolves on Redis' OK; the socket closes a moment later.
  for (let waited = 0; waited < 2_000 && connections.some((c) => c.redis.status !== 'end'); waited += 50) await sleep(50);
  const open = connections.filter((c) => c.redis.status !== 'end');
  if (open.length > 0) throw new Error(`the worker left connections open: ${open.map((c) => `${c.use} (${c.redis.status})`).join(', ')}`);
  const sessions = await worker.tmux.list();
  await worker.tmux.killServer();
  if (sessions.length > 0) throw new Error(`the worker left tmux sessions behind: ${sessions.join(', ')}`);
  return result;
}
