import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { describeTokenBudget, hasTokenCaps, parseJob, tokenBudgetReached, type AgentJobData, type MemberRecord } from '@reins/shared';
import { TmuxDriver } from '../tmux/driver.js';
import { concludeStall } from './conclude.js';
import { limitFor, tokenCaps, type AttemptDeps } from './deps.js';
import { RetryError } from './retry-error.js';

/** What admission found about the member before its attempt: the record, or the job is already done. */
export type Admitted = { kind: 'go'; before: MemberRecord | undefined; attempt: number } | { kind: 'done'; member: MemberRecord };

/**
 * The checks before an attempt may start: the run exists and is not cancelled, the member has not already
 * succeeded (a worker that died after recording success but before acknowledging the job must not run it
 * again), no earlier agent of it is alive, and a stall of the last attempt is recorded. Returns the
 * member record and the attempt's number.
 */
export async function admitJob(deps: AttemptDeps, job: Job, data: AgentJobData): Promise<Admitted> {
  const { runId, member } = data;
  const run = await deps.store.getRun(runId);
  if (!run) throw new UnrecoverableError(`run ${runId} does not exist`);
  if (run.cancelled) {
    await deps.store.apply(runId, member, { type: 'cancelled', at: deps.now() });
    throw new UnrecoverableError('run cancelled');
  }
  const before = await deps.store.getMember(runId, member);
  if (before?.status === 'succeeded') return { kind: 'done', member: before };
  await waitForPreviousAgent(deps, job.id!, before);
  if ((job.stalledCounter ?? 0) > (before?.stallsSeen ?? 0) && before?.epoch !== undefined) await recordStall(deps, job, before);
  return { kind: 'go', before, attempt: attemptNumber(job.attemptsMade, before) };
}

/**
 * The attempt's number: one past BullMQ's count of failed attempts, or past the member's own count when that
 * is ahead. It is ahead after a Redis outage: the worker recorded the attempt on the member, then could not
 * tell BullMQ (the lock was gone), and the job stalled. The member's count is this job's only while its last
 * attempt is running or retrying: `reins retry` keeps the old count on a member whose new job starts at 1.
 */
export function attemptNumber(attemptsMade: number, before: Pick<MemberRecord, 'status' | 'attempts'> | undefined): number {
  const membersOwn = before && (before.status === 'running' || before.status === 'retrying') ? before.attempts + 1 : 0;
  return Math.max(attemptsMade + 1, membersOwn);
}

/**
 * Records a stall of the member's last attempt and throws a RetryError that retries it at once. When the
 * member refuses the stall (that epoch is already recorded, or the member is no longer running), it
 * returns: the attempt was counted when it was recorded, and throwing would count it twice.
 */
async function recordStall(deps: AttemptDeps, job: Job, before: MemberRecord): Promise<void> {
  const now = deps.now();
  const { event, disposition } = concludeStall({
    attempt: before.attempts,
    maxAttempts: job.opts.attempts ?? 1,
    epoch: before.epoch!,
    startedAt: before.startedAt ?? now,
    endedAt: now,
    workerId: before.workerId ?? '?',
    host: before.host ?? '?',
    stalledCounter: job.stalledCounter,
  });
  const applied = await deps.store.apply(before.runId, before.name, event!, { epoch: before.epoch! });
  const log = deps.logger.child({ jobId: job.id, attempt: before.attempts, epoch: before.epoch });
  if (!applied.applied) {
    log.info({ reason: applied.reason }, 'stall of an attempt already recorded: going on with the next attempt');
    return;
  }
  log.warn({ final: disposition.kind === 'fail' }, disposition.kind === 'retry' || disposition.kind === 'fail' ? disposition.message : 'stalled');
  if (disposition.kind === 'fail') throw new UnrecoverableError(disposition.message);
  throw new RetryError(disposition.kind === 'retry' ? disposition.message : 'stalled', 0);
}

/**
 * Waits until no earlier attempt's agent can be alive: its heartbeat has expired or was cleared. An
 * orphaned agent stops itself when its lease runs out, a tick before its heartbeat expires.
 */
async function waitForPreviousAgent(deps: AttemptDeps, jobId: string, before: MemberRecord | undefined): Promise<void> {
  const { heartbeatTtlMs, monitorIntervalMs } = deps.timings;
  if (before?.host === deps.worker.host && before.tmuxSocket && before.tmuxSession && before.tmuxSocket !== deps.tmux.socketPath) {
    await new TmuxDriver(before.tmuxSocket).kill(before.tmuxSession).catch(() => false);
  }
  const deadline = deps.now() + heartbeatTtlMs + 2 * monitorIntervalMs;
  while (await deps.heartbeats.read(jobId)) {
    if (deps.now() > deadline) throw new Error(`an earlier attempt of ${jobId} still sends heartbeats`);
    await sleep(Math.min(250, monitorIntervalMs));
  }
}

/**
 * Fleet-wide admission: an agent whose concurrency key is at its cap waits for a slot. Waiting hands the job
 * back (no attempt used) and says why on the member. Returns when to try again, or undefined to go ahead
 * (holding a slot). A usage limit pauses the account, not the key (attempt/account.ts).
 */
export async function admitUnderLimit(deps: AttemptDeps, jobId: string, data: AgentJobData, random: () => number = Math.random): Promise<number | undefined> {
  const limit = limitFor(deps.config, data);
  if (!limit) return undefined;
  const now = deps.now();
  const jitter = Math.floor(random() * deps.timings.monitorIntervalMs);
  if (limit.max !== undefined && !(await deps.limits.acquire(limit.key, jobId, limit.max, now))) {
    await recordWait(deps, data, `waiting for one of ${limit.max} slots under "${limit.key}"`);
    return now + deps.timings.monitorIntervalMs + jitter;
  }
  return undefined;
}

/**
 * Says on the member why it waits, and, when the reason is new, leaves a `wait` event: the member record
 * keeps only the wait under way, the event tail keeps when each began (the board's timeline reads it).
 */
export async function recordWait(deps: AttemptDeps, data: AgentJobData, reason: string, retryAt?: number): Promise<void> {
  const before = await deps.store.getMember(data.runId, data.member);
  await deps.store.apply(data.runId, data.member, { type: 'waiting', reason, ...(retryAt !== undefined ? { retryAt } : {}) });
  if (before?.status !== 'queued' || before.error !== reason) await deps.store.appendEvents(data.runId, data.member, [{ at: deps.now(), kind: 'wait', text: reason }]);
}

/**
 * Takes this attempt's reservation from the run's and the day's budgets. When either would go over, the
 * member fails with class "budget" (the run then ends budget_exhausted; `reins retry` continues it once
 * the budget is raised). Returns whether a reservation is held.
 */
export async function reserveBudget(deps: AttemptDeps, jobId: string, data: AgentJobData): Promise<boolean> {
  const { config } = deps;
  const caps = { runUsd: data.limits.runBudgetUsd, dayUsd: config.dailyBudgetUsd };
  if (caps.runUsd === undefined && caps.dayUsd === undefined) return false;
  const amount = data.limits.maxBudgetUsd ?? config.budgetReserveUsd;
  const reservation = await deps.budgets.reserve(data.runId, jobId, amount, caps);
  if (reservation.ok) return true;
  const usd = (n: number) => `$${n.toFixed(4)}`;
  return refuseForBudget(
    deps,
    jobId,
    data,
    `the ${reservation.budget === 'run' ? "run's" : "fleet's daily"} budget would be exceeded: ${usd(reservation.spentUsd)} spent and ${usd(reservation.reservedUsd)} reserved of ${usd(reservation.capUsd)}, and this member reserves ${usd(amount)}`,
  );
}

/**
 * Refuses to start an agent whose member, run or day has spent its tokens (a cap reached, not only passed:
 * no agent can start on nothing). Tokens are not reserved, as dollars are: no one knows how many an agent
 * will use, so the monitor stops one that takes a total over its cap (monitor.ts, TokenMeter).
 */
export async function refuseSpentTokens(deps: AttemptDeps, jobId: string, data: AgentJobData): Promise<void> {
  const caps = tokenCaps(deps.config, data);
  if (!hasTokenCaps(caps)) return;
  const reached = tokenBudgetReached(await deps.budgets.tokensSpent(data.runId, data.member, deps.now()), caps, 'start');
  if (reached) await refuseForBudget(deps, jobId, data, describeTokenBudget(reached, 'start'));
}

/** The member fails with class "budget" before its agent starts; the run then ends budget_exhausted. */
async function refuseForBudget(deps: AttemptDeps, jobId: string, data: AgentJobData, message: string): Promise<never> {
  const limit = limitFor(deps.config, data);
  if (limit?.max !== undefined) await deps.limits.release(limit.key, jobId);
  await deps.store.apply(data.runId, data.member, { type: 'budget_refused', message, at: deps.now() });
  throw new UnrecoverableError(`budget: ${message}`);
}

/**
 * A fetch already under way when the worker stopped taking jobs (degraded) still hands it a job (BullMQ's
 * pause does not abort a blocking fetch: seen in the full-disk test): it goes straight back to the wait list,
 * using no attempt, for any worker with room, and the member says why this one did not take it.
 */
export async function handBackToWait(deps: AttemptDeps, job: Job, token: string, reason: string): Promise<never> {
  await recordWait(deps, parseJob('agent.run', job), reason).catch((error: unknown) => deps.logger.warn({ err: error, jobId: job.id }, 'could not say why the member waits'));
  await job.moveToWait(token);
  throw new WaitingError();
}
