import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { transform } from 'esbuild';
import { Redis } from 'ioredis';
import { lockRenewTimeMs } from '@reins/shared';
import { repoRoot } from '../../test/helpers/fleet.js';
import { waitFor } from '../../test/helpers/chaos.js';
import { withDeadline } from './scope.js';

export interface RawWorker {
  pid: number;
  queue: Queue;
  /** Adds one job per argv. */
  add(argvs: readonly (readonly string[])[]): Promise<Job[]>;
  /** Waits until every job added so far has finished; returns the last of `jobs`' finishedOn (epoch ms). */
  waitForFinished(jobs: readonly Job[], timeoutMs: number): Promise<number>;
  /** Waits until `count` jobs are active at once (their processes spawned). */
  waitForActive(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

let compiled: Promise<string> | undefined;

/**
 * raw-worker.ts as plain JavaScript (esbuild, which tsx brings). Run under tsx instead, its loader thread
 * would add its own memory to the baseline's RSS. Written inside the repository (bench/results is
 * ignored by git) so that 'bullmq' and 'execa' resolve from its node_modules.
 */
function compiledRawWorker(): Promise<string> {
  compiled ??= (async () => {
    const source = path.join(repoRoot, 'bench', 'lib', 'raw-worker.ts');
    const out = path.join(repoRoot, 'bench', 'results', '.raw-worker.mjs');
    const { code } = await transform(await readFile(source, 'utf8'), { loader: 'ts', format: 'esm', target: 'node20', sourcefile: source });
    await mkdir(path.dirname(out), { recursive: true });
    // Through a rename: another bench running at the same time never starts a half-written file.
    const tmp = `${out}.${process.pid}.tmp`;
    await writeFile(tmp, code);
    await rename(tmp, out);
    return out;
  })();
  return compiled;
}

/**
 * Starts the baseline worker (raw-worker.ts) in a process of its own, on a queue of its own, so that it
 * pays the same process and Redis costs a reins worker does and its RSS can be read the same way.
 */
export async function startRawWorker(options: { redisUrl: string; concurrency: number; lockDurationMs?: number; stalledIntervalMs?: number }): Promise<RawWorker> {
  const prefix = `{braw${randomBytes(3).toString('hex')}}`;
  const queueName = 'raw';
  const child = spawn(process.execPath, [await compiledRawWorker()], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      RAW_REDIS_URL: options.redisUrl,
      RAW_PREFIX: prefix,
      RAW_QUEUE: queueName,
      RAW_CONCURRENCY: String(options.concurrency),
      ...(options.lockDurationMs ? { RAW_LOCK_DURATION_MS: String(options.lockDurationMs), RAW_LOCK_RENEW_TIME_MS: String(lockRenewTimeMs(options.lockDurationMs)) } : {}),
      ...(options.stalledIntervalMs ? { RAW_STALLED_INTERVAL_MS: String(options.stalledIntervalMs) } : {}),
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopChild = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await withDeadline(exited, 5_000, 'raw worker exit').catch(async () => {
      child.kill('SIGKILL');
      await exited;
    });
  };
  try {
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          if (out.includes('raw worker ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`raw worker exited (${code}) before it was ready`)));
      }),
      30_000,
      'raw worker start',
    );
  } catch (error) {
    await stopChild();
    throw error;
  }
  child.stdout!.resume();
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection, prefix });
  let added = 0;
  return {
    pid: child.pid!,
    queue,
    add: async (argvs) => {
      added += argvs.length;
      return queue.addBulk(argvs.map((argv) => ({ name: 'raw', data: { argv } })));
    },
    waitForFinished: async (jobs, timeoutMs) => {
      // Counts are cheap to poll and do not slow the worker down; every job of this queue is the bench's.
      const counts = await waitFor(
        async () => {
          const c = await queue.getJobCounts('completed', 'failed');
          return (c.completed ?? 0) >= added || (c.failed ?? 0) > 0 ? c : undefined;
        },
        `${added} raw jobs to finish`,
        timeoutMs,
        20,
      );
      if ((counts.failed ?? 0) > 0) throw new Error(`${counts.failed} raw jobs failed: ${(await queue.getFailed(0, 0))[0]?.failedReason ?? '?'}`);
      const finished = await Promise.all(jobs.map((j) => queue.getJob(j.id!)));
      return Math.max(...finished.map((j) => j?.finishedOn ?? Number.NaN));
    },
    waitForActive: async (count, timeoutMs) => {
      await waitFor(async () => (await queue.getActiveCount()) >= count, `${count} raw jobs active`, timeoutMs, 20);
    },
    stop: async () => {
      await stopChild();
      await queue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}
