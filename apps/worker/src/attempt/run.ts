import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { backoffDelayMs, isStaleEpochError, parseJob, type AgentJobData, type AgentJobResult, type MemberRecord } from '@reins/shared';
import { isDiskFull } from '../disk-space.js';
import { admitAccount, type AccountAdmission } from './account.js';
import { admitJob, admitUnderLimit, recordWait, refuseSpentTokens, reserveBudget } from './admission.js';
import { classifyEnd, concludeBroken, concludeDiskFull, type AttemptContext, type Disposition, type Verdict } from './conclude.js';
import { limitFor, type AttemptDeps } from './deps.js';
import { launchRound } from './launch.js';
import { monitorAgent, type MonitoredEnd } from './monitor.js';
import { prepareAttempt, type PreparedAttempt } from './prepare.js';
import { ClassifiedFailure } from './retry-error.js';
import { carryOut, recordConclusion, settleAttempt } from './settle.js';
import { verdictAfterRound } from './verdict.js';
import type { AgentUser } from '../agent-user.js';

/**
 * One agent job, admitted to one of this worker's slots: admission (run, member, stall, concurrency key,
 * budget), preparation (workspace, cursor, epoch), the rounds (launch, monitor, verdict: verify fix rounds
 * and planner retries), then the conclusion (publishing the work first), recorded and carried out on the BullMQ job.
 */
export async function runAgentJob(deps: AttemptDeps, job: Job, token: string): Promise<AgentJobResult> {
  const data = parseJob('agent.run', job);
  const admitted = await admitJob(deps, job, data);
  if (admitted.kind === 'done') return resultFromRecord(admitted.member);
  const waitUntil = await admitUnderLimit(deps, job.id!, data);
  if (waitUntil !== undefined) {
    await job.moveToDelayed(waitUntil, token);
    throw new DelayedError();
  }
  await refuseSpentTokens(deps, job.id!, data);
  const account = await admitAccount(deps, job.id!, data);
  if (account.kind !== 'go') await notAdmitted(deps, job, token, data, account);
  const held = account.kind === 'go' ? account.account : undefined;
  const reserved = await reserveBudget(deps, job.id!, data).catch(async (error: unknown) => {
    if (held) await deps.accounts.state.release(held.name, job.id!);
    throw error;
  });
  const spent = { usd: 0, tokens: 0 };
  let disposition: Disposition;
  let prepared: PreparedAttempt | undefined;
  let user: AgentUser | undefined;
  try {
    // The user its agent runs as, for the whole attempt: its workspace, home and socket are that user's.
    user = await deps.agentUsers.take();
    const own = user ? { ...deps, agentUser: user } : deps;
    prepared = await prepareAttempt(own, job, token, data, admitted.attempt, held?.name);
    if (prepared.failure) throw prepared.failure;
    // A resumed session's total_cost_usd counts its earlier runs too: each round is charged what it added.
    const sessionBefore = admitted.before?.sessionId !== undefined && admitted.before.sessionId === prepared.first.resume ? (admitted.before.costUsd ?? 0) : 0;
    disposition = await runRounds(own, job, data, prepared, spent, sessionBefore);
  } catch (error) {
    if (isDiskFull(error)) await handBackDiskFull(deps, job, token, data, prepared, error);
    // An attempt that began but could not run (tmux refused) is still an attempt: keep it.
    if (prepared && !(error instanceof DelayedError) && !isStaleEpochError(error)) await recordBroken(deps, job, data, prepared, error);
    throw error;
  } finally {
    await deps.agentUsers.release(user).catch((error: unknown) => deps.logger.warn({ err: error }, 'could not give back the agent user'));
    // The real cost settles the reservation, whatever became of the attempt.
    if (reserved) await deps.budgets.settle(data.runId, job.id!, spent.usd).catch((error: unknown) => deps.logger.error({ err: error }, 'budget settlement failed'));
    if (held) {
      await deps.accounts.state.addUsage(held.name, { tokens: spent.tokens, costUsd: spent.usd }).catch(() => undefined);
      await deps.accounts.state.release(held.name, job.id!).catch(() => undefined);
    }
  }
  return carryOut(job, token, disposition);
}

/**
 * No account to start under: the job waits (moved to delayed, no attempt used), or, every account it may
 * use here being broken, the member fails at once, class auth, saying what to fix. Throws what moves the job.
 */
async function notAdmitted(deps: AttemptDeps, job: Job, token: string, data: AgentJobData, account: Exclude<AccountAdmission, { kind: 'go' }>): Promise<never> {
  const limit = limitFor(deps.config, data);
  if (limit?.max !== undefined) await deps.limits.release(limit.key, job.id!);
  if (account.kind === 'wait') {
    await job.moveToDelayed(account.untilMs, token);
    throw new DelayedError();
  }
  await deps.store.apply(data.runId, data.member, { type: 'account_refused', message: account.message, at: deps.now() });
  throw new UnrecoverableError(`auth: ${account.message}`);
}

/** The attempt's rounds: after a round that succeeded, the verdict may ask for another (a fix round, a plan retry). */
async function runRounds(deps: AttemptDeps, job: Job, data: AgentJobData, prepared: PreparedAttempt, spent: { usd: number; tokens: number }, sessionBefore: number): Promise<Disposition> {
  let sessionCost = sessionBefore;
  /** What a round added to the session's cost (Claude Code reports the session's total so far). */
  const charge = (end: MonitoredEnd) => {
    spent.tokens += end.tokens;
    const total = end.result?.total_cost_usd;
    if (total === undefined) return;
    spent.usd += Math.max(0, total - sessionCost);
    sessionCost = total;
  };
  let meta = await launchRound(deps, job, prepared, data, 1, prepared.first);
  let end = await monitorAgent(deps, job, meta, data, { adopted: false });
  charge(end);
  let verdict: Verdict = { kind: 'done' };
  for (let round = 1; classifyEnd(data.agent.kind, end).ok; round += 1) {
    verdict = await verdictAfterRound(deps, data, prepared.workspace.path, end, round);
    if (verdict.kind !== 'again') break;
    meta = await launchRound(deps, job, prepared, data, round + 1, { prompt: verdict.prompt, resume: meta.sessionId });
    const before = end;
    end = await monitorAgent(deps, job, meta, data, { adopted: false });
    // A round that counted no tokens leaves the member's total where the last one left it.
    if (end.memberTokens === undefined && before.memberTokens !== undefined) end = { ...end, memberTokens: before.memberTokens };
    charge(end);
  }
  return settleAttempt(deps, job, meta, data, end, verdict);
}

/** What the decision knows of an attempt that began (it took its epoch) but did not get to run. */
function unranContext(deps: AttemptDeps, job: Job, prepared: PreparedAttempt): AttemptContext {
  const now = deps.now();
  return {
    attempt: prepared.attempt,
    maxAttempts: job.opts.attempts ?? 1,
    epoch: prepared.epoch,
    startedAt: now,
    endedAt: now,
    ...deps.worker,
    workspace: prepared.workspace.path,
    figures: { exitCode: null, sessionId: null, costUsd: null, numTurns: null },
    backoffMs: backoffDelayMs(deps.config.backoff, prepared.attempt),
    rateLimitWaitMs: 0,
  };
}

const firstLine = (error: unknown): string => (error as Error).message?.split('\n')[0] ?? String(error);

/**
 * A step found no room in the data dir (ENOSPC preparing the workspace, writing the attempt files): the
 * job goes back delayed without using an attempt, the member says why it waits, and the worker measures
 * its disk at once (under its floor it takes no more jobs). Measured before this: a full disk burned every
 * attempt of each job the worker took, in seconds. Throws DelayedError, as admission does.
 */
async function handBackDiskFull(deps: AttemptDeps, job: Job, token: string, data: AgentJobData, prepared: PreparedAttempt | undefined, error: unknown): Promise<never> {
  deps.diskFull();
  const untilMs = deps.now() + deps.config.backoff.baseMs + Math.floor(Math.random() * deps.timings.monitorIntervalMs);
  const reason = `disk full on worker ${deps.worker.workerId} (${deps.worker.host}): ${firstLine(error)}`;
  deps.logger.warn({ jobId: job.id, err: firstLine(error), attempt: prepared?.attempt }, 'no room in the data dir: the job goes back without using an attempt');
  const limit = limitFor(deps.config, data);
  if (limit?.max !== undefined) await deps.limits.release(limit.key, job.id!).catch(() => undefined);
  // Once the attempt took its epoch the member is running: it is handed back, fenced by that epoch.
  if (prepared) await recordConclusion(deps, data.runId, data.member, prepared.epoch, concludeDiskFull(unranContext(deps, job, prepared), reason, untilMs));
  else await recordWait(deps, data, `${reason}; it waits for room, no attempt used`, untilMs);
  await job.moveToDelayed(untilMs, token);
  throw new DelayedError();
}

async function recordBroken(deps: AttemptDeps, job: Job, data: AgentJobData, prepared: PreparedAttempt, error: unknown): Promise<void> {
  const errorText = firstLine(error);
  const conclusion = concludeBroken(
    unranContext(deps, job, prepared),
    error instanceof ClassifiedFailure ? (error as Error).message : errorText,
    error instanceof UnrecoverableError,
    error instanceof ClassifiedFailure ? error.failureClass : undefined,
  );
  try {
    await recordConclusion(deps, data.runId, data.member, prepared.epoch, conclusion);
  } catch (recordError) {
    // The error itself still goes to BullMQ, as it was thrown: the record is the member's view of it.
    deps.logger.warn({ err: recordError }, 'could not record the broken attempt');
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
    ...(m.tokens !== undefined ? { tokens: m.tokens } : {}),
    durationMs: m.durationMs ?? 0,
    workspace: m.workspace ?? '',
  };
}
