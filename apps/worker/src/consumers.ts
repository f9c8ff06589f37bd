import { Worker, type Job } from 'bullmq';
import { QUEUES, servesQueue, type Keys, type Logger, type ReinsConfig, type RedisConnection } from '@reins/shared';
import { consumerOptions } from './connections.js';

type Processor = (job: Job, token?: string) => Promise<unknown>;

/**
 * A worker's BullMQ consumers, one per queue it serves: agents, merge-backs (at concurrency 1), and the
 * pools its labels fit, each made on first use (its settings: connections.ts).
 */
export class Consumers {
  private readonly byQueue = new Map<string, Worker>();

  constructor(
    private readonly config: ReinsConfig,
    private readonly keys: Keys,
    private readonly logger: Logger,
    private readonly connect: () => RedisConnection,
    private readonly concurrency: number,
    private readonly processors: { agent: Processor; integrate: Processor },
  ) {}

  get(queueName: string): Worker {
    const existing = this.byQueue.get(queueName);
    if (existing) return existing;
    const integrating = queueName === QUEUES.integrate;
    const consumer = new Worker(queueName, integrating ? this.processors.integrate : this.processors.agent, consumerOptions(this.config, this.keys, this.connect(), integrating ? 1 : this.concurrency));
    consumer.on('error', (error) => this.logger.error({ err: error, queue: queueName }, 'queue error'));
    consumer.on('failed', (job, error) => this.logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: error.message }, 'agent job attempt failed'));
    this.byQueue.set(queueName, consumer);
    return consumer;
  }

  all(): Worker[] {
    return [...this.byQueue.values()];
  }

  /** Pauses every consumer, or resumes the paused ones. */
  async take(taking: boolean): Promise<void> {
    for (const consumer of this.byQueue.values()) {
      if (!taking) await consumer.pause(true);
      else if (consumer.isPaused()) await consumer.resume();
    }
  }

  /** Starts consuming every pool queue in use whose labels this worker has. */
  runPools(pools: readonly string[]): void {
    for (const pool of pools) {
      if (!servesQueue(this.config.workerLabels, pool)) continue;
      const consumer = this.get(pool);
      if (consumer.isRunning()) continue;
      this.logger.info({ queue: pool }, 'consuming a pool');
      void consumer.run();
    }
  }
}
