import { QueueEvents, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  AgentJobResultSchema,
  BACKOFF_TYPE,
  decodePlan,
  encodeControlMessage,
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
  readSkill,
  dependencyOrder,
  AgentQueues,
  FleetReader,
  poolLabels,
  poolQueueName,
  servesQueue,
  integrateJobId,
  type RunStatus,
  planningPrompt,
  PLANNER_MEMBER,
  type AgentJobInput,
  type Keys,
  type Logger,
  type MemberRecord,
  type ReinsConfig,
  type RunRecord,
} from '@reins/shared';
import { decideRelease } from './release.js';
import { Notifier } from './notifier.js';

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
  private readonly integrateQueue: Queue;
  /** The agent queue and the pool queues, for finding any member's job. */
  private readonly queues: AgentQueues;
  private readonly fleet: FleetReader;
  private readonly notifier: Notifier;
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
    this.queues = new AgentQueues(this.redis, options.keys);
    this.integrateQueue = openQueue(QUEUES.integrate, this.redis, options.keys);
    this.fleet = new FleetReader(this.redis, options.keys);
    this.notifier = new Notifier(this.redis, openQueue(QUEUES.notify, this.redis, options.keys), options.keys, options.config, options.logger);
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
      if (id) void this.requestReconcile(id.runId);
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

    this.notifier.start();
    this.sweepTimer = setInterval(() => void this.sweep(), config.reconcileIntervalMs);
    await this.sweep();
    logger.info({ reconcileIntervalMs: config.reconcileIntervalMs }, 'scheduler started');
  }

  private async onSubmit(job: Job): Promise<void> {
    const data = parseJob('run.submit', job);
    const { spec } = data;
    // A planned run starts with the planner alone; its team joins once the plan is in.
    const team = spec.team ?? [];
    const members = spec.plan === 'auto' ? [{ name: PLANNER_MEMBER, depends_on: [] as string[] }] : team;
    const created = await this.store.createRun(
      {
        runId: data.runId,
        name: spec.name,
        goal: spec.goal ?? spec.name,
        source: data.source,
        spec,
        members: members.map((m) => m.name),
        ...(data.workdir ? { workdir: data.workdir } : {}),
        skillDirs: data.skillDirs,
        ...(data.planOnly ? { planOnly: true } : {}),
        ...(data.baseCommit ? { baseCommit: data.baseCommit } : {}),
        createdAt: data.submittedAt,
      },
      members.map((m) => ({ name: m.name, dependsOn: m.depends_on ?? [], jobId: agentJobId(data.runId, m.name) })),
    );
    if (created) this.options.logger.info({ runId: data.runId, name: spec.name, members: members.length, planned: spec.plan === 'auto' }, 'run created');
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
      const stillRunning = await cancelIdleMembers(this.store, this.queues, runId, members);
      if (stillRunning.length === 0) await this.store.retire(runId);
      return;
    }

    const silent = await this.checkHeartbeats(members);
    await this.flagUnservable(members);
    let changed = await this.settleEndedJobs(run, members, silent);
    if (changed) members = await this.store.getMembers(run);
    if (await this.adoptPlan(run, members)) return this.reconcile(runId);
    changed = await this.release(run, members);
    if (changed) members = await this.store.getMembers(run);

    const status = await this.integrated(run, deriveRunStatus(members, false));
    await this.announce(run, members, status);
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
  private async checkHeartbeats(members: readonly MemberRecord[]): Promise<Set<string>> {
    const { heartbeatTtlMs } = this.options.config;
    const now = Date.now();
    const silent = new Set<string>();
    const suspects = members.filter((m) => m.status === 'running' && m.startedAt !== undefined && now - m.startedAt > heartbeatTtlMs);
    if (suspects.length === 0) return silent;
    const pipeline = this.redis.pipeline();
    for (const m of suspects) pipeline.exists(this.options.keys.heartbeat(m.jobId));
    const replies = (await pipeline.exec()) ?? [];
    for (const [i, m] of suspects.entries()) {
      if (replies[i]?.[1] === 1) continue;
      silent.add(m.name);
      if (now - (this.killRequestedAt.get(m.jobId) ?? 0) < heartbeatTtlMs) continue;
      const job = await this.queues.forMember(m).getJob(m.jobId);
      if (!job || (await job.getState()) !== 'active') continue;
      this.killRequestedAt.set(m.jobId, now);
      this.options.logger.warn({ runId: m.runId, member: m.name, workerId: m.workerId }, 'heartbeat missing: presuming the agent stalled and asking its worker to kill it');
      await this.redis.publish(this.options.keys.controlChannel, encodeControlMessage({ type: 'kill', jobId: m.jobId, reason: 'heartbeat missing' }));
    }
    return silent;
  }

  /**
   * Webhook events: members failed for good, rate-limit pauses and resumes, and the run's end. Pauses and
   * resumes are read from the attempt history, not caught in passing: a rate-limited attempt is a pause,
   * and any attempt after it is the resume, however briefly the member waited.
   */
  private async announce(run: RunRecord, members: readonly MemberRecord[], status: RunStatus): Promise<void> {
    if (!this.notifier.listens(run)) return;
    for (const m of members) {
      if (m.status === 'failed') {
        await this.notifier.notify(run, `member.failed:${m.name}`, { event: 'member.failed', member: m.name, ...(m.errorClass ? { class: m.errorClass } : {}), text: m.error ?? 'failed', ...(m.costUsd !== undefined ? { costUsd: m.costUsd } : {}) });
      }
      // Only a member past its first attempt can have been rate limited: spare the others a history read.
      if (m.status === 'pending' || m.status === 'queued' || m.status === 'skipped' || (m.epoch ?? 0) < 2) continue;
      const history = await this.store.readAttempts(run.runId, m.name);
      for (const [i, attempt] of history.entries()) {
        if (attempt.outcome !== 'rate_limit') continue;
        const until = m.epoch === attempt.epoch && m.retryAt ? ` until ${new Date(m.retryAt).toISOString()}` : '';
        await this.notifier.notify(run, `rate_limit.paused:${m.name}:${attempt.epoch}`, { event: 'rate_limit.paused', member: m.name, class: 'rate_limit', text: `${m.name} is rate limited${until}: ${attempt.message}` });
        const resumed = i + 1 < history.length || ((m.epoch ?? 0) > attempt.epoch && m.status === 'running');
        if (resumed) await this.notifier.notify(run, `rate_limit.resumed:${m.name}:${attempt.epoch}`, { event: 'rate_limit.resumed', member: m.name, class: 'rate_limit', text: `${m.name} resumed after a rate limit` });
      }
    }
    if (status === 'succeeded' || status === 'failed' || status === 'cancelled' || status === 'budget_exhausted') {
      const costUsd = members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0);
      const failed = members.filter((m) => m.status !== 'succeeded').map((m) => `${m.name} ${m.status}`);
      const text = status === 'succeeded' ? `all ${members.length} members succeeded` : failed.join(', ') || (run.conflicts?.length ? 'merge conflicts' : status);
      if (status === 'budget_exhausted') await this.notifier.notify(run, 'budget.reached', { event: 'budget.reached', text: members.find((m) => m.errorClass === 'budget')?.error ?? 'the budget is spent', costUsd });
      else await this.notifier.notify(run, `run.${status}`, { event: `run.${status}`, text, costUsd });
    }
  }

  /**
   * In a git workdir, a run whose members all succeeded is done only once their branches are merged into
   * reins/<run>/result (by a worker, which has the repository). Conflicts fail the run.
   */
  private async integrated(run: RunRecord, status: RunStatus): Promise<RunStatus> {
    if (status !== 'succeeded' || !run.baseCommit || !run.workdir || run.planOnly) return status;
    if (run.integration === 'done') return run.conflicts && run.conflicts.length > 0 ? 'failed' : 'succeeded';
    const jobId = integrateJobId(run.runId);
    const job = await this.integrateQueue.getJob(jobId);
    if (job && (await job.getState()) === 'failed') return 'failed';
    if (!job || (await this.store.requestIntegration(run.runId))) {
      const members = dependencyOrder(run.spec.team ?? []).map((m) => m.name);
      await addJob(this.integrateQueue, 'run.integrate', { runId: run.runId, workdir: run.workdir, baseCommit: run.baseCommit, members }, { jobId, attempts: 3, backoff: { type: BACKOFF_TYPE } });
      this.options.logger.info({ runId: run.runId, members }, 'all members succeeded: merging their branches');
    }
    return 'running';
  }

  /** Once the planner succeeded, its team joins the run (unless only the plan was asked for). */
  private async adoptPlan(run: RunRecord, members: readonly MemberRecord[]): Promise<boolean> {
    if (run.spec.plan !== 'auto' || run.spec.team || run.planOnly) return false;
    const planner = members.find((m) => m.name === PLANNER_MEMBER);
    if (planner?.status !== 'succeeded' || !planner.plan) return false;
    const team = decodePlan(planner.plan);
    const adopted = await this.store.materializeTeam(run.runId, team, (name) => agentJobId(run.runId, name));
    if (adopted) this.options.logger.info({ runId: run.runId, members: team.map((m) => m.name) }, 'planned team joined the run');
    return adopted;
  }

  /**
   * A queued member that requires labels no live worker has would wait silently: say so on the member,
   * and take the note back once such a worker is there (it starts the member, which clears it anyway).
   */
  private async flagUnservable(members: readonly MemberRecord[]): Promise<void> {
    const waiting = members.filter((m) => m.status === 'queued' && m.queue && m.queue !== QUEUES.agent);
    if (waiting.length === 0) return;
    const workers = await this.fleet.liveWorkers();
    for (const m of waiting) {
      const needs = poolLabels(m.queue!);
      const servable = workers.some((w) => servesQueue(w.labels ?? [], m.queue!));
      const note = `no live worker has the labels ${needs.join(', ')}; it waits for one`;
      if (!servable && m.error !== note) await this.store.apply(m.runId, m.name, { type: 'noted', note });
      if (servable && m.error === note) await this.store.apply(m.runId, m.name, { type: 'noted', note: null });
    }
  }

  /** Members whose job ended while no worker recorded it (a worker died between the two, say). */
  private async settleEndedJobs(run: RunRecord, members: readonly MemberRecord[], silent: ReadonlySet<string>): Promise<boolean> {
    let changed = false;
    for (const member of members) {
      if (member.status === 'pending' || isFinalMemberStatus(member.status)) continue;
      // A running member with a live heartbeat has a worker that records its end (and queue events wake us):
      // asking BullMQ about its job every sweep would cost Redis round trips for every agent, for nothing.
      if (member.status === 'running' && !silent.has(member.name)) continue;
      const job = await this.queues.forMember(member).getJob(member.jobId);
      if (!job) {
        // Marked queued, but the add never landed (the scheduler stopped in between): add it again.
        await this.enqueue(run, member);
        continue;
      }
      const state = await job.getState();
      if (state === 'completed') {
        const value = AgentJobResultSchema.partial().safeParse(job.returnvalue).data ?? {};
        const settled = await this.store.apply(run.runId, member.name, {
          type: 'job_settled',
          outcome: 'succeeded',
          at: job.finishedOn ?? Date.now(),
          ...(value.summary ? { summary: value.summary } : {}),
          ...(value.workspace ? { workspace: value.workspace } : {}),
        });
        changed ||= settled.applied;
      } else if (state === 'failed') {
        const settled = await this.store.apply(run.runId, member.name, { type: 'job_settled', outcome: 'failed', at: job.finishedOn ?? Date.now(), error: member.error ?? job.failedReason ?? 'failed' });
        changed ||= settled.applied;
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
        await this.store.apply(run.runId, member.name, { type: 'skipped', reason: decision.reason, at: Date.now() });
        statusOf.set(member.name, 'skipped');
        changed = true;
      } else if (decision.action === 'release') {
        // Queued is written before the job exists, so a fast worker's "running" is never overwritten.
        const requires = (run.spec.team ?? []).find((m) => m.name === member.name)?.requires ?? [];
        await this.store.apply(run.runId, member.name, { type: 'released', queue: poolQueueName(requires) });
        member.queue = poolQueueName(requires);
        statusOf.set(member.name, 'queued');
        await this.enqueue(run, member);
        changed = true;
      }
    }
    return changed;
  }

  private async enqueue(run: RunRecord, member: MemberRecord): Promise<void> {
    const spec = run.spec;
    const team = spec.team ?? [];
    const common = {
      runId: run.runId,
      runName: spec.name,
      goal: run.goal,
      agent: spec.agent,
      ...(run.workdir ? { workdir: run.workdir } : {}),
      ...(run.baseCommit ? { baseCommit: run.baseCommit } : {}),
      team: team.map((m) => ({ name: m.name, dependsOn: m.depends_on ?? [] })),
      limits: spec.limits ?? {},
      ...(spec.hooks ? { hooks: spec.hooks } : {}),
    };
    // Claude agents share an API account unless the harness names a key of its own.
    const concurrencyKey = spec.concurrency?.key ?? (spec.agent.kind === 'claude' ? 'claude' : undefined);

    let data: AgentJobInput;
    if (member.name === PLANNER_MEMBER) {
      const availableSkills = await this.availableSkills(run);
      data = { ...common, mode: 'plan', member: PLANNER_MEMBER, prompt: planningPrompt(run.goal, availableSkills), skills: [], availableSkills };
      if (concurrencyKey) data.concurrency = { key: concurrencyKey, ...(spec.concurrency?.max ? { max: spec.concurrency.max } : {}) };
    } else {
      const entry = team.find((m) => m.name === member.name);
      if (!entry) throw new Error(`member ${member.name} is not in the spec of run ${run.runId}`);
      const verify = entry.verify ?? spec.verify;
      data = {
        ...common,
        mode: 'member',
        member: entry.name,
        prompt: entry.prompt,
        agent: entry.agent ?? spec.agent,
        skills: (entry.skills ?? []).map((name) => ({ name, dir: run.skillDirs[name] ?? name })),
        ...(verify ? { verify } : {}),
      };
      const agent = entry.agent ?? spec.agent;
      const key = spec.concurrency?.key ?? (agent.kind === 'claude' ? 'claude' : undefined);
      if (key) data.concurrency = { key, ...(spec.concurrency?.max ? { max: spec.concurrency.max } : {}) };
    }
    const queue = this.queues.forMember(member);
    if (queue.name !== QUEUES.agent) await this.redis.sadd(this.options.keys.pools, queue.name);
    await addJob(queue, 'agent.run', data, {
      jobId: member.jobId,
      attempts: spec.retry?.attempts ?? this.options.config.defaultAttempts,
      backoff: { type: BACKOFF_TYPE },
      ...(spec.priority ? { priority: spec.priority } : {}),
    });
    this.options.logger.info({ runId: run.runId, member: member.name }, 'member released');
  }

  /** Every skill the run may use, with its description, for the planner to choose from. */
  private async availableSkills(run: RunRecord): Promise<{ name: string; description: string }[]> {
    const skills = await Promise.all(Object.values(run.skillDirs).map((dir) => readSkill(dir)));
    return skills.flatMap((s) => ('description' in s ? [{ name: s.name, description: s.description }] : []));
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
      ['notifier', async () => this.notifier.close()],
      ['queue events', async () => this.agentEvents?.close()],
      ['reconciles in flight', async () => Promise.all([...this.inFlight.values()].map((e) => e.done))],
      ['agent queues', async () => this.queues.close()],
      ['integrate queue', async () => this.integrateQueue.close()],
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
