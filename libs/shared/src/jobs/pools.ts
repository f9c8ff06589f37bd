import type { Queue } from 'bullmq';
import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { QUEUES } from './catalogue.js';
import { openQueue } from './queues.js';

/**
 * Routing by labels: a member that requires labels goes to the pool queue named after them
 * (`agent@gpu+region-eu`), and a worker consumes every pool whose labels it has. Members without
 * requirements go to the plain agent queue, which every worker consumes.
 */
export function poolQueueName(labels: readonly string[] = []): string {
  const sorted = [...new Set(labels)].sort();
  return sorted.length === 0 ? QUEUES.agent : `${QUEUES.agent}@${sorted.join('+')}`;
}

/** The labels a pool queue requires (none for the plain agent queue). */
export function poolLabels(queueName: string): string[] {
  const at = queueName.indexOf('@');
  return at < 0 ? [] : queueName.slice(at + 1).split('+');
}

/** Whether a worker with these labels can take jobs from the queue. */
export function servesQueue(workerLabels: readonly string[], queueName: string): boolean {
  return poolLabels(queueName).every((label) => workerLabels.includes(label));
}

/** The agent queues (plain and pools), opened once each, on one connection. */
export class AgentQueues {
  private readonly open = new Map<string, Queue>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: Keys,
    private readonly options: { readOnly?: boolean } = {},
  ) {}

  get(name: string = QUEUES.agent): Queue {
    let queue = this.open.get(name);
    if (!queue) {
      queue = openQueue(name, this.connection, this.keys, this.options);
      this.open.set(name, queue);
    }
    return queue;
  }

  /** The queue a member's job is on. */
  forMember(member: { queue?: string | undefined }): Queue {
    return this.get(member.queue ?? QUEUES.agent);
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((q) => q.close().catch(() => undefined)));
    this.open.clear();
  }
}
