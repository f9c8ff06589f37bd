import { Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { addJob, createRedis, parseJob, type Keys, type Logger, type Notification, type ReinsConfig, type RunRecord } from '@reins/shared';

const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * Tells webhooks about a run's events. Each event is sent once (a field per event in the run's
 * `notified` hash), as a job per URL on the notify queue: delivery retries with backoff on its own, and
 * a slow or dead receiver never holds up the scheduler.
 */
export class Notifier {
  private worker: Worker | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly keys: Keys,
    private readonly config: ReinsConfig,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.worker = new Worker(this.queue.name, (job) => this.deliver(job), {
      connection: createRedis(this.config.redisUrl, 'blocking'),
      prefix: this.keys.bullPrefix,
      // One at a time: a receiver sees a run's events in the order they happened (a failed delivery's
      // retry, after backoff, is the exception).
      concurrency: 1,
    });
    this.worker.on('failed', (job, error) => this.logger.warn({ url: job?.data?.url, attemptsMade: job?.attemptsMade, err: error.message }, 'webhook delivery failed'));
    this.worker.on('error', (error) => this.logger.error({ err: error }, 'notify queue error'));
  }

  /** Whether any webhook listens to this run's events. */
  listens(run: RunRecord): boolean {
    return this.urls(run).length > 0;
  }

  private urls(run: RunRecord): string[] {
    return [...new Set([...this.config.webhooks, ...(run.spec.notify?.webhooks ?? [])])];
  }

  /** Sends an event once per run and `once` key; returns false when it was sent before or nobody listens. */
  async notify(run: RunRecord, once: string, event: Omit<Notification, 'runId' | 'runName' | 'at'>): Promise<boolean> {
    const urls = this.urls(run);
    if (urls.length === 0) return false;
    if ((await this.redis.hsetnx(this.keys.notified(run.runId), once, String(Date.now()))) !== 1) return false;
    const notification: Notification = { runId: run.runId, runName: run.name, at: Date.now(), ...event };
    for (const url of urls) {
      await addJob(this.queue, 'notify.deliver', { url, notification }, { attempts: 8, backoff: { type: 'exponential', delay: this.config.backoff.baseMs }, removeOnComplete: 1_000 });
    }
    this.logger.info({ runId: run.runId, event: event.event, member: event.member, urls: urls.length }, 'notification queued');
    return true;
  }

  private async deliver(job: Job): Promise<void> {
    const { url, notification } = parseJob('notify.deliver', job);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'reins' },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }
}
