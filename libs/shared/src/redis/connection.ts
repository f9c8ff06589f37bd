import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnreachableError } from '../errors/redis-unreachable-error.js';
import { parseRedisUrl, redactRedisUrl, type RedisTarget } from './redis-url.js';

/**
 * `blocking` connections are for BullMQ workers and QueueEvents: they must retry forever
 * (BullMQ requires maxRetriesPerRequest: null). `command` connections fail fast, so a CLI
 * call against a dead Redis ends with a clear message instead of hanging.
 */
export type ConnectionRole = 'blocking' | 'command';

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

/**
 * The one factory of Redis connections: BullMQ queues, workers and queue events, subscribers, the CLI and
 * the hook all get theirs here, for every form of REINS_REDIS_URL (see redis-url.ts).
 */
export function createRedis(url: string, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  const target = parseRedisUrl(url);
  if (target.kind === 'cluster') throw new Error(`${redactRedisUrl(url)}: Redis Cluster is not supported yet; use a standalone or Sentinel URL`);
  const options = { ...roleOptions(role), ...targetOptions(target), ...extra };
  return target.kind === 'standalone' ? new Redis(url, options) : new Redis(options);
}

type SentinelTarget = Extract<RedisTarget, { kind: 'sentinel' }>;

/** Asks the sentinels one question, each in turn, and returns the first answer; undefined when none answers. */
async function askSentinels<T>(target: SentinelTarget, question: (sentinel: Redis) => Promise<T>): Promise<T | undefined> {
  for (const { host, port } of target.sentinels) {
    const sentinel = new Redis({
      host,
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2_000,
      ...(target.sentinelPassword !== undefined ? { password: target.sentinelPassword } : {}),
      ...(target.tls ? { tls: {} } : {}),
    });
    sentinel.on('error', () => undefined);
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

/** The topology behind REINS_REDIS_URL, in a line: standalone, or what the sentinels say of their master. */
export async function describeTopology(url: string): Promise<string> {
  const target = parseRedisUrl(url);
  if (target.kind === 'sentinel') return describeSentinel(target);
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
export async function assertRedisReachable(redis: Redis, url: string): Promise<void> {
  await checkRedisTarget(url);
  try {
    await redis.ping();
  } catch (error) {
    throw new RedisUnreachableError(`Cannot reach Redis at ${redactRedisUrl(url)} (${(error as Error).message}). ` + 'Start one with `reins up`, or point REINS_REDIS_URL at a running Redis.', { cause: error });
  }
}
