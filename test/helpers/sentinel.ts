import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { askRedis, freePort, until } from './redis.js';
import { tempDir } from './test-root.js';

/**
 * A Redis Sentinel set on loopback for failover stories: a master, one replica and three sentinels, all
 * real redis-server processes on free ports. Sentinels decide a master is down after `downAfterMs`; the
 * quorum is 2, so the three agree before they promote the replica.
 */
export interface SentinelSet {
  masterName: string;
  /** redis+sentinel://127.0.0.1:p1,…/<masterName>, as a fleet would be given it. */
  url: string;
  sentinelPorts: number[];
  /** The port of the server that is master now, as the sentinels say. */
  masterPort(): Promise<number>;
  /** SIGKILLs the current master (a machine dying); resolves with its port. */
  killMaster(): Promise<number>;
  /** Resolves once the sentinels name a master other than `port` and it answers as a master. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Resolves, with its port, once a server other than `port` answers ROLE as master: the promotion itself, before every sentinel has heard of it. */
  waitForPromotion(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

interface Server {
  port: number;
  child: ChildProcess;
}

function launch(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  child.on('error', () => undefined);
  return child;
}

export async function startSentinelSet({ downAfterMs = 1_000, failoverTimeoutMs = 3_000 } = {}): Promise<SentinelSet> {
  const masterName = 'reins-test';
  const dir = tempDir('sentinel');
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];
  const servers: Server[] = [];
  for (const role of ['master', 'replica'] as const) {
    const port = await freePort();
    const replicaOf = role === 'replica' ? ['--replicaof', '127.0.0.1', String(servers[0]!.port)] : [];
    servers.push({ port, child: launch(['--port', String(port), '--dir', tempDir(`sentinel-${role}`), ...common, ...replicaOf]) });
  }
  for (const server of servers) await until(`redis-server on ${server.port}`, 10_000, () => askRedis(server.port, (r) => r.ping()).then((p) => (p === 'PONG' ? true : undefined)));
  await until('the replica in sync', 10_000, () => askRedis(servers[1]!.port, (r) => r.info('replication')).then((info) => (/master_link_status:up/.test(info) ? true : undefined)));

  const sentinels: Server[] = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    // A sentinel rewrites its configuration file, so each gets its own.
    const config = path.join(dir, `sentinel-${i}.conf`);
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${servers[0]!.port} 2`,
        `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
        `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push({ port, child: launch([config, '--sentinel']) });
  }
  const sentinelPorts = sentinels.map((s) => s.port);
  const masterPort = async (): Promise<number> => {
    const [, port] = (await askRedis(sentinelPorts[0]!, (r) => r.call('SENTINEL', 'get-master-addr-by-name', masterName))) as [string, string];
    return Number(port);
  };
  // Every sentinel must know the others and the replica before a failover can be agreed.
  await until('sentinels that see each other and the replica', 15_000, async () => {
    for (const port of sentinelPorts) {
      const master = (await askRedis(port, (r) => r.call('SENTINEL', 'master', masterName))) as string[];
      const field = (name: string) => Number(master[master.indexOf(name) + 1]);
      if (field('num-other-sentinels') < 2 || field('num-slaves') < 1) return undefined;
    }
    return true;
  });

  const all = [...servers, ...sentinels];
  return {
    masterName,
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${masterName}`,
    sentinelPorts,
    masterPort,
    killMaster: async () => {
      const port = await masterPort();
      const server = servers.find((s) => s.port === port);
      if (!server) throw new Error(`the sentinels name ${port} as master, which this set did not start`);
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGKILL');
      await exited;
      return port;
    },
    waitForFailover: (oldPort, timeoutMs = 30_000) =>
      until(`a new master in place of ${oldPort}`, timeoutMs, async () => {
        const port = await masterPort();
        if (port === oldPort) return undefined;
        const role = (await askRedis(port, (r) => r.call('ROLE'))) as [string];
        return role[0] === 'master' ? port : undefined;
      }),
    waitForPromotion: (oldPort, timeoutMs = 30_000) =>
      until(`a promoted replica in place of ${oldPort}`, timeoutMs, async () => {
        for (const server of servers) {
          if (server.port === oldPort || server.child.exitCode !== null || server.child.signalCode !== null) continue;
          const role = (await askRedis(server.port, (r) => r.call('ROLE')).catch(() => undefined)) as [string] | undefined;
          if (role?.[0] === 'master') return server.port;
        }
        return undefined;
      }),
    stop: async () => {
      await Promise.all(
        all.map(async ({ child }) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }),
      );
    },
  };
}
