import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { scratchEnv, tempDir } from './test-root.js';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** A plain client for assertions; closed by stop(). */
  client: Redis;
  /** Stops the server, as a crash would when `hard`. */
  stop(options?: { hard?: boolean }): Promise<void>;
  /** Starts it again on the same port and data dir (AOF replays when on). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server holds connections but answers nothing. */
  pause(): void;
  resume(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPing(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not yet
    } finally {
      probe.disconnect();
    }
    await sleep(25);
  }
  throw new Error(`redis-server at ${url} did not answer`);
}

/**
 * A private redis-server on a free port, never the machine's shared one on 6379. With `appendonly`,
 * a restart keeps the data, as a production Redis would.
 */
export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const dir = tempDir('redis');
  const port = await freePort();
  const url = `redis://${options.password ? `:${options.password}@` : ''}127.0.0.1:${port}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'];
  if (options.password) args.push('--requirepass', options.password);
  let child: ChildProcess;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore', env: scratchEnv(dir) });
    await waitForPing(url, child);
  };
  await launch();
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  const stopServer = async (hard: boolean) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  return {
    url,
    port,
    dir,
    client,
    stop: async ({ hard = false } = {}) => {
      client.disconnect();
      await stopServer(hard);
    },
    restart: async () => {
      await stopServer(false);
      await launch();
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
  };
}

interface RedisOptions {
  appendonly?: boolean;
  /** Clients must AUTH with it (`url` carries it). */
  password?: string;
}

/**
 * A test file's private redis-server, started before its tests and stopped after them. Read `url`,
 * `client` and the rest through the returned handle once the tests run.
 */
export function useRedis(options: RedisOptions = {}): TestRedis {
  let redis: TestRedis | undefined;
  beforeAll(async () => {
    redis = await startRedis(options);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const current = (): TestRedis => {
    if (!redis) throw new Error('the private redis-server starts in beforeAll');
    return redis;
  };
  return {
    get url() {
      return current().url;
    },
    get port() {
      return current().port;
    },
    get dir() {
      return current().dir;
    },
    get client() {
      return current().client;
    },
    stop: (stopOptions) => current().stop(stopOptions),
    restart: () => current().restart(),
    pause: () => current().pause(),
    resume: () => current().resume(),
  };
}

/** Polls `probe` until it returns a value (errors count as "not yet"); fails naming `what` and the last error. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (${String(last)})` : ''}`);
}

/** One command to the redis-server (or sentinel) on a loopback port, on a connection of its own that never retries. */
export async function askRedis<T>(port: number, command: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await command(redis);
  } finally {
    redis.disconnect();
  }
}
