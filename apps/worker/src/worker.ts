import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  QUEUES,
  Budgets,
  FleetLimits,
  RunStore,
  backoffDelayMs,
  createRedis,
  describeEvent,
  isStaleEpochError,
  parseJob,
  projectRoot,
  servesQueue,
  resolveClaudeBin,
  AttemptMetaSchema,
  decodeControlMessage,
  encodePlan,
  appBin,
  fenceAfterMs,
  stopGraceMs,
  type AgentJobData,
  type AgentJobResult,
  type AttemptMeta,
  type WorkerRegistration,
  type IntegrationResult,
  type AttemptRecord,
  type Cursor,
  type FailureClass,
  type Keys,
  type Logger,
  type Member,
  type MemberRecord,
  type ReinsConfig,
  checkPlan,
  planJsonSchema,
  planRetryPrompt,
  type StreamEvent,
} from '@reins/shared';
import { claudeInvocation } from './agent/claude.js';
import { commandInvocation } from './agent/command.js';
import type { AgentIdentity } from './agent/env.js';
import type { AgentInvocation } from './agent/invocation.js';
import { classifyClaude, classifyCommand, type AgentOutcome } from './agent/outcome.js';
import { continuationPrompt } from './agent/resume.js';
import { teamSystemPrompt } from './agent/system-prompt.js';
import { agentPid, stopAgent, watchAttempt, type AttemptEnd, type StopReason } from './attempt.js';
import { Checkpointer } from './checkpoint.js';
import { restoreCommit } from './git-checkpoint.js';
import { Heartbeats, renewLease } from './heartbeat.js';
import { TmuxDriver, cleanSessionName } from './tmux/driver.js';
import { attemptFiles, installBin, shQuote, writeLaunchFiles, type AttemptFiles, type InstalledBin } from './tmux/launcher.js';
import { findTranscript, resumeDir, unpackTranscript } from './transcript.js';
import { integrate } from './integrate.js';
import { sweepWorktrees } from './worktree-cleanup.js';
import { checkEnv, diffStat, injectSkills, prepareWorkspace, type Workspace } from './workspace.js';
import { describeCheck, fixPrompt, runChecks } from './verify.js';

/**
 * A worker's lifecycle:
 * - created:  constructed, not pulling
 * - running:  pulling agent jobs
 * - draining: no new jobs; waiting for running agents, then checkpointing and handing their jobs back
 * - closed
 */
export type WorkerState = 'created' | 'running' | 'draining' | 'closed';

export interface AgentWorkerOptions {
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
  workerId: string;
  concurrency: number;
}

/** What an attempt keeps across its rounds. */
interface AttemptContext {
  token: string;
  attempt: number;
  epoch: number;
  workspace: Workspace;
  home: string;
  identity: AgentIdentity;
  cursor: Cursor | undefined;
  first: RoundStart;
}

/** How a round starts: its prompt, and the session to resume (by id, or from a transcript file). */
interface RoundStart {
  prompt: string;
  resume?: string | undefined;
  resumeFile?: string | undefined;
}

/** What the checks after a successful round decided. */
type Verdict =
  | { kind: 'done'; plan?: Member[] }
  | { kind: 'again'; prompt: string }
  | { kind: 'fail'; failureClass: FailureClass; message: string };

interface RunningAgent {
  meta: AttemptMeta;
  stop: AbortController;
  files: AttemptFiles;
}

/** What becomes of a job once its attempt ended. */
type Disposition =
  | { kind: 'succeeded'; result: AgentJobResult }
  | { kind: 'retry'; error: Error }
  | { kind: 'fail'; error: Error }
  | { kind: 'delay'; until: number };

/** The `reins` command agents call (task, msg, checkpoint), as the CLI's package.json declares it. */
const CLI_ENTRY = appBin('cli', 'reins');
/** The version workers register with, from the project's package.json. */
const REINS_VERSION = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
const HOOK_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hook.js');

/**
 * Pulls agent jobs and runs each agent in its own tmux session on this worker's private socket. While an
 * agent lives the worker refreshes its heartbeat and the launcher's lease every tick, reports its events,
 * and takes checkpoints; when it ends, the outcome is classified and the job completes, retries with
 * backoff, waits out a rate limit, or fails for good.
 */
export class AgentWorker {
  private state: WorkerState = 'created';
  private closing: Promise<void> | undefined;
  private readonly redis: Redis;
  /** Short command timeouts, so a Redis that stops answering is noticed within a tick. */
  private readonly fast: Redis;
  private readonly subscriber: Redis;
  private readonly store: RunStore;
  private readonly heartbeats: Heartbeats;
  private readonly limits: FleetLimits;
  private readonly budgets: Budgets;
  /** One BullMQ consumer per queue served: the plain agent queue and the pools this worker's labels fit. */
  private readonly consumers = new Map<string, Worker>();
  /** Jobs being processed, across all consumers: admission keeps it within the worker's slots. */
  private inProcess = 0;
  /** Set once start-up (adoption included) is done: only then are pools consumed. */
  private consuming = false;
  readonly tmux: TmuxDriver;
  private bin: InstalledBin | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, RunningAgent>();
  private readonly host = os.hostname();
  private lastRedisOkAt = Date.now();
  private readonly startedAt = Date.now();

  constructor(private readonly options: AgentWorkerOptions) {
    const { config, keys, logger } = options;
    this.redis = createRedis(config.redisUrl, 'blocking');
    this.fast = createRedis(config.redisUrl, 'blocking', { commandTimeout: Math.max(500, config.monitorIntervalMs) });
    this.fast.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
    // No ready check: its INFO would be refused once the connection is in subscriber mode.
    this.subscriber = createRedis(config.redisUrl, 'blocking', { enableReadyCheck: false });
    this.subscriber.on('error', (error) => logger.debug({ err: error }, 'control channel connection error'));
    this.store = new RunStore(this.redis, keys);
    this.heartbeats = new Heartbeats(this.fast, keys, config.heartbeatTtlMs);
    this.limits = new FleetLimits(this.fast, keys, config.heartbeatTtlMs);
    this.budgets = new Budgets(this.redis, keys);
    this.tmux = new TmuxDriver(path.join(config.dataDir, 'tmux', `${options.workerId}.sock`));
  }

  get status(): WorkerState {
    return this.state;
  }

  /** Session name → attempt folder, one small file per live session. */
  private get sessionIndex(): string {
    return path.join(this.options.config.dataDir, 'tmux', `${this.options.workerId}.sessions`);
  }

  /** Between SIGTERM and SIGKILL for a stopped agent (config/timings.ts). */
  private get stopGraceMs(): number {
    return stopGraceMs(this.options.config.heartbeatTtlMs);
  }

  /** How long an agent may live after a heartbeat without another (config/timings.ts). */
  private get fenceAfterMs(): number {
    return fenceAfterMs(this.options.config.heartbeatTtlMs, this.options.config.monitorIntervalMs);
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`cannot start a worker that is ${this.state}`);
    this.state = 'running';
    const { config, keys, logger } = this.options;
    await mkdir(path.dirname(this.tmux.socketPath), { recursive: true });
    this.bin = await installBin(path.join(config.dataDir, 'bin'), { reinsCli: CLI_ENTRY, hookScript: HOOK_ENTRY });

    this.subscriber.on('message', (_channel, message) => this.onControlMessage(message));
    await this.subscriber.subscribe(keys.controlChannel);

    this.consumerFor(QUEUES.agent);
    await this.tick();
    this.tickTimer = setInterval(() => void this.tick(), config.monitorIntervalMs);
    await this.adoptLeftovers();
    await this.sweepWorktrees();
    // Hourly, or as often as the retention asks, but not more than once a minute.
    this.sweepTimer = setInterval(() => void this.sweepWorktrees(), Math.min(3_600_000, Math.max(60_000, config.worktreeRetentionMs)));
    void this.consumerFor(QUEUES.agent).run();
    void this.consumerFor(QUEUES.integrate).run();
    this.consuming = true;
    await this.consumePools();
    logger.info({ workerId: this.options.workerId, concurrency: this.options.concurrency, labels: config.workerLabels, tmuxSocket: this.tmux.socketPath }, 'worker started');
  }

  /**
   * The BullMQ consumer of one queue, made on first use. The lock lasts one heartbeat TTL and stalls are
   * checked every tick, so a dead worker's job is back on the queue within TTL plus one tick (BullMQ's
   * defaults would take about 90 s). Stalls are turned into failed attempts by process(), so they use an
   * attempt and follow backoff; maxStalledCount is only a last resort against a job that kills every worker.
   */
  private consumerFor(queueName: string): Worker {
    const existing = this.consumers.get(queueName);
    if (existing) return existing;
    const { config, keys, logger } = this.options;
    const integrating = queueName === QUEUES.integrate;
    const consumer = new Worker(queueName, (job, token) => (integrating ? this.processIntegrate(job) : this.process(job, token)), {
      connection: createRedis(config.redisUrl, 'blocking'),
      prefix: keys.bullPrefix,
      concurrency: integrating ? 1 : this.options.concurrency,
      autorun: false,
      lockDuration: config.heartbeatTtlMs,
      stalledInterval: config.monitorIntervalMs,
      maxStalledCount: 1_000,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelayMs(config.backoff, attemptsMade) },
    });
    consumer.on('error', (error) => logger.error({ err: error, queue: queueName }, 'queue error'));
    consumer.on('failed', (job, error) => logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: error.message }, 'agent job attempt failed'));
    this.consumers.set(queueName, consumer);
    return consumer;
  }

  /** Starts consuming every pool queue in use whose labels this worker has (checked every tick). */
  private async consumePools(): Promise<void> {
    if (this.state !== 'running' || !this.consuming) return;
    const pools = await this.fast.smembers(this.options.keys.pools);
    for (const pool of pools) {
      if (!servesQueue(this.options.config.workerLabels, pool)) continue;
      const consumer = this.consumerFor(pool);
      if (consumer.isRunning()) continue;
      this.options.logger.info({ queue: pool }, 'consuming a pool');
      void consumer.run();
    }
  }

  private async sweepWorktrees(): Promise<void> {
    try {
      await sweepWorktrees(this.options.config.dataDir, this.store, this.options.config.worktreeRetentionMs, this.options.logger);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'worktree clean-up failed');
    }
  }

  /** Every tick: the worker's registration, and self-fencing when Redis has been out of reach too long. */
  private async tick(): Promise<void> {
    const { config, keys, workerId, logger } = this.options;
    try {
      const registration: WorkerRegistration = { workerId, host: this.host, pid: process.pid, startedAt: this.startedAt, slots: this.options.concurrency, used: this.running.size, state: this.state, version: REINS_VERSION, labels: config.workerLabels };
      await this.fast.set(keys.worker(workerId), JSON.stringify(registration), 'PX', config.heartbeatTtlMs);
      this.lastRedisOkAt = Date.now();
      await this.consumePools();
    } catch (error) {
      logger.debug({ err: error }, 'registration refresh failed');
    }
    const silentMs = Date.now() - this.lastRedisOkAt;
    if (silentMs > this.fenceAfterMs && this.running.size > 0) {
      logger.error({ silentMs, agents: this.running.size }, 'Redis out of reach past the lease: stopping this worker\'s agents (self-fencing)');
      for (const agent of this.running.values()) {
        agent.stop.abort('fenced' satisfies StopReason);
        void stopAgent(this.tmux, agent.meta.sessionName, agent.files, this.stopGraceMs);
      }
    }
  }

  private onControlMessage(message: string): void {
    const parsed = decodeControlMessage(message);
    if (!parsed) return;
    for (const [jobId, agent] of this.running) {
      const cancel = parsed.type === 'cancel' && agent.meta.runId === parsed.runId;
      const kill = parsed.type === 'kill' && jobId === parsed.jobId;
      if (cancel || kill) {
        this.options.logger.info({ jobId, request: parsed.type }, 'stopping agent on request');
        agent.stop.abort((cancel ? 'cancelled' : 'killed') satisfies StopReason);
      }
    }
  }

  /** A merge-back: it takes no agent slot (its own consumer, one at a time), and no agent runs. */
  private async processIntegrate(job: Job): Promise<IntegrationResult> {
    const data = parseJob('run.integrate', job);
    const result = await integrate(data, this.options.config.dataDir);
    await this.store.recordIntegration(data.runId, result);
    this.options.logger.info({ runId: data.runId, ...result }, result.conflicts.length > 0 ? 'merged with conflicts' : 'merged the members\' branches');
    return result;
  }

  private async process(job: Job, token: string | undefined): Promise<AgentJobResult> {
    if (!token) throw new Error('BullMQ gave no lock token');
    if (this.state !== 'running') {
      // A fetch already under way when the drain paused the queue still hands us a job: give it back untouched.
      await job.moveToDelayed(Date.now() + 1, token);
      throw new DelayedError();
    }
    // Each consumer has the worker's full concurrency, so with pools the slots are counted here, across them.
    if (this.inProcess >= this.options.concurrency) {
      await job.moveToDelayed(Date.now() + this.options.config.monitorIntervalMs + Math.floor(Math.random() * this.options.config.monitorIntervalMs), token);
      throw new DelayedError();
    }
    this.inProcess += 1;
    try {
      return await this.processAdmitted(job, token);
    } finally {
      this.inProcess -= 1;
    }
  }

  private async processAdmitted(job: Job, token: string): Promise<AgentJobResult> {
    const data = parseJob('agent.run', job);
    const { runId, member } = data;
    const attempt = job.attemptsMade + 1;

    const run = await this.store.getRun(runId);
    if (!run) throw new UnrecoverableError(`run ${runId} does not exist`);
    if (run.cancelled) {
      await this.store.apply(runId, member, { type: 'cancelled', at: Date.now() });
      throw new UnrecoverableError('run cancelled');
    }
    // A worker that died after recording success but before acknowledging the job must not run it again.
    const before = await this.store.getMember(runId, member);
    if (before?.status === 'succeeded') return resultFromRecord(before);
    await this.waitForPreviousAgent(job.id!, before);
    if ((job.stalledCounter ?? 0) > (before?.stallsSeen ?? 0) && before?.epoch !== undefined) {
      await this.recordStall(job, before, attempt);
    }

    const waitUntil = await this.admit(job, data);
    if (waitUntil !== undefined) {
      await job.moveToDelayed(waitUntil, token);
      throw new DelayedError();
    }
    const reserved = await this.reserveBudget(job, data);
    let spentUsd = 0;
    let disposition: Disposition;
    let attemptCtx: AttemptContext | undefined;
    try {
      attemptCtx = await this.beginAttempt(job, token, data, attempt);
      let meta = await this.startRound(job, attemptCtx, data, 1, attemptCtx.first);
      let end = await this.monitor(job, meta, data, { manual: false });
      spentUsd += end.result?.total_cost_usd ?? 0;
      let verdict: Verdict = { kind: 'done' };
      for (let round = 1; ; round += 1) {
        if (!(data.agent.kind === 'claude' ? classifyClaude(end) : classifyCommand(end)).ok || end.stoppedBy !== undefined) break;
        verdict = await this.check(data, attemptCtx, end, round);
        if (verdict.kind !== 'again') break;
        meta = await this.startRound(job, attemptCtx, data, round + 1, { prompt: verdict.prompt, resume: meta.sessionId });
        end = await this.monitor(job, meta, data, { manual: false });
        spentUsd += end.result?.total_cost_usd ?? 0;
      }
      disposition = await this.conclude(job, meta, data, end, verdict);
    } catch (error) {
      // An attempt that began but could not run (tmux refused, the disk is full) is still an attempt: keep it.
      if (attemptCtx && !(error instanceof DelayedError) && !isStaleEpochError(error)) await this.recordBroken(job, data, attemptCtx, error);
      throw error;
    } finally {
      // The real cost settles the reservation, whatever became of the attempt.
      if (reserved) await this.budgets.settle(data.runId, job.id!, spentUsd).catch((error: unknown) => this.options.logger.error({ err: error }, 'budget settlement failed'));
    }
    switch (disposition.kind) {
      case 'succeeded':
        return disposition.result;
      case 'delay':
        await job.moveToDelayed(disposition.until, token);
        throw new DelayedError();
      case 'retry':
      case 'fail':
        throw disposition.error;
    }
  }

  private async recordBroken(job: Job, data: AgentJobData, ctx: AttemptContext, error: unknown): Promise<void> {
    const now = Date.now();
    const message = `the attempt could not run: ${(error as Error).message?.split('\n')[0] ?? String(error)}`;
    const final = error instanceof UnrecoverableError || ctx.attempt >= (job.opts.attempts ?? 1);
    try {
      const record = { attempt: ctx.attempt, epoch: ctx.epoch, outcome: 'crash', message, startedAt: now, endedAt: now, workerId: this.options.workerId, host: this.host };
      await this.store.apply(data.runId, data.member, { type: 'attempt_failed', record, final }, { epoch: ctx.epoch });
    } catch (recordError) {
      this.options.logger.warn({ err: recordError }, 'could not record the broken attempt');
    }
  }

  /** The concurrency key a job runs under, and its effective cap (the harness's or the fleet's, the lower). */
  private limitFor(data: AgentJobData): { key: string; max: number | undefined } | undefined {
    if (!data.concurrency) return undefined;
    const caps = [data.concurrency.max, this.options.config.concurrencyLimits[data.concurrency.key]].filter((n): n is number => n !== undefined);
    return { key: data.concurrency.key, max: caps.length > 0 ? Math.min(...caps) : undefined };
  }

  /**
   * Fleet-wide admission: an agent under a paused key waits out the pause, and one whose key is at its cap
   * waits for a slot. Waiting hands the job back (no attempt used) and says why on the member. Returns when
   * to try again, or undefined to go ahead (holding a slot).
   */
  private async admit(job: Job, data: AgentJobData): Promise<number | undefined> {
    const limit = this.limitFor(data);
    if (!limit) return undefined;
    const now = Date.now();
    const jitter = Math.floor(Math.random() * this.options.config.monitorIntervalMs);
    const pausedUntil = await this.limits.pausedUntil(limit.key);
    if (pausedUntil !== undefined && pausedUntil > now) {
      await this.store.apply(data.runId, data.member, { type: 'waiting', retryAt: pausedUntil, reason: `paused: a rate limit on "${limit.key}" holds every agent under it until ${new Date(pausedUntil).toISOString()}` });
      return pausedUntil + jitter;
    }
    if (limit.max !== undefined && !(await this.limits.acquire(limit.key, job.id!, limit.max, now))) {
      await this.store.apply(data.runId, data.member, { type: 'waiting', reason: `waiting for one of ${limit.max} slots under "${limit.key}"` });
      return now + this.options.config.monitorIntervalMs + jitter;
    }
    return undefined;
  }

  /**
   * Takes this attempt's reservation from the run's and the day's budgets. When either would go over, the
   * member fails with class "budget" (the run then ends budget_exhausted; `reins retry` continues it once
   * the budget is raised). Returns whether a reservation is held.
   */
  private async reserveBudget(job: Job, data: AgentJobData): Promise<boolean> {
    const { config } = this.options;
    const caps = { runUsd: data.limits.runBudgetUsd, dayUsd: config.dailyBudgetUsd };
    if (caps.runUsd === undefined && caps.dayUsd === undefined) return false;
    const amount = data.limits.maxBudgetUsd ?? config.budgetReserveUsd;
    const reservation = await this.budgets.reserve(data.runId, job.id!, amount, caps);
    if (reservation.ok) return true;
    const limit = this.limitFor(data);
    if (limit?.max !== undefined) await this.limits.release(limit.key, job.id!);
    const usd = (n: number) => `$${n.toFixed(4)}`;
    const message = `the ${reservation.budget === 'run' ? "run's" : "fleet's daily"} budget would be exceeded: ${usd(reservation.spentUsd)} spent and ${usd(reservation.reservedUsd)} reserved of ${usd(reservation.capUsd)}, and this member reserves ${usd(amount)}`;
    await this.store.apply(data.runId, data.member, { type: 'budget_refused', message, at: Date.now() });
    throw new UnrecoverableError(`budget: ${message}`);
  }

  /**
   * After an agent reports success: a planner's answer must be a valid team (one retry with the errors), and
   * a member's checks must pass (up to verify.maxRounds fix rounds). Either may ask for another round.
   */
  private async check(data: AgentJobData, ctx: AttemptContext, end: AttemptEnd, round: number): Promise<Verdict> {
    if (data.mode === 'plan') {
      const verdict = checkPlan(structuredAnswer(end), (data.availableSkills ?? []).map((s) => s.name));
      if (verdict.ok) return { kind: 'done', plan: verdict.team };
      if (round < 2) return { kind: 'again', prompt: planRetryPrompt(verdict.issues) };
      return { kind: 'fail', failureClass: 'plan_invalid', message: `the planner's team is invalid: ${verdict.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` };
    }
    if (!data.verify) return { kind: 'done' };
    const maxRounds = data.verify.maxRounds ?? 3;
    const result = await runChecks(data.verify.commands, ctx.workspace.path, checkEnv(ctx.identity), data.verify.timeoutMs ?? 600_000);
    if (result.ok) return { kind: 'done' };
    await this.store.appendEvents(data.runId, data.member, [{ at: Date.now(), kind: 'verify', text: `check failed: ${describeCheck(result)}` }]);
    if (round <= maxRounds) return { kind: 'again', prompt: fixPrompt(result, round, maxRounds) };
    return { kind: 'fail', failureClass: 'verify_failed', message: `checks still fail after ${maxRounds} fix rounds: ${describeCheck(result)}:\n${result.output}` };
  }

  /**
   * A BullMQ stall (the job's last holder stopped renewing its lock: its worker died or lost Redis) is
   * recorded as a failed attempt of class "stalled" and thrown, so it uses an attempt and follows backoff
   * like any other failure, and can never loop forever.
   */
  private async recordStall(job: Job, before: MemberRecord, attempt: number): Promise<never> {
    const now = Date.now();
    const message = `worker ${before.workerId ?? '?'} on ${before.host ?? '?'} stopped renewing its claim (stall ${job.stalledCounter})`;
    const final = attempt >= (job.opts.attempts ?? 1);
    const epoch = before.epoch!;
    const record = { attempt: before.attempts, epoch, outcome: 'stalled', message, startedAt: before.startedAt ?? now, endedAt: now, workerId: before.workerId ?? '?', host: before.host ?? '?' };
    await this.store.apply(before.runId, before.name, { type: 'attempt_failed', record, final, stallsSeen: job.stalledCounter }, { epoch });
    this.options.logger.warn({ jobId: job.id, attempt, final }, message);
    throw new Error(`stalled: ${message}`);
  }

  /**
   * Waits until no earlier attempt's agent can be alive: its heartbeat has expired or was cleared. An
   * orphaned agent stops itself when its lease runs out, a tick before its heartbeat expires.
   */
  private async waitForPreviousAgent(jobId: string, before: MemberRecord | undefined): Promise<void> {
    const { heartbeatTtlMs, monitorIntervalMs } = this.options.config;
    if (before?.host === this.host && before.tmuxSocket && before.tmuxSession && before.tmuxSocket !== this.tmux.socketPath) {
      await new TmuxDriver(before.tmuxSocket).kill(before.tmuxSession).catch(() => false);
    }
    const deadline = Date.now() + heartbeatTtlMs + 2 * monitorIntervalMs;
    while (await this.heartbeats.read(jobId)) {
      if (Date.now() > deadline) throw new Error(`an earlier attempt of ${jobId} still sends heartbeats`);
      await sleep(Math.min(250, monitorIntervalMs));
    }
  }

  /** Prepares the workspace and the agent's home, restores the cursor, and takes the attempt's epoch. */
  private async beginAttempt(job: Job, token: string, data: AgentJobData, attempt: number): Promise<AttemptContext> {
    const { config } = this.options;
    const { runId, member } = data;
    // The planner reads the workdir as it is; members get their own worktree.
    const workspace = await prepareWorkspace({ dataDir: config.dataDir, runId, member, workdir: data.workdir, shared: data.mode === 'plan', baseCommit: data.baseCommit });
    const cursor = await this.store.readCursor(runId, member);
    const previous = (await this.store.readAttempts(runId, member)).at(-1);
    const restoredCommit = cursor?.commit && workspace.kind === 'git-worktree' ? await restoreCommit(workspace.path, cursor.commit) : undefined;
    await injectSkills(workspace.path, data.skills);
    const home = path.join(config.dataDir, 'homes', runId, member);
    await mkdir(path.join(home, 'tmp'), { recursive: true });
    const started = await this.store.apply(runId, member, {
      type: 'attempt_started',
      attempt,
      at: Date.now(),
      workerId: this.options.workerId,
      host: this.host,
      tmuxSocket: this.tmux.socketPath,
      workspace: workspace.path,
      ...(workspace.branch ? { branch: workspace.branch } : {}),
    });
    if (!started.applied) throw new UnrecoverableError(started.reason);
    const { epoch } = started;
    const identity: AgentIdentity = {
      runId,
      member,
      workspace: workspace.path,
      attempt,
      epoch,
      jobId: job.id!,
      redisUrl: config.redisUrl,
      prefix: config.prefix,
      heartbeatTtlMs: config.heartbeatTtlMs,
      binDir: path.dirname(this.bin!.reins),
    };
    const resumed = data.agent.kind === 'claude' ? await this.resumableSession(home, cursor) : undefined;
    const prompt = cursor || previous ? continuationPrompt({ prompt: data.prompt, attempt, previous, cursor, restoredCommit, resumed: resumed !== undefined }) : data.prompt;
    return { token, attempt, epoch, workspace, home, identity, cursor, first: { prompt, resume: resumed?.sessionId, resumeFile: resumed?.file } };
  }

  /** Starts one round of the attempt in its own tmux session: a new session, or the attempt's session resumed. */
  private async startRound(job: Job, ctx: AttemptContext, data: AgentJobData, round: number, start: RoundStart): Promise<AttemptMeta> {
    const { config } = this.options;
    const { runId, member } = data;
    const suffix = round === 1 ? '' : `-r${round}`;
    const sessionName = cleanSessionName(`reins-${runId}-${member}-${ctx.attempt}${suffix}`);
    const attemptDir = path.join(config.dataDir, 'runs', runId, member, `e${ctx.epoch}${suffix}`);
    let session: { kind: 'new'; sessionId: string } | { kind: 'resume'; transcriptFile: string } | undefined;
    let sessionId: string | undefined;
    if (data.agent.kind === 'claude') {
      const resumeFile = start.resumeFile ?? (start.resume ? (await this.resumableSession(ctx.home, { attempt: ctx.attempt, epoch: ctx.epoch, at: 0, sessionId: start.resume }))?.file : undefined);
      sessionId = resumeFile ? start.resume : randomUUID();
      session = resumeFile ? { kind: 'resume', transcriptFile: resumeFile } : { kind: 'new', sessionId: sessionId! };
    }
    const startedAt = Date.now();
    await this.store.apply(runId, member, { type: 'round_started', tmuxSession: sessionName, ...(sessionId ? { sessionId } : {}) }, { epoch: ctx.epoch });
    const invocation = this.invocation(data, { prompt: start.prompt, home: ctx.home, identity: ctx.identity, cursor: ctx.cursor, session });
    const files = await writeLaunchFiles(attemptDir, invocation.argv, invocation.env);
    const meta: AttemptMeta = { jobId: job.id!, queue: job.queueName, runId, member, attempt: ctx.attempt, epoch: ctx.epoch, token: ctx.token, sessionName, attemptDir, home: ctx.home, workspace: ctx.workspace, sessionId, startedAt };
    await writeFile(files.meta, JSON.stringify(meta));
    await renewLease(files.lease, Date.now() + this.fenceAfterMs);
    // The index lets a restarted worker find the attempt behind each session it left behind.
    await mkdir(this.sessionIndex, { recursive: true });
    await writeFile(path.join(this.sessionIndex, sessionName), attemptDir);
    await this.tmux.start({ name: sessionName, cwd: ctx.workspace.path, argv: ['bash', this.bin!.launcher, attemptDir, String(this.stopGraceMs)] });
    this.options.logger.info({ runId, member, attempt: ctx.attempt, round, epoch: ctx.epoch, resumed: session?.kind === 'resume', attach: this.tmux.attachCommand(sessionName) }, 'agent started');
    await job.log(`attempt ${ctx.attempt}${round > 1 ? ` round ${round}` : ''} on ${this.options.workerId}${session?.kind === 'resume' ? ' (resumed session)' : ''}: ${this.tmux.attachCommand(sessionName)}`);
    return meta;
  }

  /**
   * The session to resume, if a transcript of it can be had: the one in this home, or the cursor's,
   * whichever is longer. It is copied where `--resume <file>` appends to it.
   */
  private async resumableSession(home: string, cursor: Cursor | undefined): Promise<{ sessionId: string; file: string } | undefined> {
    const sessionId = cursor?.sessionId;
    if (!sessionId) return undefined;
    const local = await findTranscript(home, sessionId);
    if (local && local.bytes >= (cursor.transcriptBytes ?? 0)) {
      const file = path.join(resumeDir(home), `${sessionId}.jsonl`);
      if (local.file !== file) {
        await mkdir(resumeDir(home), { recursive: true });
        await copyFile(local.file, file);
      }
      return { sessionId, file };
    }
    if (cursor.transcriptGz) return { sessionId, file: await unpackTranscript(home, sessionId, cursor.transcriptGz) };
    return undefined;
  }

  private invocation(
    data: AgentJobData,
    at: { prompt: string; home: string; identity: AgentIdentity; cursor: Cursor | undefined; session: { kind: 'new'; sessionId: string } | { kind: 'resume'; transcriptFile: string } | undefined },
  ): AgentInvocation {
    if (data.agent.kind === 'command') {
      const cursorJson = at.cursor ? JSON.stringify({ attempt: at.cursor.attempt, at: at.cursor.at, commit: at.cursor.commit, data: at.cursor.data }) : undefined;
      return commandInvocation({ agent: data.agent, prompt: at.prompt, home: at.home, identity: at.identity, workerEnv: process.env, cursorJson });
    }
    const bin = resolveClaudeBin(this.options.config.claudeBin);
    if (!bin) throw new UnrecoverableError('no claude binary found: set REINS_CLAUDE_BIN or run `reins doctor`');
    return claudeInvocation({
      bin,
      prompt: at.prompt,
      session: at.session ?? { kind: 'new', sessionId: randomUUID() },
      hookCommand: shQuote(this.bin!.hook),
      harnessHooks: data.hooks,
      jsonSchema: data.mode === 'plan' ? planJsonSchema() : undefined,
      maxBudgetUsd: data.limits.maxBudgetUsd,
      agent: data.agent,
      maxTurns: data.limits.maxTurns,
      systemPrompt: data.mode === 'plan' ? 'You are the planner of a reins team. You run unattended: nobody will answer questions.' : teamSystemPrompt(data),
      home: at.home,
      tmpDir: path.join(at.home, 'tmp'),
      identity: at.identity,
      workerEnv: process.env,
      isRoot: process.getuid?.() === 0,
    });
  }

  /** Watches the agent until it ends: heartbeat, lease, events, checkpoints, wall clock and idle watchdog. */
  private async monitor(job: Job, meta: AttemptMeta, data: AgentJobData, mode: { manual: boolean }): Promise<AttemptEnd & { numTurns: number }> {
    const { config, logger } = this.options;
    const files = attemptFiles(meta.attemptDir);
    const stop = new AbortController();
    this.running.set(meta.jobId, { meta, stop, files });
    const checkpointer = new Checkpointer(this.store, { ...meta }, config.transcriptMaxBytes);
    checkpointer.lastAt = meta.startedAt;
    const idleTimeoutMs = data.limits.idleTimeoutMs ?? config.idleTimeoutMs;
    let lastEventAt = Math.max(meta.startedAt, Date.now());
    let lastHookAt = 0;
    let inTool = false;
    let numTurns = 0;
    let eventCount = 0;
    let pid: number | undefined;
    let lastTickWarning = 0;
    try {
      const end = await watchAttempt({
        tmux: this.tmux,
        sessionName: meta.sessionName,
        files,
        monitorIntervalMs: config.monitorIntervalMs,
        signal: stop.signal,
        stopGraceMs: this.stopGraceMs,
        onTickError: (error) => {
          if (Date.now() - lastTickWarning > 5_000) logger.warn({ err: error, jobId: meta.jobId }, 'monitor tick failed');
          lastTickWarning = Date.now();
        },
        onTick: async (events) => {
          const now = Date.now();
          if (events.length > 0) {
            lastEventAt = now;
            eventCount += events.length;
            numTurns += events.filter((e) => e.type === 'assistant').length;
          }
          pid ??= await agentPid(files);
          // The lease counts from when the beat was sent: Redis starts its TTL no earlier than that.
          const sentAt = Date.now();
          const beat = await this.heartbeats.beat(meta.jobId, { workerId: this.options.workerId, host: this.host, attempt: meta.attempt, epoch: meta.epoch, pid, lastEventAt });
          this.lastRedisOkAt = sentAt;
          await renewLease(files.lease, sentAt + this.fenceAfterMs);
          if (beat.lastHookAt !== undefined) lastHookAt = beat.lastHookAt;
          inTool = beat.inTool;
          if (mode.manual && (await job.extendLock(meta.token, config.heartbeatTtlMs)) !== 1) return 'fenced';
          const limit = this.limitFor(data);
          // The slot is a lease renewed with the heartbeat: a dead worker's slot frees itself.
          if (limit?.max !== undefined) await this.limits.acquire(limit.key, meta.jobId, limit.max);
          if (events.length > 0) await this.report(job, meta, events, eventCount);
          if (data.limits.timeoutMs !== undefined && now - meta.startedAt > data.limits.timeoutMs) return 'timeout';
          // A tool between its PreToolUse and PostToolUse pings is working, however long it takes: a long
          // build is not a hang. The wall clock still bounds it.
          if (!inTool && now - Math.max(lastEventAt, lastHookAt) > idleTimeoutMs) return 'hang';
          if (now - checkpointer.lastAt >= config.checkpointIntervalMs) await checkpointer.take(numTurns, now);
          return undefined;
        },
      });
      // The latest state goes into the cursor before anyone hears how the attempt ended.
      if (end.stoppedBy !== 'fenced' && !(end.result && !end.result.is_error)) {
        await checkpointer.take(numTurns).catch((error: unknown) => logger.warn({ err: error }, 'final checkpoint failed'));
      }
      return { ...end, numTurns };
    } finally {
      this.running.delete(meta.jobId);
      await stopAgent(this.tmux, meta.sessionName, files, this.stopGraceMs).catch(() => undefined);
      const limit = this.limitFor(data);
      if (limit?.max !== undefined) await this.limits.release(limit.key, meta.jobId).catch(() => undefined);
      await rm(path.join(this.sessionIndex, meta.sessionName), { force: true });
    }
  }

  /** Records how the attempt ended and decides what becomes of the job. */
  private async conclude(job: Job, meta: AttemptMeta, data: AgentJobData, end: AttemptEnd & { numTurns: number }, verdict: Verdict = { kind: 'done' }): Promise<Disposition> {
    const { runId, member, epoch, attempt } = meta;
    const now = Date.now();
    const durationMs = now - meta.startedAt;
    const classified = stoppedOutcome(end.stoppedBy, data.agent.kind === 'claude' ? classifyClaude(end) : classifyCommand(end));
    const outcome: AgentOutcome =
      classified.ok && verdict.kind === 'fail' ? { ok: false, failureClass: verdict.failureClass, message: verdict.message, retryable: false, result: classified.result, exitCode: classified.exitCode } : classified;
    const figures = {
      exitCode: end.exitCode,
      sessionId: end.sessionId ?? end.result?.session_id ?? meta.sessionId ?? null,
      costUsd: end.result?.total_cost_usd ?? null,
      numTurns: end.result?.num_turns ?? null,
      durationMs,
    };
    const record = (outcomeName: string, message: string): AttemptRecord => ({
      attempt,
      epoch,
      outcome: outcomeName,
      message,
      startedAt: meta.startedAt,
      endedAt: now,
      workerId: this.options.workerId,
      host: this.host,
    });
    const log = this.options.logger.child({ runId, member, jobId: meta.jobId, attempt, epoch });

    try {
      if (outcome.ok) {
        const summary = (end.result?.result ?? '').trim() || 'done';
        const extra = {
          ...(verdict.kind === 'done' && verdict.plan ? { plan: encodePlan(verdict.plan) } : {}),
          ...(meta.workspace.kind === 'git-worktree' && data.baseCommit ? { diffStat: await diffStat(meta.workspace.path, data.baseCommit) } : {}),
        };
        await this.persist(() => this.store.apply(runId, member, { type: 'succeeded', record: record('succeeded', summary.slice(0, 500)), summary, figures, ...extra }, { epoch }));
        log.info({ durationMs, costUsd: figures.costUsd, numTurns: figures.numTurns }, 'agent succeeded');
        return {
          kind: 'succeeded',
          result: { status: 'succeeded', summary, exitCode: end.exitCode, sessionId: figures.sessionId ?? undefined, costUsd: figures.costUsd ?? undefined, numTurns: figures.numTurns ?? undefined, durationMs, workspace: meta.workspace.path },
        };
      }
      const ended = record(outcome.failureClass, outcome.message);
      await job.log(`attempt ${attempt} ended (${outcome.failureClass}): ${outcome.message}`);

      if (outcome.failureClass === 'cancelled') {
        await this.persist(() => this.store.apply(runId, member, { type: 'cancelled', at: now, record: ended, figures }, { epoch }));
        return { kind: 'fail', error: new UnrecoverableError('run cancelled') };
      }
      if (outcome.failureClass === 'shutdown') {
        // Handed back without using an attempt: the next worker resumes from the cursor.
        await this.persist(() => this.store.apply(runId, member, { type: 'handed_back', record: ended, figures }, { epoch }));
        log.info('agent stopped for shutdown; job handed back');
        return { kind: 'delay', until: Date.now() + 1 };
      }
      if (outcome.failureClass === 'rate_limit') {
        // Rate limits are the API's, not the agent's: wait them out without using an attempt.
        const retryAt = outcome.resetAt ?? now + backoffDelayMs(this.options.config.backoff, attempt);
        // The limit is the account's, not this agent's: every agent under the same key waits too.
        const limit = this.limitFor(data);
        if (limit) await this.limits.pause(limit.key, retryAt).catch(() => undefined);
        await this.persist(() => this.store.apply(runId, member, { type: 'rate_limited', record: ended, retryAt, figures }, { epoch }));
        log.warn({ retryAt }, 'rate limited: job delayed, no attempt used');
        return { kind: 'delay', until: retryAt };
      }
      const final = !outcome.retryable || attempt >= (job.opts.attempts ?? 1);
      await this.persist(() => this.store.apply(runId, member, { type: 'attempt_failed', record: ended, final, figures }, { epoch }));
      log.warn({ failureClass: outcome.failureClass, final }, outcome.message);
      const error = outcome.retryable ? new Error(`${outcome.failureClass}: ${outcome.message}`) : new UnrecoverableError(`${outcome.failureClass}: ${outcome.message}`);
      return { kind: final ? 'fail' : 'retry', error };
    } catch (error) {
      if (isStaleEpochError(error)) {
        log.warn({ err: error }, 'attempt superseded while concluding; its outcome is dropped');
        return { kind: 'fail', error: new UnrecoverableError(`superseded: ${(error as Error).message}`) };
      }
      throw error;
    } finally {
      await this.heartbeats.clear(meta.jobId, epoch).catch(() => undefined);
    }
  }

  /** Retries a state write through a Redis outage (restart, failover); gives up after two heartbeat TTLs. */
  private async persist(write: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + 2 * this.options.config.heartbeatTtlMs;
    for (;;) {
      try {
        await write();
        return;
      } catch (error) {
        if (isStaleEpochError(error) || Date.now() > deadline) throw error;
        await sleep(250);
      }
    }
  }

  /** One round of reporting: readable lines to the member's event stream and the job log, figures to progress. */
  private async report(job: Job, meta: AttemptMeta, events: StreamEvent[], eventCount: number): Promise<void> {
    const now = Date.now();
    const lines = events.flatMap(describeEvent);
    const raw = events.map((e) => JSON.stringify(e.type === 'other' ? e.raw : e));
    await this.store.appendEvents(meta.runId, meta.member, lines.map((l) => ({ at: now, kind: l.kind, text: l.text })), raw);
    for (const line of lines.slice(-20)) await job.log(`${line.kind}: ${line.text}`);
    const last = lines.at(-1);
    await job.updateProgress({ attempt: meta.attempt, events: eventCount, lastEventAt: now, ...(last ? { lastEvent: `${last.kind}: ${last.text}` } : {}) });
  }

  /**
   * After a restart, the sessions this worker left on its socket are found. One whose job has not moved
   * (still active, still locked with the token saved in its attempt folder, same epoch) is adopted: the
   * worker goes on renewing the lock and finishes the job itself. Any other is stopped.
   */
  private async adoptLeftovers(): Promise<void> {
    const { logger } = this.options;
    for (const name of await this.tmux.list()) {
      const attemptDir = await readFile(path.join(this.sessionIndex, name), 'utf8').catch(() => undefined);
      const session = { name, attemptDir };
      let meta: AttemptMeta | undefined;
      try {
        meta = attemptDir ? AttemptMetaSchema.parse(JSON.parse(await readFile(attemptFiles(attemptDir).meta, 'utf8'))) : undefined;
      } catch {
        meta = undefined;
      }
      const job = meta ? await Job.fromId(this.consumerFor(meta.queue), meta.jobId) : undefined;
      const member = meta ? await this.store.getMember(meta.runId, meta.member) : undefined;
      const holds =
        meta !== undefined &&
        job !== undefined &&
        member?.epoch === meta.epoch &&
        (await job.getState()) === 'active' &&
        (await job.extendLock(meta.token, this.options.config.heartbeatTtlMs)) === 1;
      if (!holds || !meta || !job) {
        logger.warn({ session: session.name }, 'leftover session whose job moved on: stopping it');
        if (session.attemptDir) await stopAgent(this.tmux, session.name, attemptFiles(session.attemptDir), this.stopGraceMs);
        else await this.tmux.kill(session.name);
        await rm(path.join(this.sessionIndex, session.name), { force: true });
        continue;
      }
      logger.info({ session: session.name, jobId: meta.jobId }, 'adopting leftover session: its job has not moved');
      void this.finishAdopted(job, meta);
    }
  }

  private async finishAdopted(job: Job, meta: AttemptMeta): Promise<void> {
    try {
      const data = parseJob('agent.run', job);
      const end = await this.monitor(job, meta, data, { manual: true });
      const disposition = await this.conclude(job, meta, data, end);
      switch (disposition.kind) {
        case 'succeeded':
          await job.moveToCompleted(disposition.result, meta.token, false);
          break;
        case 'delay':
          await job.moveToDelayed(disposition.until, meta.token);
          break;
        default:
          await job.moveToFailed(disposition.error, meta.token, false);
      }
    } catch (error) {
      this.options.logger.error({ err: error, jobId: meta.jobId }, 'adopted job could not be finished; it will stall and be retried');
    }
  }

  /**
   * Drains, then closes: stops taking jobs, waits up to drainTimeoutMs for running agents to finish, then
   * checkpoints and stops the rest and hands their jobs back without using an attempt. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const { logger, config } = this.options;
    this.state = 'draining';
    const steps: [string, () => Promise<unknown>][] = [
      ['stop taking jobs', async () => Promise.all([...this.consumers.values()].map((c) => c.pause(true)))],
      ['wait for agents', async () => {
        const deadline = Date.now() + config.drainTimeoutMs;
        if (this.running.size > 0) logger.info({ agents: this.running.size, drainTimeoutMs: config.drainTimeoutMs }, 'draining: waiting for agents to finish');
        while (this.running.size > 0 && Date.now() < deadline) await sleep(100);
      }],
      ['hand back the rest', async () => {
        for (const agent of this.running.values()) agent.stop.abort('shutdown' satisfies StopReason);
        while (this.running.size > 0) await sleep(50);
      }],
      ['close queue consumers', async () => Promise.all([...this.consumers.values()].map((c) => c.close()))],
      ['stop ticking', async () => {
        clearInterval(this.tickTimer);
        clearInterval(this.sweepTimer);
      }],
      ['deregister', async () => this.fast.del(this.options.keys.worker(this.options.workerId))],
      ['close connections', async () => Promise.all([this.subscriber.quit(), this.fast.quit(), this.redis.quit()])],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        logger.warn({ err: error, step: name }, 'close step failed');
      }
    }
    this.state = 'closed';
  }
}

/** A stop by the worker decides the class, whatever the agent printed before it was stopped. */
function stoppedOutcome(stoppedBy: StopReason | undefined, outcome: AgentOutcome): AgentOutcome {
  if (stoppedBy === undefined) return outcome;
  const classes: Record<StopReason, [FailureClass, string]> = {
    cancelled: ['cancelled', 'the run was cancelled'],
    shutdown: ['shutdown', 'the worker shut down'],
    timeout: ['timeout', 'the wall-clock limit was reached; the session was killed'],
    hang: ['hang', 'no output and no tool activity for the idle timeout; the session was killed'],
    fenced: ['stalled', 'the worker lost Redis for longer than its lease and stopped the agent'],
    killed: ['stalled', 'the heartbeat was missing; the scheduler had the session killed'],
  };
  const [failureClass, message] = classes[stoppedBy];
  return { ok: false, failureClass, message, retryable: failureClass !== 'cancelled', result: outcome.result, exitCode: outcome.exitCode };
}

/** The planner's answer: the StructuredOutput tool's input, or a JSON result text (a command planner). */
function structuredAnswer(end: AttemptEnd): unknown {
  const structured = (end.result as { structured_output?: unknown } | undefined)?.structured_output;
  if (structured !== undefined) return structured;
  try {
    return JSON.parse(end.result?.result ?? '') as unknown;
  } catch {
    return undefined;
  }
}

function resultFromRecord(m: MemberRecord): AgentJobResult {
  return {
    status: 'succeeded',
    summary: m.summary ?? 'done',
    exitCode: m.exitCode ?? null,
    sessionId: m.sessionId,
    costUsd: m.costUsd,
    numTurns: m.numTurns,
    durationMs: m.durationMs ?? 0,
    workspace: m.workspace ?? '',
  };
}
