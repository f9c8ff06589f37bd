import type { Job, Queue } from 'bullmq';
import {
  BACKOFF_TYPE,
  QUEUES,
  addJob,
  agentJobId,
  integrateJobId,
  isFinalMemberStatus,
  type AgentQueues,
  type FleetReader,
  type Keys,
  type Logger,
  type MemberEvent,
  type MemberRecord,
  type ReinsConfig,
  type RunRecord,
  type RunStore,
  type RedisConnection,
} from '@reins/shared';
import { buildAgentJob } from './job-payload.js';
import type { Notifier } from './notifier.js';
import { integrateJobWanted, jobFactsWanted, reconcile, silentMembers, workerLabelsWanted, type JobFact, type ReconcileAction, type ReconcileFacts } from './reconcile.js';
import { heartbeatSuspects, type Watchdog } from './watchdog.js';

export interface RunReconcilerDeps {
  redis: RedisConnection;
  store: RunStore;
  /** The agent queue and the pool queues, for finding any member's job. */
  queues: AgentQueues;
  integrateQueue: Queue;
  fleet: FleetReader;
  notifier: Notifier;
  watchdog: Watchdog;
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
  /** False once the scheduler closes: passes asked for again are then left to the next start. */
  isRunning: () => boolean;
}

/** How often the sweep looks at a run: see RunReconciler.sweep(). */
export interface SweepCadence {
  /** A run with members waiting (for dependencies, a slot, a labelled worker): a full pass this often. */
  quietMs: number;
  /** A run whose unfinished members all run: their heartbeats looked at this often. */
  beatsMs: number;
  /** Every run: a full pass at least this often. */
  fullMs: number;
}

interface PassMemory {
  /** The last pass, or the last look at the heartbeats. */
  at: number;
  fullAt: number;
  /** When every unfinished member was running and nothing was left to do: those members. */
  running: MemberRecord[] | undefined;
}

type ReleaseAction = Extract<ReconcileAction, { type: 'release' }>;

/** Passes run again at once after a plan joined or a stale read; past this many, the next sweep picks it up. */
const MAX_IMMEDIATE_PASSES = 4;

/**
 * The shell around reconcile(): reads the facts a pass needs, asks reconcile() what to do and does it.
 * One pass per run at a time; a request during one runs once more after it.
 */
export class RunReconciler {
  private readonly inFlight = new Map<string, { again: boolean; done: Promise<void> }>();
  /** What each run's last pass saw, for the sweep (see sweep()). */
  private readonly passes = new Map<string, PassMemory>();

  constructor(private readonly deps: RunReconcilerDeps) {}

  /** Reconciles a run, coalescing requests that arrive while a pass is under way. */
  request(runId: string): Promise<void> {
    const current = this.inFlight.get(runId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        let passes = 0;
        do {
          entry.again = false;
          passes += 1;
          if ((await this.pass(runId)) && passes < MAX_IMMEDIATE_PASSES) entry.again = true;
        } while (entry.again && this.deps.isRunning());
      } catch (error) {
        this.deps.logger.warn({ err: error, runId }, 'reconcile failed; the next sweep retries');
      } finally {
        this.inFlight.delete(runId);
      }
    })();
    this.inFlight.set(runId, entry);
    return entry.done;
  }

  /**
   * The net under the events: passes the active runs that are due (their last pass older than the sweep's
   * cadence for them), and forgets the runs that are no longer active. A run whose unfinished members all
   * run gets only its heartbeats looked at (one EXISTS each) between full passes: sleeping agents cost Redis
   * little. Any other run, or a missing heartbeat, gets a full pass.
   */
  async sweep(runIds: readonly string[], cadence: SweepCadence, now = Date.now()): Promise<void> {
    const active = new Set(runIds);
    for (const runId of this.passes.keys()) if (!active.has(runId)) this.passes.delete(runId);
    const due: string[] = [];
    for (const runId of runIds) {
      if (this.inFlight.has(runId)) continue;
      const last = this.passes.get(runId);
      if (!last || now - last.fullAt >= cadence.fullMs || (last.running === undefined && now - last.at >= cadence.quietMs)) due.push(runId);
      else if (last.running !== undefined && now - last.at >= cadence.beatsMs) {
        const suspects = heartbeatSuspects(last.running, now, this.deps.config.heartbeatTtlMs);
        const live = await this.deps.watchdog.liveHeartbeats(suspects, now);
        if (suspects.some((m) => !live.has(m.name))) due.push(runId);
        else last.at = now;
      }
    }
    await Promise.all(due.map((runId) => this.request(runId)));
  }

  /** Waits for the passes under way. */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight.values()].map((e) => e.done));
  }

  /** One pass: read, decide, act. True when it should run again at once. */
  private async pass(runId: string): Promise<boolean> {
    const run = await this.deps.store.getRun(runId);
    if (!run) {
      await this.deps.store.retire(runId);
      return false;
    }
    const members = await this.deps.store.getMembers(run);
    const facts = await this.readFacts(run, members);
    const actions = reconcile(run, members, facts, { heartbeatTtlMs: this.deps.config.heartbeatTtlMs });
    const again = await this.carryOut(run, members, actions, facts.now);
    // Nothing left to do but watch: only the run's status and the webhooks' news were brought up to date.
    const settled = actions.every((a) => a.type === 'announce' || a.type === 'set_status');
    const allRunning = !run.cancelled && settled && members.length > 0 && members.every((m) => m.status === 'running' || isFinalMemberStatus(m.status));
    this.passes.set(runId, { at: facts.now, fullAt: facts.now, running: allRunning ? members.filter((m) => m.status === 'running') : undefined });
    return again;
  }

  private async readFacts(run: RunRecord, members: readonly MemberRecord[]): Promise<ReconcileFacts> {
    const { watchdog, queues, fleet, integrateQueue, config } = this.deps;
    const now = Date.now();
    const liveHeartbeats = run.cancelled ? new Set<string>() : await watchdog.liveHeartbeats(members, now);
    const silent = silentMembers(members, liveHeartbeats, now, config.heartbeatTtlMs);
    const jobs = new Map<string, JobFact>();
    for (const name of jobFactsWanted(run, members, silent)) {
      const member = members.find((m) => m.name === name)!;
      jobs.set(name, await jobFact(queues.forMember(member), member.jobId));
    }
    const facts: ReconcileFacts = { now, jobs, liveHeartbeats };
    if (workerLabelsWanted(run, members)) facts.workerLabels = (await fleet.liveWorkers()).map((w) => w.labels ?? []);
    if (integrateJobWanted(run, members, jobs)) facts.integrateJob = await jobFact(integrateQueue, integrateJobId(run.runId));
    return facts;
  }

  /** Does what the pass decided, in order. A member event the store refuses ends it: the next pass sees why. */
  private async carryOut(run: RunRecord, members: readonly MemberRecord[], actions: readonly ReconcileAction[], now: number): Promise<boolean> {
    const { store, logger } = this.deps;
    const { runId } = run;
    const member = (name: string): MemberRecord => members.find((m) => m.name === name)!;
    const apply = async (name: string, event: MemberEvent): Promise<boolean> => {
      const applied = await store.apply(runId, name, event);
      if (!applied.applied) logger.debug({ runId, member: name, event: event.type, reason: applied.reason }, 'member changed under the pass; reconciling again');
      return applied.applied;
    };
    for (let i = 0; i < actions.length; i += 1) {
      const action = actions[i]!;
      if (action.type === 'release') {
        let end = i;
        while (actions[end]?.type === 'release') end += 1;
        if (!(await this.release(run, members, actions.slice(i, end) as ReleaseAction[]))) return true;
        i = end - 1;
        continue;
      }
      switch (action.type) {
        case 'kill':
          await this.deps.watchdog.requestKill({ runId, ...action }, now);
          break;
        case 'note':
          if (!(await apply(action.member, { type: 'noted', note: action.note }))) return true;
          break;
        case 'settle':
          if (!(await apply(action.member, action.event))) return true;
          logger.info({ runId, member: action.member, outcome: action.event.outcome }, 'job ended with no worker record: settled from BullMQ');
          break;
        case 'enqueue':
          await this.enqueue(run, member(action.member));
          break;
        case 'skip':
          if (!(await apply(action.member, { type: 'skipped', reason: action.reason, at: now }))) return true;
          break;
        case 'adopt_plan':
          if (await store.materializeTeam(runId, action.team, (name) => agentJobId(runId, name))) logger.info({ runId, members: action.team.map((m) => m.name) }, 'planned team joined the run');
          return true;
        case 'request_merge_back':
          await store.requestIntegration(runId);
          await addJob(
            this.deps.integrateQueue,
            'run.integrate',
            { runId, ...(run.spec.repo ? { repo: { url: run.spec.repo.url } } : { workdir: run.workdir! }), baseCommit: run.baseCommit!, members: action.members },
            { jobId: integrateJobId(runId), attempts: 3, backoff: { type: BACKOFF_TYPE } },
          );
          logger.info({ runId, members: action.members }, 'all members succeeded: merging their branches');
          break;
        case 'announce':
          await this.deps.notifier.announce(run, action.members, action.status);
          break;
        case 'set_status':
          await store.setRunStatus(runId, action.status, now, firstStartedAt(members));
          logger.info({ runId, status: action.status }, action.status === 'succeeded' || action.status === 'failed' ? 'run ended' : 'run status');
          break;
        case 'cancel': {
          const m = member(action.member);
          if (action.removeJob) await (await this.deps.queues.forMember(m).getJob(m.jobId))?.remove().catch(() => undefined);
          await apply(action.member, { type: 'cancelled', at: now });
          break;
        }
        case 'retire':
          await store.retire(runId);
          break;
      }
    }
    return false;
  }

  /**
   * Releases members at once; false when the store refused one (the pass then runs again). Each member's
   * queued record is written before its job exists, so a fast worker's "running" is never overwritten.
   * Eight members one after another were sixteen round trips in a row.
   */
  private async release(run: RunRecord, members: readonly MemberRecord[], releases: readonly ReleaseAction[]): Promise<boolean> {
    const released = await Promise.all(
      releases.map(async ({ member: name, queue }) => {
        const applied = await this.deps.store.apply(run.runId, name, { type: 'released', queue });
        if (!applied.applied) {
          this.deps.logger.debug({ runId: run.runId, member: name, event: 'released', reason: applied.reason }, 'member changed under the pass; reconciling again');
          return false;
        }
        await this.enqueue(run, { ...members.find((m) => m.name === name)!, queue });
        return true;
      }),
    );
    return !released.includes(false);
  }

  private async enqueue(run: RunRecord, member: MemberRecord): Promise<void> {
    const job = buildAgentJob(run, member, { defaultAttempts: this.deps.config.defaultAttempts });
    const queue = this.deps.queues.get(job.queue);
    if (queue.name !== QUEUES.agent) await this.deps.redis.sadd(this.deps.keys.pools, queue.name);
    await addJob(queue, 'agent.run', job.data, job.opts);
    this.deps.logger.info({ runId: run.runId, member: member.name }, 'member released');
  }
}

/** When the run's work began: its earliest member start (a member's startedAt is its latest attempt's). */
function firstStartedAt(members: readonly MemberRecord[]): number | undefined {
  const starts = members.flatMap((m) => (m.startedAt !== undefined ? [m.startedAt] : []));
  return starts.length > 0 ? Math.min(...starts) : undefined;
}

/**
 * What a decision needs of a BullMQ job. The state is read before the job: read the other way round, a job
 * that finishes in between reads as completed with the fields of its active self, and the member is
 * settled without its result (seen in the in-process diamond story).
 */
export async function jobFact(queue: Queue, jobId: string): Promise<JobFact> {
  const state = await queue.getJobState(jobId);
  if (state === 'unknown') return { state: 'missing' };
  if (state !== 'completed' && state !== 'failed') return state === 'active' ? { state } : { state: 'waiting' };
  const job: Job | undefined = await queue.getJob(jobId);
  if (!job) return { state: 'missing' };
  const finished = job.finishedOn !== undefined ? { finishedOn: job.finishedOn } : {};
  if (state === 'completed') return { state, returnValue: job.returnvalue as unknown, ...finished };
  return { state, ...(job.failedReason ? { failedReason: job.failedReason } : {}), ...finished };
}
