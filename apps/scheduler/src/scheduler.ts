import { QueueEvents, UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import {
  AgentQueues,
  FleetReader,
  QUEUES,
  RunFiles,
  RunStore,
  checkSubmission,
  closeSteps,
  createRedis,
  isRunId,
  openQueue,
  parseAgentJobId,
  showValue,
  type Keys,
  type Logger,
  type ReinsConfig,
  type RedisConnection,
} from '@reins/shared';
import { Notifier } from './notifier.js';
import { RunReconciler, type SweepCadence } from './run-reconciler.js';
import { refusalOf, runFromSubmission } from './submission.js';
import { Watchdog } from './watchdog.js';

/**
 * The scheduler's lifecycle:
 * - created:  constructed, holding connections but consuming nothing; start() or close() may follow
 * - running:  taking submissions, reconciling runs on queue events and on every sweep
 * - closing:  close() was called: consumers stop, passes under way finish, connections close
 * - closed:   nothing is left open; start() is refused
 */
export type SchedulerState = 'created' | 'running' | 'closing' | 'closed';

export interface SchedulerOptions {
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
  /**
   * Where its Redis connections come from (default: new ones to config.redisUrl). A factory: every call is a
   * new connection the scheduler owns and closes. A connection: used for commands and duplicated for BullMQ's
   * blocking reads; the duplicates are the scheduler's, the connection stays the caller's to close.
   */
  connection?: RedisConnection | (() => RedisConnection);
}

/**
 * Submissions taken at once. Each is a few round trips on a connection that the run passes share; with 4 at
 * a time, a burst of 125 runs waited 150 ms a submission (p50) and its last run was created 7.8 s in.
 */
const CONTROL_CONCURRENCY = 32;

/**
 * Turns submitted harnesses into runs and drives each run to its end. Progress comes from one idempotent
 * pass per run (run-reconciler.ts, deciding in reconcile.ts). Queue events and run events (every member
 * transition is published) make it prompt; a sweep over the active runs makes it certain, so a lost event or
 * a scheduler restart never leaves a run waiting forever. The sweep looks at a run only every so often
 * (sweepCadence), and at a run of running agents only at their heartbeats: sleeping agents cost Redis little.
 */
export class Scheduler {
  private state: SchedulerState = 'created';
  private closing: Promise<void> | undefined;
  /** Connections this scheduler opened, closed last. */
  private readonly owned: RedisConnection[] = [];
  private readonly connect: () => RedisConnection;
  private readonly redis: RedisConnection;
  private readonly queues: AgentQueues;
  private readonly integrateQueue: Queue;
  private readonly notifyQueue: Queue;
  private readonly notifier: Notifier;
  private readonly reconciler: RunReconciler;
  private readonly store: RunStore;
  private readonly files: RunFiles;
  private controlWorker: Worker | undefined;
  private agentEvents: QueueEvents | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private runEvents: RedisConnection | undefined;

  constructor(private readonly options: SchedulerOptions) {
    const { config, keys, logger, connection } = options;
    const open = typeof connection === 'function' ? connection : connection ? () => connection.duplicate() : () => createRedis(config.redisUrl, 'blocking');
    this.connect = () => {
      const redis = open();
      this.owned.push(redis);
      return redis;
    };
    this.redis = connection && typeof connection !== 'function' ? connection : this.connect();
    this.store = new RunStore(this.redis, keys);
    this.files = new RunFiles(this.redis, keys);
    this.queues = new AgentQueues(this.redis, keys);
    this.integrateQueue = openQueue(QUEUES.integrate, this.redis, keys);
    this.notifyQueue = openQueue(QUEUES.notify, this.redis, keys);
    this.notifier = new Notifier({ redis: this.redis, queue: this.notifyQueue, keys, config, logger, connect: this.connect, readAttempts: (runId, member) => this.store.readAttempts(runId, member) });
    this.reconciler = new RunReconciler({
      redis: this.redis,
      store: this.store,
      queues: this.queues,
      integrateQueue: this.integrateQueue,
      fleet: new FleetReader(this.redis, keys),
      notifier: this.notifier,
      watchdog: new Watchdog({ redis: this.redis, keys, heartbeatTtlMs: config.heartbeatTtlMs, logger }),
      config,
      keys,
      logger,
      isRunning: () => this.state === 'running',
    });
  }

  get status(): SchedulerState {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`cannot start a scheduler that is ${this.state}`);
    this.state = 'running';
    const { config, keys, logger } = this.options;

    this.agentEvents = new QueueEvents(QUEUES.agent, { connection: this.connect(), prefix: keys.bullPrefix });
    const onJobEnded = ({ jobId }: { jobId: string }) => {
      const id = parseAgentJobId(jobId);
      if (id) void this.requestReconcile(id.runId);
    };
    this.agentEvents.on('completed', onJobEnded);
    this.agentEvents.on('failed', onJobEnded);
    this.agentEvents.on('error', (error) => logger.error({ err: error }, 'queue events error'));

    this.controlWorker = new Worker(QUEUES.control, (job) => this.onSubmit(job), { connection: this.connect(), prefix: keys.bullPrefix, concurrency: CONTROL_CONCURRENCY });
    this.controlWorker.on('error', (error) => logger.error({ err: error }, 'control queue error'));

    // Any run's member changed (a worker started or ended an attempt, a person cancelled or retried): pass it.
    this.runEvents = this.connect();
    this.runEvents.on('message', (_channel: string, message: string) => {
      const runId = runIdOfEvent(message);
      if (runId) void this.requestReconcile(runId);
    });
    await this.runEvents.subscribe(keys.runEventsChannel);

    this.notifier.start();
    this.sweepTimer = setInterval(() => void this.sweep(), config.reconcileIntervalMs);
    await this.sweep();
    logger.info({ reconcileIntervalMs: config.reconcileIntervalMs }, 'scheduler started');
  }

  /** Reconciles a run now (coalesced with a pass already under way). */
  requestReconcile(runId: string): Promise<void> {
    return this.reconciler.request(runId);
  }

  /**
   * Takes a submission only when it passes exactly the checks of `reins submit` (checkSubmission): a job put
   * on the control queue some other way (Bull Board, a script with Redis access) that fails them is refused,
   * recorded as a `refused` run that `reins runs` and the board list, and failed without retries.
   */
  private async onSubmit(job: Job): Promise<void> {
    const data: unknown = job.data;
    const claimed = (data as { runId?: unknown } | null)?.runId;
    const checked =
      job.name === 'run.submit'
        ? await checkSubmission(data, isRunId(claimed) ? await this.files.skills(claimed) : new Map(), this.options.config)
        : { ok: false as const, issues: [{ path: '(job)', message: `expected a run.submit job, got ${showValue(job.name)}` }] };
    if (!checked.ok) {
      const refusal = refusalOf(data, checked.issues, job.timestamp || Date.now());
      // Over a run that exists nothing is written: a second job with its id must not touch it.
      const recorded = await this.store.recordRefusal(refusal);
      this.options.logger.warn({ runId: refusal.runId, jobId: job.id, recorded, issues: checked.issues.length }, 'submission refused');
      throw new UnrecoverableError(`submission refused:\n${refusal.refusal}`);
    }
    const { run, members } = runFromSubmission(checked.data);
    if (await this.store.createRun(run, members)) {
      this.options.logger.info({ runId: run.runId, name: run.name, members: members.length, planned: run.spec.plan === 'auto' }, 'run created');
    }
    // Not awaited: the job is done once the run exists (the sweep passes it should this pass fail), so the
    // control queue's few slots take the next submissions while this run's members are released. Awaited, a
    // burst of 125 runs took 10 s to release its 1,000 members: four passes at a time, each releasing its
    // members one after another.
    void this.requestReconcile(run.runId);
  }

  private async sweep(): Promise<void> {
    try {
      const runIds = await this.store.activeRunIds();
      await this.reconciler.sweep(runIds, sweepCadence(this.options.config));
    } catch (error) {
      this.options.logger.warn({ err: error }, 'sweep failed');
    }
  }

  /** Safe to call twice, and before start(); every step runs even if one fails. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.state = 'closing';
    await closeSteps(
      [
        ['sweep timer', () => clearInterval(this.sweepTimer)],
        ['control worker', () => this.controlWorker?.close()],
        ['notifier', () => this.notifier.close()],
        ['queue events', () => this.agentEvents?.close()],
        ['run events', () => this.runEvents?.unsubscribe()],
        ['reconciles in flight', () => this.reconciler.drain()],
        ['agent queues', () => this.queues.close()],
        ['integrate and notify queues', () => Promise.all([this.integrateQueue.close(), this.notifyQueue.close()])],
        // BullMQ leaves a connection it was handed open: the ones opened here are closed here.
        ['connections', () => Promise.all(this.owned.map((redis) => (redis === this.redis ? redis.quit() : redis.disconnect())))],
      ],
      this.options.logger,
    );
    this.state = 'closed';
  }
}

/**
 * How often the sweep looks at a run. Events pass a run at once; the sweep is the net under them, and what
 * finds a missing heartbeat: looked at every half TTL, a dead agent is found within 1.5 TTL. A run with
 * members waiting is passed every third of a TTL. A run whose members all run gets a full pass every two
 * TTLs: between them its heartbeats are looked at, and a member that ended (its heartbeat cleared) or died
 * brings the full pass at once, so the full pass only reads what sleeping agents did not change.
 */
export function sweepCadence(config: Pick<ReinsConfig, 'reconcileIntervalMs' | 'heartbeatTtlMs'>): SweepCadence {
  const atLeastTick = (ms: number) => Math.max(config.reconcileIntervalMs, Math.floor(ms));
  return { quietMs: atLeastTick(config.heartbeatTtlMs / 3), beatsMs: atLeastTick(config.heartbeatTtlMs / 2), fullMs: atLeastTick(2 * config.heartbeatTtlMs) };
}

/**
 * Member events no decision depends on: a round's session name (reconcile reads statuses, not sessions) and
 * the scheduler's own writes (a pass that wrote them already knows, and runs again when it must). Passing a
 * run at each of them was a thousand passes more while 1,000 agents started.
 */
const NO_PASS_EVENTS = new Set(['round_started', 'released', 'noted']);

/** The run a run event names (see RunStore: every write publishes `{runId, …}`), when it asks for a pass. */
export function runIdOfEvent(message: string): string | undefined {
  try {
    const { runId, event } = JSON.parse(message) as { runId?: unknown; event?: unknown };
    if (typeof event === 'string' && NO_PASS_EVENTS.has(event)) return undefined;
    return typeof runId === 'string' ? runId : undefined;
  } catch {
    return undefined;
  }
}
