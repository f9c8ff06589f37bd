import { QueueEvents, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  BACKOFF_TYPE,
  QUEUES,
  RunStore,
  addJob,
  agentJobId,
  cancelIdleMembers,
  createRedis,
  deriveRunStatus,
  isFinalMemberStatus,
  openQueue,
  parseAgentJobId,
  parseJob,
  type AgentJobData,
  type Keys,
  type Logger,
  type MemberRecord,
  type ReinsConfig,
  type RunRecord,
} from '@reins/shared';
import { decideRelease } from './release.js';

/**
 * The scheduler's lifecycle:
 * - created:  constructed
 * - running:  taking submissions and reconciling runs
 * - closing / closed
 */
export type SchedulerState = 'created' | 'running' | 'closing' | 'closed';

export interface SchedulerOptions {
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
}

/**
 * Turns submitted harnesses into runs and drives each run to its end. Progress comes from one
 * idempotent step, reconcile(run): it settles members whose jobs ended, releases members whose
 * dependencies succeeded, skips those whose dependencies did not, and derives the run's status.
 * Queue events make it prompt; a sweep over the active runs makes it certain, so a lost event
 * or a scheduler restart never leaves a run waiting forever.
 */
export class Scheduler {
  private state: SchedulerState = 'created';
  private closing: Promise<void> | undefined;
  private readonly redis: Redis;
  private readonly store: RunStore;
  private readonly agentQueue: Queue;
  private controlWorker: Worker | undefined;
  private agentEvents: QueueEvents | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** When a kill was last requested per job, so a missing heartbeat is acted on once per TTL. */
  private readonly killRequestedAt = new Map<string, number>();
  /** One reconcile at a time per run; a request during one runs once more after it. */
  private readonly inFlight = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(private readonly options: SchedulerOptions) {
    this.redis = createRedis(options.config.redisUrl, 'blocking');
    this.store = new RunStore(this.redis, options.keys);
    this.agentQueue = openQueue(QUEUES.agent, this.redis, options.keys);
  }

  get status(): SchedulerState {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`cannot start a scheduler that is ${this.state}`);
    this.state = 'running';
    const { config, keys, logger } = this.options;

    this.agentEvents = new QueueEvents(QUEUES.agent, { connection: createRedis(config.redisUrl, 'blocking'), prefix: keys.bullPrefix });
    const onJobEnded = ({ jobId }: { jobId: string }) => {
      const id = parseAgentJobId(jobId);
      if (id) this.requestReconcile(id.runId);
    };
    this.agentEvents.on('completed', onJobEnded);
    this.agentEvents.on('failed', onJobEnded);
    this.agentEvents.on('error', (error) => logger.error({ err: error }, 'queue events error'));

    this.controlWorker = new Worker(QUEUES.control, (job) => this.onSubmit(job), {
      connection: createRedis(config.redisUrl, 'blocking'),
      prefix: keys.bullPrefix,
      concurrency: 4,
    });
    this.controlWorker.on('error', (error) => logger.error({ err: error }, 'control queue error'));

    this.sweepTimer = setInterval(() => void this.sweep(), config.reconcileIntervalMs);
    await this.sweep();
    logger.info({ reconcileIntervalMs: config.reconcileIntervalMs }, 'scheduler started');
  }

  private async onSubmit(job: Job): Promise<void> {
    const data = parseJob('run.submit', job);
    const { spec } = data;
    const created = await this.store.createRun(
      {
        runId: data.runId,
        name: spec.name,
        goal: spec.goal ?? spec.name,
        source: data.source,
        spec,
        members: spec.team.map((m) => m.name),
        ...(data.workdir ? { workdir: data.workdir } : {}),
        skillDirs: data.skillDirs,
        createdAt: data.submittedAt,
      },
      spec.team.map((m) => ({ name: m.name, dependsOn: m.depends_on ?? [], jobId: agentJobId(data.runId, m.name) })),
    );
    if (created) this.options.logger.info({ runId: data.runId, name: spec.name, members: spec.team.length }, 'run created');
    await this.reconcile(data.runId);
  }

  private async sweep(): Promise<void> {
    try {
      const runIds = await this.store.activeRunIds();
      await Promise.all(runIds.map((runId) => this.requestReconcile(runId)));
    } catch (error) {
      this.options.logger.warn({ err: error }, 'sweep failed');
    }
  }

  /** Reconciles a run, coalescing requests that arrive while one is under way. */
  requestReconcile(runId: string): Promise<void> {
    const current = this.inFlight.get(runId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await this.reconcile(runId);
        } while (entry.again && this.state === 'running');
      } catch (error) {
        this.options.logger.warn({ err: error, runId }, 'reconcile failed; the next sweep retries');
      } finally {
        this.inFlight.delete(runId);
      }
    })();
    this.inFlight.set(runId, entry);
    return entry.done;
  }

  private async reconcile(runId: string): Promise<void> {
    const run = await this.store.getRun(runId);
    if (!run) {
      await this.store.retire(runId);
      return;
    }
    let members = await this.store.getMembers(run);

    if (run.cancelled) {
      const stillRunning = await cancelIdleMembers(this.store, this.agentQueue, runId, members);
      if (stillRunning.length === 0) await this.store.retire(runId);
      return;
    }

    await this.checkHeartbeats(members);
    let changed = await this.settleEndedJobs(run, members);
    if (changed) members = await this.store.getMembers(run);
    changed = await this.release(run, members);
    if (changed) members = await this.store.getMembers(run);

    const status = deriveRunStatus(members, false);
    if (status !== run.status) {
      await this.store.setRunStatus(runId, status);
      this.options.logger.info({ runId, status }, status === 'succeeded' || status === 'failed' ? 'run ended' : 'run status');
    }
  }

  /**
   * A running member whose heartbeat key is gone is presumed stalled: its worker is asked, over the control
   * channel, to kill the session, and the attempt ends as "stalled" and is retried. If that worker is dead
   * too, its lock expires and BullMQ hands the job to another worker, which records the stall.
   */
  private async checkHeartbeats(members: readonly MemberRecord[]): Promise<void> {
    const { heartbeatTtlMs } = this.options.config;
    const now = Date.now();
    const suspects = members.filter((m) => m.status === 'running' && m.startedAt !== undefined && now - m.startedAt > heartbeatTtlMs);
    if (suspects.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const m of suspects) pipeline.exists(this.options.keys.heartbeat(m.jobId));
    const replies = (await pipeline.exec()) ?? [];
    for (const [i, m] of suspects.entries()) {
      if (replies[i]?.[1] === 1) continue;
      if (now - (this.killRequestedAt.get(m.jobId) ?? 0) < heartbeatTtlMs) continue;
      const job = await this.agentQueue.getJob(m.jobId);
      if (!job || (await job.getState()) !== 'active') continue;
      this.killRequestedAt.set(m.jobId, now);
      this.options.logger.warn({ runId: m.runId, member: m.name, workerId: m.workerId }, 'heartbeat missing: presuming the agent stalled and asking its worker to kill it');
      await this.redis.publish(this.options.keys.controlChannel, JSON.stringify({ type: 'kill', jobId: m.jobId, reason: 'heartbeat missing' }));
    }
  }

  /** Members whose job ended while no worker recorded it (a worker died between the two, say). */
  private async settleEndedJobs(run: RunRecord, members: readonly MemberRecord[]): Promise<boolean> {
    let changed = false;
    for (const member of members) {
      if (member.status === 'pending' || isFinalMemberStatus(member.status)) continue;
      const job = await this.agentQueue.getJob(member.jobId);
      if (!job) {
        // Marked queued, but the add never landed (the scheduler stopped in between): add it again.
        await this.enqueue(run, member);
        continue;
      }
      const state = await job.getState();
      if (state === 'completed') {
        const value = (job.returnvalue ?? {}) as Partial<Record<'exitCode' | 'costUsd' | 'numTurns' | 'durationMs', number>> & { summary?: string; sessionId?: string; workspace?: string };
        await this.store.updateMember(run.runId, member.name, {
          status: 'succeeded',
          endedAt: job.finishedOn ?? Date.now(),
          ...(value.summary ? { summary: value.summary } : {}),
          ...(value.workspace ? { workspace: value.workspace } : {}),
        });
        changed = true;
      } else if (state === 'failed') {
        await this.store.updateMember(run.runId, member.name, {
          status: 'failed',
          endedAt: job.finishedOn ?? Date.now(),
          error: member.error ?? job.failedReason ?? 'failed',
        });
        changed = true;
      }
    }
    return changed;
  }

  private async release(run: RunRecord, members: readonly MemberRecord[]): Promise<boolean> {
    const statusOf = new Map(members.map((m) => [m.name, m.status]));
    let changed = false;
    // Skips cascade: a member skipped now may block another later in the same pass.
    for (const member of members) {
      if (statusOf.get(member.name) !== 'pending') continue;
      const decision = decideRelease(member, (name) => statusOf.get(name));
      if (decision.action === 'skip') {
        await this.store.updateMember(run.runId, member.name, { status: 'skipped', error: decision.reason, endedAt: Date.now() });
        statusOf.set(member.name, 'skipped');
        changed = true;
      } else if (decision.action === 'release') {
        // Queued is written before the job exists, so a fast worker's "running" is never overwritten.
        await this.store.updateMember(run.runId, member.name, { status: 'queued' });
        statusOf.set(member.name, 'queued');
        await this.enqueue(run, member);
        changed = true;
      }
    }
    return changed;
  }

  private async enqueue(run: RunRecord, member: MemberRecord): Promise<void> {
    const spec = run.spec;
    const entry = spec.team.find((m) => m.name === member.name);
    if (!entry) throw new Error(`member ${member.name} is not in the spec of run ${run.runId}`);
    const data: AgentJobData = {
      runId: run.runId,
      runName: spec.name,
      goal: run.goal,
      member: entry.name,
      prompt: entry.prompt,
      agent: entry.agent ?? spec.agent,
      ...(run.workdir ? { workdir: run.workdir } : {}),
      skills: (entry.skills ?? []).map((name) => ({ name, dir: run.skillDirs[name] ?? name })),
      team: spec.team.map((m) => ({ name: m.name, dependsOn: m.depends_on ?? [] })),
      limits: spec.limits ?? {},
    };
    await addJob(this.agentQueue, 'agent.run', data, {
      jobId: member.jobId,
      attempts: spec.retry?.attempts ?? this.options.config.defaultAttempts,
      backoff: { type: BACKOFF_TYPE },
    });
    this.options.logger.info({ runId: run.runId, member: member.name }, 'member released');
  }

  /** Safe to call twice; every step runs even if one fails. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.state = 'closing';
    clearInterval(this.sweepTimer);
    const steps: [string, () => Promise<unknown>][] = [
      ['control worker', async () => this.controlWorker?.close()],
      ['queue events', async () => this.agentEvents?.close()],
      ['reconciles in flight', async () => Promise.all([...this.inFlight.values()].map((e) => e.done))],
      ['agent queue', async () => this.agentQueue.close()],
      ['redis', async () => this.redis.quit()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.options.logger.warn({ err: error, step: name }, 'close step failed');
      }
    }
    this.state = 'closed';
  }
}
