import {
  AgentJobResultSchema,
  PLANNER_MEMBER,
  QUEUES,
  applyMemberEvent,
  decodePlan,
  dependencyOrder,
  deriveRunStatus,
  isFinalMemberStatus,
  poolLabels,
  poolQueueName,
  servesQueue,
  type Member,
  type MemberEvent,
  type MemberRecord,
  type RunRecord,
  type RunStatus,
} from '@reins/shared';
import { decideRelease } from './release.js';
import { heartbeatSuspects } from './watchdog.js';

/** A BullMQ job as the shell found it: only what a decision needs. */
export type JobFact =
  | { state: 'missing' }
  | { state: 'completed'; returnValue: unknown; finishedOn?: number }
  | { state: 'failed'; failedReason?: string; finishedOn?: number }
  | { state: 'active' }
  /** waiting, delayed, prioritized: on a queue, no worker holds it. */
  | { state: 'waiting' };

/** What the shell read for one pass. Each field is read only when the selectors below say it is needed. */
export interface ReconcileFacts {
  now: number;
  /** Job facts by member name, for the members `jobFactsWanted` named. */
  jobs: ReadonlyMap<string, JobFact>;
  /** Names of the `heartbeatSuspects` whose heartbeat key is still alive. */
  liveHeartbeats: ReadonlySet<string>;
  /** The labels of every live worker, when `workerLabelsWanted`. */
  workerLabels?: readonly (readonly string[])[];
  /** The run's merge-back job, when `integrateJobWanted`. */
  integrateJob?: JobFact;
}

export interface ReconcilePolicy {
  heartbeatTtlMs: number;
}

/**
 * What one pass asks the shell to do, in order. Member actions are events of the member state machine,
 * so the store may refuse one that a worker overtook; the shell then stops and reconciles again.
 */
export type ReconcileAction =
  /** Heartbeat gone and the job is active: ask its worker to kill the agent (the watchdog does it once per TTL). */
  | { type: 'kill'; member: string; jobId: string; workerId?: string }
  /** A queued member that no live worker can serve gets a note, taken back (null) once one can. */
  | { type: 'note'; member: string; note: string | null }
  /** The job ended in BullMQ and no worker recorded it (it died in between). */
  | { type: 'settle'; member: string; event: Extract<MemberEvent, { type: 'job_settled' }> }
  /** Marked queued, but the job is not there (the scheduler stopped between the two writes): add it again. */
  | { type: 'enqueue'; member: string }
  | { type: 'skip'; member: string; reason: string }
  /** Dependencies succeeded: mark it queued on `queue`, then add its job. */
  | { type: 'release'; member: string; queue: string }
  /** The planner succeeded: its team joins the run. The pass ends here; the shell reconciles again. */
  | { type: 'adopt_plan'; team: Member[] }
  /** All members of a git run succeeded: merge their branches, in dependency order. */
  | { type: 'request_merge_back'; members: string[] }
  /** Tell webhooks what there is to tell (the notifier sends each event once). */
  | { type: 'announce'; status: RunStatus; members: MemberRecord[] }
  | { type: 'set_status'; status: RunStatus }
  /** A cancelled run's member that no agent runs: remove its job (if still on a queue) and mark it cancelled. */
  | { type: 'cancel'; member: string; removeJob: boolean }
  /** Nothing is left to watch: take the run off the active set. */
  | { type: 'retire' };

/** Members whose end a pass may have to read from BullMQ, given which of them fell silent. */
export function jobFactsWanted(run: RunRecord, members: readonly MemberRecord[], silent: ReadonlySet<string>): string[] {
  return members
    .filter((m) => {
      if (isFinalMemberStatus(m.status)) return false;
      if (run.cancelled) return true;
      // A running member with a live heartbeat has a worker that records its end (and queue events wake
      // us): asking BullMQ about its job every sweep would cost a round trip per agent, for nothing.
      return m.status !== 'pending' && !(m.status === 'running' && !silent.has(m.name));
    })
    .map((m) => m.name);
}

/** Names of the running members whose heartbeat is gone. */
export function silentMembers(members: readonly MemberRecord[], liveHeartbeats: ReadonlySet<string>, now: number, heartbeatTtlMs: number): Set<string> {
  return new Set(
    heartbeatSuspects(members, now, heartbeatTtlMs)
      .filter((m) => !liveHeartbeats.has(m.name))
      .map((m) => m.name),
  );
}

const waitsInPool = (m: MemberRecord): boolean => m.status === 'queued' && m.queue !== undefined && m.queue !== QUEUES.agent;

export const workerLabelsWanted = (run: RunRecord, members: readonly MemberRecord[]): boolean => !run.cancelled && members.some(waitsInPool);

/** A run in a git workdir or repo ends with its members' branches merged (unless only the plan was asked for). */
const mergesBack = (run: RunRecord): boolean => Boolean(run.baseCommit && (run.workdir || run.spec.repo) && !run.planOnly);

/** Whether this pass may end with every member succeeded, and so must know the merge-back job. */
export function integrateJobWanted(run: RunRecord, members: readonly MemberRecord[], jobs: ReadonlyMap<string, JobFact>): boolean {
  if (run.cancelled || !mergesBack(run) || run.integration === 'done') return false;
  return members.length > 0 && members.every((m) => m.status === 'succeeded' || jobs.get(m.name)?.state === 'completed');
}

const unservableNote = (queue: string): string => `no live worker has the labels ${poolLabels(queue).join(', ')}; it waits for one`;

/** The pass being decided: the members as the actions so far leave them, and those actions. */
interface Pass {
  run: RunRecord;
  members: readonly MemberRecord[];
  facts: ReconcileFacts;
  view: Map<string, MemberRecord>;
  actions: ReconcileAction[];
}

/** Applies the event to the pass's copy of the member and asks for the action; an event the machine refuses is not asked for. */
function change(pass: Pass, name: string, event: MemberEvent, action: ReconcileAction): void {
  const applied = applyMemberEvent(pass.view.get(name)!, event);
  if (!applied.ok) return;
  pass.view.set(name, applied.member);
  pass.actions.push(action);
}

/**
 * One pass over a run, decided without touching Redis: from the run, its members and the facts the
 * shell read, the actions that move it on. Member events are applied to a local copy as they are
 * decided (with the same state machine the store runs), so a skip cascades and a settled member
 * releases its dependants within the same pass.
 */
export function reconcile(run: RunRecord, members: readonly MemberRecord[], facts: ReconcileFacts, policy: ReconcilePolicy): ReconcileAction[] {
  // A refused submission never ran and has no members: nothing moves it, and no status follows from them.
  if (run.status === 'refused') return [];
  if (run.cancelled) return reconcileCancelled(members, facts);
  const pass: Pass = { run, members, facts, view: new Map(members.map((m) => [m.name, m])), actions: [] };
  const silent = silentMembers(members, facts.liveHeartbeats, facts.now, policy.heartbeatTtlMs);
  killSilent(pass, silent);
  noteUnservable(pass);
  settleEndedJobs(pass, new Set(jobFactsWanted(run, members, silent)));
  const team = plannedTeam(run, pass.view.get(PLANNER_MEMBER));
  if (team) return [...pass.actions, { type: 'adopt_plan', team }];
  releaseOrSkip(pass);
  concludeRun(pass);
  return pass.actions;
}

function killSilent({ members, facts, actions }: Pass, silent: ReadonlySet<string>): void {
  for (const m of members) {
    if (silent.has(m.name) && facts.jobs.get(m.name)?.state === 'active') actions.push({ type: 'kill', member: m.name, jobId: m.jobId, ...(m.workerId ? { workerId: m.workerId } : {}) });
  }
}

function noteUnservable(pass: Pass): void {
  const { workerLabels } = pass.facts;
  if (!workerLabels) return;
  for (const m of pass.members.filter(waitsInPool)) {
    const servable = workerLabels.some((labels) => servesQueue(labels, m.queue!));
    const note = unservableNote(m.queue!);
    if (!servable && m.error !== note) change(pass, m.name, { type: 'noted', note }, { type: 'note', member: m.name, note });
    if (servable && m.error === note) change(pass, m.name, { type: 'noted', note: null }, { type: 'note', member: m.name, note: null });
  }
}

function settleEndedJobs(pass: Pass, wanted: ReadonlySet<string>): void {
  for (const m of pass.members) {
    const job = wanted.has(m.name) ? pass.facts.jobs.get(m.name) : undefined;
    if (job?.state === 'missing') pass.actions.push({ type: 'enqueue', member: m.name });
    else if (job?.state === 'completed' || job?.state === 'failed') {
      const event = settledEvent(pass.view.get(m.name)!, job, pass.facts.now);
      change(pass, m.name, event, { type: 'settle', member: m.name, event });
    }
  }
}

/** In harness order, so a skip cascades within the pass: a member skipped now blocks one listed later. */
function releaseOrSkip(pass: Pass): void {
  const { run, view, facts } = pass;
  for (const m of pass.members) {
    if (view.get(m.name)!.status !== 'pending') continue;
    const decision = decideRelease(m, (name) => view.get(name)?.status);
    if (decision.action === 'skip') change(pass, m.name, { type: 'skipped', reason: decision.reason, at: facts.now }, { type: 'skip', member: m.name, reason: decision.reason });
    else if (decision.action === 'release') {
      const queue = poolQueueName((run.spec.team ?? []).find((t) => t.name === m.name)?.requires ?? []);
      change(pass, m.name, { type: 'released', queue }, { type: 'release', member: m.name, queue });
    }
  }
}

/** The run's status from its members after the pass (and from the merge-back, in a git workdir). */
function concludeRun({ run, view, facts, actions }: Pass): void {
  const after = [...view.values()];
  const status = mergedStatus(run, deriveRunStatus(after, false), facts.integrateJob);
  if (status === 'merging') actions.push({ type: 'request_merge_back', members: dependencyOrder(run.spec.team ?? []).map((m) => m.name) });
  const runStatus: RunStatus = status === 'merging' || status === 'merge_pending' ? 'running' : status;
  actions.push({ type: 'announce', status: runStatus, members: after });
  if (runStatus !== run.status) actions.push({ type: 'set_status', status: runStatus });
}

function settledEvent(member: MemberRecord, job: Extract<JobFact, { state: 'completed' | 'failed' }>, now: number): Extract<MemberEvent, { type: 'job_settled' }> {
  const at = job.finishedOn ?? now;
  if (job.state === 'failed') return { type: 'job_settled', outcome: 'failed', at, error: member.error ?? job.failedReason ?? 'failed' };
  const value = AgentJobResultSchema.partial().safeParse(job.returnValue).data ?? {};
  return { type: 'job_settled', outcome: 'succeeded', at, ...(value.summary ? { summary: value.summary } : {}), ...(value.workspace ? { workspace: value.workspace } : {}) };
}

/** The planner's team, once it succeeded and before it joined the run (never for a plan-only run). */
function plannedTeam(run: RunRecord, planner: MemberRecord | undefined): Member[] | undefined {
  if (run.spec.plan !== 'auto' || run.spec.team || run.planOnly) return undefined;
  if (planner?.status !== 'succeeded' || !planner.plan) return undefined;
  return decodePlan(planner.plan);
}

/**
 * In a git workdir, a run whose members all succeeded is done only once their branches are merged into
 * reins/<run>/result (by a worker, which has the repository). Conflicts, or a merge-back job that failed
 * for good, fail the run. `merging`: ask for the merge-back; `merge_pending`: it is asked for, wait.
 */
function mergedStatus(run: RunRecord, status: RunStatus, integrateJob: JobFact | undefined): RunStatus | 'merging' | 'merge_pending' {
  if (status !== 'succeeded' || !mergesBack(run)) return status;
  if (run.integration === 'done') return run.conflicts && run.conflicts.length > 0 ? 'failed' : 'succeeded';
  if (integrateJob?.state === 'failed') return 'failed';
  // Asked for twice at most: the job id is stable, so a second add is a no-op.
  return run.integration === 'pending' && integrateJob !== undefined && integrateJob.state !== 'missing' ? 'merge_pending' : 'merging';
}

/**
 * A cancelled run: members no agent runs are cancelled now; those whose job is active are left to their
 * worker, which the control channel told. Once none is left, the run is retired.
 */
function reconcileCancelled(members: readonly MemberRecord[], facts: ReconcileFacts): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  let stillRunning = 0;
  for (const m of members) {
    if (isFinalMemberStatus(m.status)) continue;
    const job = facts.jobs.get(m.name);
    if (!job || job.state === 'active') {
      stillRunning += 1;
      continue;
    }
    actions.push({ type: 'cancel', member: m.name, removeJob: job.state === 'waiting' });
  }
  if (stillRunning === 0) actions.push({ type: 'retire' });
  return actions;
}
