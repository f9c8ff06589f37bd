import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis, findOnPath } from '@reins/shared';

export interface LocalRedis {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const redis = createRedis(url, 'command', { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export { answers as redisAnswers };

/**
 * Starts redis-server as a child, tuned for a job queue: append-only file on (a crash loses at most a
 * second), and noeviction, because an evicted BullMQ key is a lost job.
 */
export async function startLocalRedis(port: number, dir: string): Promise<LocalRedis> {
  const bin = findOnPath('redis-server');
  if (!bin) {
    throw new Error('redis-server is not installed. Install it with `apt-get install -y redis-server` (Debian/Ubuntu), or set REINS_REDIS_URL to a running Redis.');
  }
  await mkdir(dir, { recursive: true });
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--save', ''], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for (let i = 0; i < 100; i += 1) {
    if (await answers(url)) {
      return {
        url,
        child,
        stop: async () => {
          child.kill('SIGTERM'); // redis-server flushes the append-only file on SIGTERM
          await exited;
        },
      };
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port} (is the port taken?)`);
}
