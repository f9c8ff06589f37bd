// The baseline reins is measured against: a bare BullMQ worker process that runs each job's argv with
// execa, and nothing else (no run records, heartbeats, tmux or workspaces). raw-baseline.ts compiles it
// to plain JavaScript and starts it; it prints "raw worker ready" once it pulls jobs.
import { Worker } from 'bullmq';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { z } from 'zod';

const env = z
  .object({
    RAW_REDIS_URL: z.string().min(1),
    RAW_PREFIX: z.string().min(1),
    RAW_QUEUE: z.string().min(1),
    RAW_CONCURRENCY: z.coerce.number().int().min(1).max(1_024),
    // BullMQ's own defaults unless the bench gives reins' settings (lock = heartbeat TTL, renewed as reins renews
    // it, stall check = tick).
    RAW_LOCK_DURATION_MS: z.coerce.number().int().min(1).default(30_000),
    RAW_LOCK_RENEW_TIME_MS: z.coerce.number().int().min(1).optional(),
    RAW_STALLED_INTERVAL_MS: z.coerce.number().int().min(1).default(30_000),
  })
  .parse(process.env);

const JobSchema = z.object({ argv: z.array(z.string().min(1)).min(1) });
const children = new Set<ResultPromise>();

const worker = new Worker(
  env.RAW_QUEUE,
  async (job) => {
    const [file, ...args] = JobSchema.parse(job.data).argv;
    const child = execa(file!, args, { stdio: 'ignore' });
    children.add(child);
    try {
      await child;
    } finally {
      children.delete(child);
    }
  },
  {
    connection: new Redis(env.RAW_REDIS_URL, { maxRetriesPerRequest: null }),
    prefix: env.RAW_PREFIX,
    concurrency: env.RAW_CONCURRENCY,
    lockDuration: env.RAW_LOCK_DURATION_MS,
    ...(env.RAW_LOCK_RENEW_TIME_MS ? { lockRenewTime: env.RAW_LOCK_RENEW_TIME_MS } : {}),
    stalledInterval: env.RAW_STALLED_INTERVAL_MS,
  },
);
worker.on('error', (error) => console.error(`raw worker: ${error.message}`));

const stop = () => {
  for (const child of children) child.kill('SIGKILL');
  setTimeout(() => process.exit(0), 2_000).unref();
  void worker.close(true).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await worker.waitUntilReady();
console.log('raw worker ready');
