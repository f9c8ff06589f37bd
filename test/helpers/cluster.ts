import { spawn, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import type { Redis } from 'ioredis';
import { askRedis, freePort, until } from './redis.js';
import { scratchEnv, tempDir } from './test-root.js';

/**
 * A Redis Cluster on loopback: three masters and no replicas, real redis-server processes on free ports,
 * joined by `redis-cli --cluster create`. Never the machine's shared Redis on 6379.
 */
export interface TestCluster {
  /** redis+cluster://127.0.0.1:p1,127.0.0.1:p2, as a fleet would be given it (two seeds; the third is discovered). */
  url: string;
  ports: number[];
  /** Asks one node a question on a plain connection of its own. */
  ask<T>(port: number, command: (redis: Redis) => Promise<T>): Promise<T>;
  /** Every key of every master, with the port of the master that holds it. */
  allKeys(): Promise<{ port: number; key: string }[]>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<TestCluster> {
  const dir = tempDir('cluster');
  const env = scratchEnv(dir);
  const servers: { port: number; child: ChildProcess }[] = [];
  const stop = async () => {
    await Promise.all(
      servers.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
  };
  try {
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', `${dir}/nodes-${port}.conf`];
      const child = spawn('redis-server', [...args, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore', env });
      child.on('error', () => undefined);
      servers.push({ port, child });
    }
    const ports = servers.map((s) => s.port);
    for (const port of ports) await until(`redis-server on ${port}`, 10_000, () => askRedis(port, (r) => r.ping()).then((p) => (p === 'PONG' ? true : undefined)));
    await execa('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { env, extendEnv: false, stdin: 'ignore' });
    // Every node must agree the slots are covered before a client's first command, or it meets CLUSTERDOWN.
    await until('cluster_state:ok on every node', 30_000, async () => {
      for (const port of ports) {
        const info = (await askRedis(port, (r) => r.call('CLUSTER', 'INFO'))) as string;
        if (!/cluster_state:ok/.test(info) || !/cluster_known_nodes:3/.test(info)) return undefined;
      }
      return true;
    });
    return {
      url: `redis+cluster://${ports
        .slice(0, 2)
        .map((p) => `127.0.0.1:${p}`)
        .join(',')}`,
      ports,
      ask: askRedis,
      allKeys: async () => {
        const found: { port: number; key: string }[] = [];
        for (const port of ports) {
          const keys = await askRedis(port, async (r) => {
            const all: string[] = [];
            let cursor = '0';
            do {
              const [next, batch] = await r.scan(cursor, 'COUNT', 1_000);
              all.push(...batch);
              cursor = next;
            } while (cursor !== '0');
            return all;
          });
          for (const key of keys) found.push({ port, key });
        }
        return found;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
