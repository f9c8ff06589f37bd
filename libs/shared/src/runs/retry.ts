import type { RedisConnection } from '../redis/connection.js';
import { NotFoundError } from '../errors/not-found-error.js';
import { RetryRefusedError } from '../errors/retry-refused-error.js';
import type { AgentQueues } from '../jobs/pools.js';
import type { Keys } from '../redis/keys.js';
import type { Limits } from '../spec/harness.js';
import { deriveRunStatus, isFinalMemberStatus, type MemberStatus, type RunStatus } from './status.js';
import { memberTransition } from './member-state.js';
import type { MemberRecord, RunRecord } from './records.js';
import { RunStore } from './store.js';

export interface RetryResult {
  runId: string;
  /** The members put back to pending, in the harness file's order. */
  members: string[];
  /** The run's status after the retry: running, or queued when nothing of it had succeeded. */
  status: RunStatus;
  /** The run's limits from now on, when the retry changed them. */
  limits?: Limits;
}

export interface RetryOptions {
  /**
   * The limits the retried members run under from now on (`reins retry` reads them again from the harness
   * file, so a raised token or dollar budget lets a run that ran out go on). The agent jobs the scheduler
   * builds for the retried members take them from the run's spec.
   */
  limits?: Limits;
}

/** "runMaxTokens 3000 → 10000", one for each limit that differs; empty when none does. */
export function limitChanges(before: Limits, after: Limits): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])] as (keyof Limits)[];
  return names.filter((name) => before[name] !== after[name]).map((name) => `${name} ${before[name] ?? 'none'} → ${after[name] ?? 'none'}`);
}

/** Members a retry takes back: those that ended without succeeding. */
const RETRYABLE: ReadonlySet<MemberStatus> = new Set(['failed', 'skipped', 'cancelled']);

const MAX_TRANSACTION_TRIES = 20;

/**
 * Retries an ended run, or one member of it, from the members' cursors. The members taken back go to
 * pending, their finished BullMQ jobs are removed (Queue.add ignores a job id while a job with that id
 * exists, whatever its state), the cancel mark is cleared, and the run goes back on the active set with
 * status running or queued. The scheduler's next sweep then releases the members whose dependencies
 * succeeded, exactly as for a new run; the worker finds their cursors and resumes from them.
 *
 * Safe while a scheduler runs: only a run that has ended and left the active set is taken, so no
 * reconcile of it is under way, and the state change is one WATCHed transaction over the run and every
 * member, re-checked when anything moved in between.
 *
 * `member` retries that member (failed or cancelled) and its dependants that never ran (skipped or
 * cancelled); without it, every member that did not succeed.
 */
export async function retryRun(redis: RedisConnection, keys: Keys, queues: AgentQueues, runId: string, member?: string, options: RetryOptions = {}): Promise<RetryResult> {
  const store = new RunStore(redis, keys);
  for (let tries = 0; tries < MAX_TRANSACTION_TRIES; tries += 1) {
    const run = await store.requireRun(runId);
    if (member !== undefined && !run.members.includes(member)) {
      throw new NotFoundError(`run ${runId} has no member ${JSON.stringify(member)} (members: ${run.members.join(', ')})`);
    }
    const members = await store.getMembers(run);
    await assertEnded(redis, keys, run, members);
    const chosen = member === undefined ? members.filter((m) => RETRYABLE.has(m.status)) : withDependants(members, member);
    if (chosen.length === 0) throw new RetryRefusedError(`run ${runId} has no failed, skipped or cancelled member to retry`);

    // Jobs go first: were the transaction to land first, the scheduler could re-add a job while the old
    // one still stood, and that add would be silently ignored. A job removed for a retry that then turns
    // out stale is harmless: its member has ended, and nothing reads an ended member's job.
    for (const m of chosen) {
      if ((await queues.forMember(m).remove(m.jobId)) !== 1) {
        throw new RetryRefusedError(`the job of ${runId}/${m.name} (${m.jobId}) is still held by a worker; try again once it has stopped`);
      }
    }

    const chosenNames = new Set(chosen.map((m) => m.name));
    const after = members.map((m) => (chosenNames.has(m.name) ? { status: 'pending' as const } : m));
    const status = deriveRunStatus(after, false);

    // Everything read above must still hold when the transaction runs; otherwise read again and re-decide.
    const watched = [keys.run(runId), ...run.members.map((name) => keys.member(runId, name)), keys.activeRuns];
    await redis.watch(...watched);
    const unchanged = await stillAsRead(store, run, members);
    if (!unchanged || (await redis.sismember(keys.activeRuns, runId)) === 1) {
      await redis.unwatch();
      continue;
    }
    // The member state machine says what a retry writes; the WATCH above stands in for its status check.
    const retried = memberTransition({ type: 'retried' });
    const tx = redis.multi();
    for (const m of chosen) {
      const key = keys.member(runId, m.name);
      tx.hset(key, retried.set);
      tx.hdel(key, ...retried.remove);
      tx.publish(keys.runEventsChannel, JSON.stringify({ runId, member: m.name, status: 'pending' }));
    }
    const limits = options.limits && limitChanges(run.spec.limits ?? {}, options.limits).length > 0 ? options.limits : undefined;
    tx.hset(keys.run(runId), { status, cancelled: '0', ...(limits ? { spec: JSON.stringify({ ...run.spec, limits }) } : {}) });
    tx.hdel(keys.run(runId), 'endedAt');
    tx.sadd(keys.activeRuns, runId);
    tx.publish(keys.runEventsChannel, JSON.stringify({ runId, status, retried: [...chosenNames] }));
    if ((await tx.exec()) !== null) {
      return { runId, members: run.members.filter((name) => chosenNames.has(name)), status, ...(limits ? { limits } : {}) };
    }
  }
  throw new RetryRefusedError(`run ${runId} kept changing while it was being retried; try again`);
}

/** Refuses a run that has not ended, or has ended well. */
async function assertEnded(redis: RedisConnection, keys: Keys, run: RunRecord, members: readonly MemberRecord[]): Promise<void> {
  if (run.status === 'succeeded') throw new RetryRefusedError(`run ${run.runId} already succeeded; there is nothing to retry`);
  if (run.status === 'refused') throw new RetryRefusedError(`run ${run.runId} was refused by the scheduler's checks and never ran (reins status ${run.runId} says why); fix the harness and submit it again`);
  if (run.status === 'queued' || run.status === 'running') {
    throw new RetryRefusedError(`run ${run.runId} is still ${run.status}; retry it once it has ended (or cancel it first)`);
  }
  const unfinished = members.filter((m) => !isFinalMemberStatus(m.status));
  // A cancelled run stays on the active set until its scheduler has stopped every member.
  if (unfinished.length > 0 || (await redis.sismember(keys.activeRuns, run.runId)) === 1) {
    const detail = unfinished.length > 0 ? `: ${unfinished.map((m) => `${m.name} is ${m.status}`).join(', ')}` : '';
    throw new RetryRefusedError(`run ${run.runId} is ${run.status} but still stopping${detail}; try again in a moment`);
  }
}

/** The named member and, transitively, its dependants that never ran because of it. */
function withDependants(members: readonly MemberRecord[], name: string): MemberRecord[] {
  const target = members.find((m) => m.name === name);
  if (!target) throw new NotFoundError(`run has no member ${JSON.stringify(name)}`);
  if (target.status === 'succeeded') throw new RetryRefusedError(`member ${name} of run ${target.runId} already succeeded; there is nothing to retry`);
  if (target.status === 'skipped') {
    const blockers = target.dependsOn.filter((dep) => members.find((m) => m.name === dep)?.status !== 'succeeded');
    throw new RetryRefusedError(
      `member ${name} of run ${target.runId} was skipped because ${blockers.join(', ') || 'a dependency'} did not succeed; retry ${blockers[0] ?? 'that member'} (its skipped dependants go with it)`,
    );
  }
  const chosen = new Set([name]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of members) {
      if (chosen.has(m.name) || (m.status !== 'skipped' && m.status !== 'cancelled')) continue;
      if (m.dependsOn.some((dep) => chosen.has(dep))) {
        chosen.add(m.name);
        grew = true;
      }
    }
  }
  return members.filter((m) => chosen.has(m.name));
}

/** True when the run and every member are as first read (status, cancel mark, epoch). */
async function stillAsRead(store: RunStore, run: RunRecord, members: readonly MemberRecord[]): Promise<boolean> {
  const now = await store.getRun(run.runId);
  if (!now || now.status !== run.status || now.cancelled !== run.cancelled) return false;
  const current = await store.getMembers(now);
  return members.every((m) => {
    const c = current.find((x) => x.name === m.name);
    return c !== undefined && c.status === m.status && c.epoch === m.epoch;
  });
}
