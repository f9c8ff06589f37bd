import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { RedisUnreachableError } from '../errors/redis-unreachable-error.js';
import { parseRedisUrl, redactRedisUrl, type RedisTarget } from './redis-url.js';

/**
 * `blocking` connections are for BullMQ workers and QueueEvents: they must retry forever
 * (BullMQ requires maxRetriesPerRequest: null). `command` connections fail fast, so a CLI
 * call against a dead Redis ends with a clear message instead of hanging.
 */
export type ConnectionRole = 'blocking' | 'command';

/** What the factory builds: one server (standalone or the Sentinel master), or a Cluster client that follows MOVED. */
export type RedisConnection = Redis | Cluster;

function roleOptions(role: ConnectionRole): RedisOptions {
  return role === 'blocking' ? { maxRetriesPerRequest: null, enableReadyCheck: true } : { maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1_000)) };
}

/** The ioredis options that reach the server a URL names: one server, or the master the sentinels name. */
function targetOptions(target: Exclude<RedisTarget, { kind: 'cluster' }>): RedisOptions {
  if (target.kind === 'standalone') return {};
  return {
    sentinels: target.sentinels,
    name: target.masterName,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    // No failoverDetector: when its +switch-master arrived while a connection was still asking the sentinels
    // for the master, ioredis closed that connection for good (seen: the scheduler's commands hung after a
    // failover). A dead master resets the connections anyway, and a demoted one disconnects its clients.
  };
}

type ClusterTarget = Extract<RedisTarget, { kind: 'cluster' }>;

/**
 * The Cluster client's options from a role's and a caller's RedisOptions. The Cluster reads some at its top
 * level and hands the rest to each node's connection as `redisOptions`. BullMQ checks a Cluster's blocking
 * connection by its redisOptions (maxRetriesPerRequest must be null there), and a Cluster's own
 * enableReadyCheck waits for `cluster_state:ok` rather than a node's INFO. A node connection never retries on
 * its own: the Cluster reconnects, by clusterRetryStrategy, so the role's retryStrategy goes there.
 */
function clusterOptions(target: ClusterTarget, options: RedisOptions): ClusterOptions {
  const { lazyConnect, enableAutoPipelining, enableOfflineQueue, enableReadyCheck, retryStrategy, readOnly: _readOnly, sentinels: _sentinels, port: _port, host: _host, path: _path, ...node } = options;
  const defined = <T extends object>(fields: T) => Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
  return {
    ...defined({ lazyConnect, enableAutoPipelining, enableOfflineQueue, enableReadyCheck }),
    ...(retryStrategy !== undefined ? { clusterRetryStrategy: retryStrategy } : {}),
    redisOptions: {
      ...node,
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
}

/**
 * The servers that hold keys: every master of a Cluster, or the one server. A command that reads the keyspace
 * (SCAN) sees only the node it is sent to, so on a Cluster it goes to each master.
 */
export function keyspaceNodes(redis: RedisConnection): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * The one factory of Redis connections: BullMQ queues, workers and queue events, subscribers, the CLI and
 * the hook all get theirs here, for every form of REINS_REDIS_URL (see redis-url.ts).
 */
export function createRedis(url: string, role: ConnectionRole, extra: RedisOptions = {}): RedisConnection {
  const target = parseRedisUrl(url);
  if (target.kind === 'cluster') return new Cluster(target.nodes, clusterOptions(target, { ...roleOptions(role), ...extra }));
  const options = { ...roleOptions(role), ...targetOptions(target), ...extra };
  return target.kind === 'standalone' ? new Redis(url, options) : new Redis(options);
}

type SentinelTarget = Extract<RedisTarget, { kind: 'sentinel' }>;

/** A connection for one question to one server (a sentinel, a cluster node): connected by the caller, never retried. */
function oneShot(host: string, port: number, auth: { username?: string | undefined; password?: string | undefined; tls: boolean }): Redis {
  const redis = new Redis({
    host,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    ...(auth.tls ? { tls: {} } : {}),
  });
  redis.on('error', () => undefined);
  return redis;
}

/** Asks the sentinels one question, each in turn, and returns the first answer; undefined when none answers. */
async function askSentinels<T>(target: SentinelTarget, question: (sentinel: Redis) => Promise<T>): Promise<T | undefined> {
  for (const { host, port } of target.sentinels) {
    const sentinel = oneShot(host, port, { password: target.sentinelPassword, tls: target.tls });
    try {
      await sentinel.connect();
      return await question(sentinel);
    } catch {
      // the next sentinel may answer
    } finally {
      sentinel.disconnect();
    }
  }
  return undefined;
}

/**
 * The masters a Sentinel set monitors, from the first sentinel that answers; undefined when none does.
 * A URL naming a master they do not know would otherwise retry in silence.
 */
export function sentinelMasters(target: SentinelTarget): Promise<string[] | undefined> {
  return askSentinels(target, async (sentinel) => {
    const masters = (await sentinel.call('SENTINEL', 'MASTERS')) as string[][];
    return masters.map((fields) => fields[fields.indexOf('name') + 1] ?? '').filter(Boolean);
  });
}

/** What a Sentinel set says of the master it monitors, for `reins doctor`. */
async function describeSentinel(target: SentinelTarget): Promise<string> {
  const described = await askSentinels(target, async (sentinel) => {
    const fields = (await sentinel.call('SENTINEL', 'MASTER', target.masterName)) as string[];
    const field = (name: string) => fields[fields.indexOf(name) + 1] ?? '?';
    const sentinels = Number(field('num-other-sentinels')) + 1;
    return `sentinel: master ${target.masterName} at ${field('ip')}:${field('port')} (${field('flags')}), ${field('num-slaves')} replica(s), ${sentinels} sentinel(s) seen, quorum ${field('quorum')}`;
  });
  return described ?? `sentinel: no sentinel of ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(', ')} answers`;
}

/** One line of CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <master-id|-> … <slot ranges…>`. */
interface ClusterNode {
  id: string;
  address: string;
  master: boolean;
  masterId: string | undefined;
  slots: string[];
  failing: boolean;
}

export function parseClusterNodes(reply: string): ClusterNode[] {
  return reply
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', endpoint = '', flags = '', masterId = '-', , , , , ...slots] = line.trim().split(' ');
      const flagList = flags.split(',');
      return {
        id,
        address: endpoint.split('@')[0] ?? endpoint,
        master: flagList.includes('master'),
        masterId: masterId === '-' ? undefined : masterId,
        // Slots being migrated appear as [slot->-id]; a node's own ranges are plain "a-b" or "a".
        slots: slots.filter((slot) => !slot.startsWith('[')),
        failing: flagList.includes('fail') || flagList.includes('fail?'),
      };
    });
}

/**
 * What a Cluster says of itself, for `reins doctor`: each master with its slot ranges, each replica with its
 * master, and which master holds the fleet's slot (the hash tag of `fleetKey`).
 */
async function describeCluster(target: ClusterTarget, fleetKey: string | undefined): Promise<string> {
  for (const { host, port } of target.nodes) {
    const node = oneShot(host, port, target);
    try {
      await node.connect();
      const info = (await node.call('CLUSTER', 'INFO')) as string;
      const nodes = parseClusterNodes((await node.call('CLUSTER', 'NODES')) as string);
      const fleetSlot = fleetKey === undefined ? undefined : ((await node.call('CLUSTER', 'KEYSLOT', fleetKey)) as number);
      const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? '?';
      const inRange = (range: string, slot: number) => {
        const [from, to = from] = range.split('-').map(Number);
        return from !== undefined && to !== undefined && slot >= from && slot <= to;
      };
      const described = nodes
        .sort((a, b) => Number(b.master) - Number(a.master) || a.address.localeCompare(b.address))
        .map((n) => {
          const failing = n.failing ? ' (failing)' : '';
          if (!n.master) return `${n.address} replica of ${nodes.find((m) => m.id === n.masterId)?.address ?? n.masterId ?? '?'}${failing}`;
          const holdsFleet = fleetSlot !== undefined && n.slots.some((range) => inRange(range, fleetSlot));
          return `${n.address} master slots ${n.slots.join(',') || 'none'}${holdsFleet ? ` (the fleet's slot ${fleetSlot})` : ''}${failing}`;
        });
      const masters = nodes.filter((n) => n.master).length;
      return `cluster: state ${state}, ${masters} master(s), ${nodes.length - masters} replica(s): ${described.join('; ')}`;
    } catch {
      // the next node may answer
    } finally {
      node.disconnect();
    }
  }
  return `cluster: no node of ${target.nodes.map((n) => `${n.host}:${n.port}`).join(', ')} answers`;
}

/**
 * The topology behind REINS_REDIS_URL, in a line: standalone, what the sentinels say of their master, or the
 * Cluster's nodes and slots (with the master that holds `fleetKey`'s slot, when given).
 */
export async function describeTopology(url: string, fleetKey?: string): Promise<string> {
  const target = parseRedisUrl(url);
  if (target.kind === 'sentinel') return describeSentinel(target);
  if (target.kind === 'cluster') return describeCluster(target, fleetKey);
  return target.kind;
}

/**
 * Checks what REINS_REDIS_URL names before anything waits on it: for Sentinel, that the sentinels answer and
 * monitor the master it names. Throws RedisUnreachableError saying what they know instead.
 */
export async function checkRedisTarget(url: string): Promise<void> {
  const target = parseRedisUrl(url);
  if (target.kind !== 'sentinel') return;
  const masters = await sentinelMasters(target);
  if (masters === undefined) throw new RedisUnreachableError(`No sentinel of ${redactRedisUrl(url)} answers: check the hosts and ports, and sentinelPassword if they require one.`);
  if (!masters.includes(target.masterName)) {
    throw new RedisUnreachableError(
      `The sentinels of ${redactRedisUrl(url)} monitor no master named ${JSON.stringify(target.masterName)}; they know ${masters.length > 0 ? masters.map((m) => JSON.stringify(m)).join(', ') : 'none'}.`,
    );
  }
}

/** Pings once and turns a connection failure into a message that says where and what to do. */
export async function assertRedisReachable(redis: RedisConnection, url: string): Promise<void> {
  await checkRedisTarget(url);
  try {
    await redis.ping();
  } catch (error) {
    throw new RedisUnreachableError(`Cannot reach Redis at ${redactRedisUrl(url)} (${(error as Error).message}). ` + 'Start one with `reins up`, or point REINS_REDIS_URL at a running Redis.', { cause: error });
  }
}
