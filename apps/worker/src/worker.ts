import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, type Job } from 'bullmq';
import { QUEUES, RunStore, closeSteps, type AgentJobResult, type Keys, type Logger, type ReinsConfig, type RedisConnection } from '@reins/shared';
import type { HeldAccount } from './accounts.js';
import { closeDataDir, whoRuns } from './agent-user.js';
import { AgentUsers } from './agent-users.js';
import { attemptKit } from './attempt-kit.js';
import { adoptLeftovers } from './attempt/adoption.js';
import { handBackToWait } from './attempt/admission.js';
import { AgentSockets } from './attempt/agent-socket.js';
import { defaultRedisFactory, type RedisFactory } from './connections.js';
import { Consumers } from './consumers.js';
import { fenceAgents, noteToolHook, stopOnRequest } from './control.js';
import { attemptTimings, type AttemptDeps, type RunningAgent } from './attempt/deps.js';
import { runAgentJob } from './attempt/run.js';
import type { StopReason } from './attempt/watch.js';
import { mergeBackJob } from './git/merge-back.js';
import { sweepWorktrees } from './git/worktree-sweep.js';
import { diskMove, DiskWatch } from './disk-space.js';
import { TmuxDriver } from './tmux/driver.js';
import { isCrashedPredecessor, WorkerIdClaim, WorkerIdTakenError, workerRegistration, type IdClaim } from './registration.js';

/**
 * A worker's lifecycle:
 * - created:  constructed, not pulling
 * - running:  pulling agent jobs
 * - degraded: running, but its data dir has less free space than REINS_MIN_FREE_BYTES: its agents go on, it
 *             takes no new jobs (its consumers are paused) and is running again once there is room
 * - draining: no new jobs; waiting for running agents, then checkpointing and handing their jobs back
 * - closed
 */
export type WorkerState = 'created' | 'running' | 'degraded' | 'draining' | 'closed';

export interface AgentWorkerOptions {
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
  workerId: string;
  concurrency: number;
  /** Where connections come from; by default, new connections to config.redisUrl. Tests inject their own. */
  redis?: RedisFactory;
  /** The environment agents inherit their baseline from (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The Claude accounts it holds (main.ts loads them, refusing a bad file); by default loaded at start. */
  accounts?: HeldAccount[];
  /** Who its agents run as (main.ts resolves REINS_AGENT_USER or REINS_AGENT_GROUP, refusing what it cannot use); default: the worker's own user. */
  agentUsers?: AgentUsers;
  /**
   * Called once when another worker took this worker's id while its registration had expired (a Redis
   * outage longer than the TTL): the worker has stopped its agents and is closing. By default it just closes;
   * the process (main.ts) then exits 2.
   */
  onIdLost?: (error: WorkerIdTakenError) => void;
}

/**
 * Pulls agent jobs and runs each in its own tmux session (attempt/run.ts), and merge-backs one at a time
 * on their own queue. This class is the lifecycle only: consumers, the registration tick (with
 * self-fencing), the control channel, and the drain.
 */
export class AgentWorker {
  private state: WorkerState = 'created';
  private closing: Promise<void> | undefined;
  private readonly connect: RedisFactory;
  private readonly connections: RedisConnection[] = [];
  private readonly main: RedisConnection;
  private readonly fast: RedisConnection;
  private readonly subscriber: RedisConnection;
  /** One BullMQ consumer per queue served: agents, merge-backs, and the pools this worker's labels fit. */
  private readonly consumers: Consumers;
  /** Jobs being processed, across all consumers: admission keeps it within the worker's slots. */
  private inProcess = 0;
  /** Set once start-up (adoption included) is done: only then are pools consumed. */
  private consuming = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, RunningAgent>();
  private readonly host = os.hostname();
  private lastRedisOkAt = Date.now();
  private readonly startedAt = Date.now();
  private readonly idClaim: WorkerIdClaim;
  /** Whether this instance holds its id in Redis: nothing is adopted, consumed or deregistered without it. */
  private holdsId = false;
  /** The pool queues in use, as the last tick read them. */
  private pools: string[] = [];
  private tickInFlight: Promise<void> | undefined;
  private readonly disk: DiskWatch;
  private diskCheck: Promise<void> | undefined;
  /** The data dir's free bytes as last measured, and why they leave the worker degraded. */
  private diskFreeBytes: number | undefined;
  private degradedReason: string | undefined;
  readonly tmux: TmuxDriver;
  private readonly store: RunStore;
  private readonly sockets: AgentSockets;
  private deps: AttemptDeps | undefined;
  /** The accounts it registers as holding: those with a credential. */
  private heldAccounts: string[] = [];

  constructor(private readonly options: AgentWorkerOptions) {
    const { config, keys, logger } = options;
    const factory = options.redis ?? defaultRedisFactory(config, logger);
    this.connect = (use) => {
      const connection = factory(use);
      this.connections.push(connection);
      return connection;
    };
    this.main = this.connect('main');
    this.fast = this.connect('fast');
    this.subscriber = this.connect('subscriber');
    this.store = new RunStore(this.main, keys);
    this.sockets = new AgentSockets({
      redis: this.fast,
      keys,
      store: this.store,
      logger,
      heartbeatTtlMs: config.heartbeatTtlMs,
      onHook: (jobId, event) => noteToolHook(this.running, jobId, event),
    });
    this.idClaim = new WorkerIdClaim(this.fast, keys, options.workerId, randomUUID(), config.heartbeatTtlMs);
    this.disk = new DiskWatch(config.dataDir, config.minFreeBytes);
    this.tmux = new TmuxDriver(path.join(config.dataDir, 'tmux', `${options.workerId}.sock`), { control: true });
    this.consumers = new Consumers(config, keys, logger, () => this.connect('consumer'), options.concurrency, {
      agent: (job, token) => this.process(job, token),
      integrate: (job) => mergeBackJob(job, this.store, config.dataDir, logger),
    });
  }

  get status(): WorkerState {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`cannot start a worker that is ${this.state}`);
    this.state = 'running';
    const { config, keys, logger, workerId } = this.options;
    // The id first, before anything touches the tmux socket or the data dir: a second worker with a live
    // id must not adopt (or stop) the first one's sessions. The free space just before it, so the first
    // registration says whether the worker has room.
    try {
      await mkdir(config.dataDir, { recursive: true });
      if (this.options.agentUsers?.users.length) await closeDataDir(config.dataDir);
      await this.watchDisk(true);
      await this.takeId();
    } catch (error) {
      await this.close();
      throw error;
    }
    await mkdir(path.dirname(this.tmux.socketPath), { recursive: true });
    const kit = await attemptKit({
      ...this.options,
      worker: { workerId, host: this.host },
      main: this.main,
      fast: this.fast,
      store: this.store,
      sockets: this.sockets,
      tmux: this.tmux,
      running: this.running,
      workerEnv: this.options.env ?? process.env,
      redisAnswered: (at) => (this.lastRedisOkAt = at),
      diskFull: () => void this.watchDisk(true),
    });
    this.deps = kit.deps;
    this.heldAccounts = kit.announced;
    this.subscriber.on('message', (_channel, message) => stopOnRequest(this.running, message, logger));
    await this.subscriber.subscribe(keys.controlChannel);

    this.consumers.get(QUEUES.agent);
    this.timers.push(setInterval(() => void this.tick(), config.monitorIntervalMs));
    await this.sockets.sweep(config.dataDir);
    await adoptLeftovers(this.deps, (queue) => this.consumers.get(queue));
    const sweep = () => sweepWorktrees(config.dataDir, this.store, config.worktreeRetentionMs, logger).catch((error: unknown) => logger.warn({ err: error }, 'worktree clean-up failed'));
    await sweep();
    // Hourly, or as often as the retention asks, but not more than once a minute.
    this.timers.push(setInterval(() => void sweep(), Math.min(3_600_000, Math.max(60_000, config.worktreeRetentionMs))));
    const agents = this.consumers.get(QUEUES.agent);
    const mergeBacks = this.consumers.get(QUEUES.integrate);
    this.consuming = true;
    // Degraded already: paused before they run, they wait for resume() (takeJobs) to start.
    if ((this.state as WorkerState) === 'degraded') await this.takeJobs(false);
    void agents.run();
    void mergeBacks.run();
    await this.consumePools();
    logger.info({ workerId, concurrency: this.options.concurrency, labels: config.workerLabels, tmuxSocket: this.tmux.socketPath }, 'worker started');
  }

  /**
   * Takes the worker id with SET NX and the TTL. A registration left by a crashed predecessor on this host
   * is taken over; any other holder is a live worker, and this one refuses to run (WorkerIdTakenError).
   */
  private async takeId(): Promise<void> {
    const { config, logger, workerId } = this.options;
    let claim = await this.claimAtStart();
    if (claim.kind === 'held' && isCrashedPredecessor(claim.holder, { host: this.host, pid: process.pid })) {
      logger.warn({ workerId, predecessor: { pid: claim.holder?.pid, startedAt: claim.holder?.startedAt } }, "this worker id's registration is a crashed predecessor's on this host (its pid is gone): taking the id over");
      claim = await this.claimAtStart(claim.raw);
    }
    if (claim.kind === 'held') throw new WorkerIdTakenError(workerId, claim.holder, config.heartbeatTtlMs);
    this.holdsId = true;
    this.pools = claim.pools;
    this.lastRedisOkAt = Date.now();
  }

  /** One claim, asked again each tick while Redis is out of reach (a worker may start before its Redis), until closed. */
  private async claimAtStart(predecessor?: string): Promise<IdClaim> {
    for (let tries = 0; ; tries += 1) {
      try {
        return await this.idClaim.claim(this.registration(), predecessor);
      } catch (error) {
        if (this.closing) throw error;
        if (tries === 0) this.options.logger.warn({ err: error }, 'Redis out of reach at start: waiting for it to claim the worker id');
        await sleep(this.options.config.monitorIntervalMs);
      }
    }
  }

  private registration() {
    const { config, workerId } = this.options;
    return workerRegistration({
      workerId,
      host: this.host,
      startedAt: this.startedAt,
      slots: this.options.concurrency,
      used: this.running.size,
      state: this.state,
      ...(this.state === 'degraded' && this.degradedReason ? { reason: this.degradedReason } : {}),
      ...(this.diskFreeBytes !== undefined ? { diskFreeBytes: this.diskFreeBytes } : {}),
      labels: config.workerLabels,
      accounts: this.heldAccounts,
      ...whoRuns(this.options.agentUsers ?? AgentUsers.none()),
    });
  }

  /**
   * Measures the data dir (at most once a second; at once when a step found no room) and moves between
   * running and degraded: under the floor the consumers pause, so the worker takes no new job while its
   * agents go on; with room again they resume. Other states are left alone.
   */
  private watchDisk(force = false): Promise<void> {
    this.diskCheck ??= this.measureDisk(force).finally(() => (this.diskCheck = undefined));
    return this.diskCheck;
  }

  private async measureDisk(force: boolean): Promise<void> {
    const { config, logger } = this.options;
    let found: Awaited<ReturnType<DiskWatch['check']>>;
    try {
      found = await this.disk.check(force);
    } catch (error) {
      logger.warn({ err: error, dataDir: config.dataDir }, 'could not measure the free space of the data dir');
      return;
    }
    this.diskFreeBytes = found.space.freeBytes;
    const figures = { freeBytes: found.space.freeBytes, minFreeBytes: config.minFreeBytes, dataDir: config.dataDir };
    // A degraded worker keeps the newest reason; one that degrades or recovers says so and pauses or resumes its consumers.
    if (this.state === 'degraded') this.degradedReason = found.lowReason;
    const move = diskMove(this.state, found.lowReason);
    if (move === 'stay') return;
    this.state = move === 'degrade' ? 'degraded' : 'running';
    this.degradedReason = found.lowReason;
    if (move === 'degrade') logger.warn(figures, `degraded: ${found.lowReason}; taking no jobs until there is room again`);
    else logger.info(figures, 'there is room in the data dir again: taking jobs');
    await this.takeJobs(move === 'recover');
  }

  /** Pauses every consumer (a degraded worker), or resumes them and the pools (running again). Before start-up has them running, start() does it. */
  private async takeJobs(taking: boolean): Promise<void> {
    if (!this.consuming) return;
    await this.consumers.take(taking);
    if (taking) await this.consumePools();
  }

  /** Starts consuming every pool queue in use whose labels this worker has (checked every tick). */
  private async consumePools(): Promise<void> {
    if (this.state !== 'running' || !this.consuming) return;
    this.consumers.runPools(this.pools);
  }

  /** Every tick: the worker's registration, and self-fencing when Redis has been out of reach too long. */
  private tick(): Promise<void> {
    // A slow Redis can stretch a tick past the next: one at a time (close() waits for the last).
    this.tickInFlight ??= this.tickOnce().finally(() => (this.tickInFlight = undefined));
    return this.tickInFlight;
  }

  private async tickOnce(): Promise<void> {
    const { config, workerId, logger } = this.options;
    if (!this.holdsId) return;
    await this.watchDisk();
    try {
      const claim = await this.idClaim.claim(this.registration());
      this.lastRedisOkAt = Date.now();
      if (claim.kind === 'held') return this.loseId(new WorkerIdTakenError(workerId, claim.holder, config.heartbeatTtlMs));
      if (claim.kind === 'taken') logger.warn({ workerId }, "this worker's registration had expired (Redis out of reach past the heartbeat TTL) and no other worker had taken the id: it is this worker's again");
      this.pools = claim.pools;
      await this.consumePools();
    } catch (error) {
      logger.debug({ err: error }, 'registration refresh failed');
    }
    const silentMs = Date.now() - this.lastRedisOkAt;
    const { fenceAfterMs, stopGraceMs } = attemptTimings(config);
    if (silentMs > fenceAfterMs && this.running.size > 0) {
      logger.error({ silentMs, agents: this.running.size }, "Redis out of reach past the lease: stopping this worker's agents (self-fencing)");
      fenceAgents(this.running, this.tmux, stopGraceMs);
    }
  }

  /**
   * Another worker took this worker's id while its registration had expired (Redis was out of reach past
   * the TTL). Writing over that one would give one id two workers, each adopting and stopping the other's
   * sessions, so this one yields: it stops its agents (handed back, no attempt used) and closes.
   */
  private loseId(error: WorkerIdTakenError): void {
    if (!this.holdsId) return;
    this.holdsId = false;
    const { logger, workerId } = this.options;
    const holder = error.holder;
    logger.error(
      { workerId, holder: holder ? { host: holder.host, pid: holder.pid, startedAt: holder.startedAt } : undefined, agents: this.running.size },
      `worker id ${workerId} was taken by another worker${holder ? ` on ${holder.host} (pid ${holder.pid})` : ''} while this one's registration had expired: this worker stops its agents and shuts down, and does not write over that registration`,
    );
    for (const agent of this.running.values()) agent.stop.abort('shutdown' satisfies StopReason);
    if (this.options.onIdLost) this.options.onIdLost(error);
    else void this.close();
  }

  private async process(job: Job, token: string | undefined): Promise<AgentJobResult> {
    if (!token) throw new Error('BullMQ gave no lock token');
    const { concurrency, config } = this.options;
    if (this.state === 'degraded' && this.deps) {
      return handBackToWait(this.deps, job, token, `worker ${this.options.workerId} (${this.host}) takes no jobs: ${this.degradedReason ?? 'its data dir is low on space'}`);
    }
    // A fetch already under way when the drain paused the queue still hands us a job: give it back untouched.
    // Each consumer has the worker's full concurrency, so with pools the slots are counted here, across them.
    if (this.state !== 'running' || !this.deps || this.inProcess >= concurrency) {
      const backInMs = this.state !== 'running' ? 1 : config.monitorIntervalMs + Math.floor(Math.random() * config.monitorIntervalMs);
      await job.moveToDelayed(Date.now() + backInMs, token);
      throw new DelayedError();
    }
    this.inProcess += 1;
    try {
      return await runAgentJob(this.deps, job, token);
    } finally {
      this.inProcess -= 1;
    }
  }

  /**
   * Drains, then closes: stops taking jobs, waits up to drainTimeoutMs for running agents to finish, then
   * checkpoints and stops the rest and hands their jobs back without using an attempt. Safe to call twice;
   * every step runs even when one throws.
   */
  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }

  private async drainAndClose(): Promise<void> {
    const { logger, config } = this.options;
    this.state = 'draining';
    const consumers = () => this.consumers.all();
    await closeSteps(
      [
        ['stop taking jobs', () => Promise.all(consumers().map((c) => c.pause(true)))],
        [
          'wait for agents',
          async () => {
            const deadline = Date.now() + config.drainTimeoutMs;
            if (this.running.size > 0) logger.info({ agents: this.running.size, drainTimeoutMs: config.drainTimeoutMs }, 'draining: waiting for agents to finish');
            while (this.running.size > 0 && Date.now() < deadline) await sleep(100);
          },
        ],
        [
          'hand back the rest',
          async () => {
            for (const agent of this.running.values()) agent.stop.abort('shutdown' satisfies StopReason);
            while (this.running.size > 0) await sleep(50);
          },
        ],
        ['close queue consumers', () => Promise.all(consumers().map((c) => c.close()))],
        [
          'stop ticking',
          async () => {
            this.timers.forEach((timer) => clearInterval(timer));
            await this.tickInFlight;
          },
        ],
        ['close agent sockets', () => this.sockets.closeAll()],
        ['close the tmux client', () => this.tmux.close()],
        ['deregister', () => (this.holdsId ? this.idClaim.release() : undefined)],
        ['close connections', () => Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())))],
      ],
      logger,
    );
    this.state = 'closed';
  }
}
