import type { Queue } from 'bullmq';
import { AgentQueues, QUEUES, RunStore, assertRedisReachable, createKeys, createRedis, loadConfig, openQueue, type EnvName, type Keys, type QueueName, type ReinsConfig, type RedisConnection } from '@reins/shared';

/** What a command needs to talk to the fleet; connections open on first use and close once. */
export class CliContext {
  readonly keys: Keys;
  private redisClient: RedisConnection | undefined;
  private readonly queues = new Map<string, Queue>();
  private pools: AgentQueues | undefined;

  constructor(readonly config: ReinsConfig) {
    this.keys = createKeys(config.prefix);
  }

  static fromEnv(overrides: Partial<Record<EnvName, string>>): CliContext {
    return new CliContext(loadConfig(process.env, overrides));
  }

  async redis(): Promise<RedisConnection> {
    if (!this.redisClient) {
      const client = createRedis(this.config.redisUrl, 'command', { lazyConnect: true });
      client.on('error', () => undefined); // reported by assertRedisReachable, not as an unhandled event
      this.redisClient = client;
      await assertRedisReachable(client, this.config.redisUrl);
    }
    return this.redisClient;
  }

  async store(): Promise<RunStore> {
    return new RunStore(await this.redis(), this.keys);
  }

  /** Queues opened only to read skip BullMQ's meta write; a queue opened to add jobs does not. */
  async queue(name: QueueName, { readOnly = false } = {}): Promise<Queue> {
    const key = `${name}:${readOnly}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = openQueue(name, await this.redis(), this.keys, { readOnly });
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** The agent queue and its pools, for finding any member's job. */
  async agentQueues(): Promise<AgentQueues> {
    this.pools ??= new AgentQueues(await this.redis(), this.keys);
    return this.pools;
  }

  async close(): Promise<void> {
    await this.pools?.close();
    for (const queue of this.queues.values()) await queue.close().catch(() => undefined);
    if (this.redisClient) {
      await this.redisClient.quit().catch(() => this.redisClient?.disconnect());
    }
  }
}

export { QUEUES };
