import { Worker, type Job, type Queue } from 'bullmq';
import { addJob, parseJob, type AttemptRecord, type Keys, type Logger, type MemberRecord, type Notification, type ReinsConfig, type RunRecord, type RunStatus, type RedisConnection } from '@reins/shared';

export interface NotifierDeps {
  redis: RedisConnection;
  queue: Queue;
  keys: Keys;
  config: ReinsConfig;
  logger: Logger;
  /** A new blocking connection for the delivery worker; the notifier does not close it. */
  connect: () => RedisConnection;
  readAttempts: (runId: string, member: string) => Promise<AttemptRecord[]>;
}

const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * Tells webhooks about a run's events. Each event is sent once (a field per event in the run's
 * `notified` hash), as a job per URL on the notify queue: delivery retries with backoff on its own, and
 * a slow or dead receiver never holds up the scheduler.
 */
export class Notifier {
  private worker: Worker | undefined;

  private readonly redis: RedisConnection;
  private readonly queue: Queue;
  private readonly keys: Keys;
  private readonly config: ReinsConfig;
  private readonly logger: Logger;

  constructor(private readonly deps: NotifierDeps) {
    ({ redis: this.redis, queue: this.queue, keys: this.keys, config: this.config, logger: this.logger } = deps);
  }

  start(): void {
    this.worker = new Worker(this.queue.name, (job) => this.deliver(job), {
      connection: this.deps.connect(),
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

  /**
   * Webhook events: members failed for good, rate-limit pauses and resumes, and the run's end. Pauses and
   * resumes are read from the attempt history, not caught in passing: a rate-limited attempt is a pause,
   * and any attempt after it is the resume, however briefly the member waited.
   */
  async announce(run: RunRecord, members: readonly MemberRecord[], status: RunStatus): Promise<void> {
    if (!this.listens(run)) return;
    for (const m of members) {
      if (m.status === 'failed') {
        await this.notify(run, `member.failed:${m.name}`, {
          event: 'member.failed',
          member: m.name,
          ...(m.errorClass ? { class: m.errorClass } : {}),
          text: m.error ?? 'failed',
          ...(m.costUsd !== undefined ? { costUsd: m.costUsd } : {}),
        });
      }
      // Only a member past its first attempt can have been rate limited: spare the others a history read.
      if (m.status === 'pending' || m.status === 'queued' || m.status === 'skipped' || (m.epoch ?? 0) < 2) continue;
      const history = await this.deps.readAttempts(run.runId, m.name);
      for (const [i, attempt] of history.entries()) {
        if (attempt.outcome !== 'rate_limit') continue;
        const until = m.epoch === attempt.epoch && m.retryAt ? ` until ${new Date(m.retryAt).toISOString()}` : '';
        await this.notify(run, `rate_limit.paused:${m.name}:${attempt.epoch}`, { event: 'rate_limit.paused', member: m.name, class: 'rate_limit', text: `${m.name} is rate limited${until}: ${attempt.message}` });
        const resumed = i + 1 < history.length || ((m.epoch ?? 0) > attempt.epoch && m.status === 'running');
        if (resumed) await this.notify(run, `rate_limit.resumed:${m.name}:${attempt.epoch}`, { event: 'rate_limit.resumed', member: m.name, class: 'rate_limit', text: `${m.name} resumed after a rate limit` });
      }
    }
    if (status === 'succeeded' || status === 'failed' || status === 'cancelled' || status === 'budget_exhausted') {
      const costUsd = members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0);
      const failed = members.filter((m) => m.status !== 'succeeded').map((m) => `${m.name} ${m.status}`);
      const text = status === 'succeeded' ? `all ${members.length} members succeeded` : failed.join(', ') || (run.conflicts?.length ? 'merge conflicts' : status);
      if (status === 'budget_exhausted') await this.notify(run, 'budget.reached', { event: 'budget.reached', text: members.find((m) => m.errorClass === 'budget')?.error ?? 'the budget is spent', costUsd });
      else await this.notify(run, `run.${status}`, { event: `run.${status}`, text, costUsd });
    }
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
