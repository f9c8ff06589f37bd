import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { backoffDelayMs, isStaleEpochError, type AgentJobData, type AgentJobResult, type AttemptMeta } from '@reins/shared';
import { diffStat } from '../git/worktree.js';
import { credentialAdvice } from '../accounts.js';
import type { AgentOutcome } from '../claude/outcome.js';
import { nextAccountAt } from './account.js';
import { classifyEnd, conclude, type AttemptContext, type Conclusion, type Disposition, type Verdict } from './conclude.js';
import type { AttemptDeps } from './deps.js';
import { publishWork } from './publish.js';
import type { MonitoredEnd } from './monitor.js';
import { RetryError } from './retry-error.js';

/**
 * Decides (conclude.ts) and records how an attempt ended: publishes a success's work (publish.ts), gathers
 * what the decision needs, writes its
 * member event through a Redis outage, pauses the concurrency key on a rate limit, and returns the
 * disposition for the caller to carry out. A superseded attempt's outcome is dropped.
 */
export async function settleAttempt(deps: AttemptDeps, job: Job, meta: AttemptMeta, data: AgentJobData, end: MonitoredEnd, checked: Verdict = { kind: 'done' }): Promise<Disposition> {
  const { runId, member, epoch, attempt } = meta;
  const classified = classifyEnd(data.agent.kind, end);
  // Work is published (pushed) before its success is recorded, so a dependant on any host finds it.
  const verdict = classified.ok && checked.kind === 'done' ? await withPublished(checked, await publishWork(deps, data, meta.workspace)) : checked;
  const endedAt = deps.now();
  const gitWork = classified.ok && meta.workspace.kind === 'git-worktree' && data.baseCommit !== undefined;
  const conclusion = conclude(
    classified,
    verdict,
    {
      attempt,
      maxAttempts: job.opts.attempts ?? 1,
      epoch,
      startedAt: meta.startedAt,
      endedAt,
      ...deps.worker,
      workspace: meta.workspace.path,
      figures: {
        exitCode: end.exitCode,
        sessionId: end.sessionId ?? end.result?.session_id ?? meta.sessionId ?? null,
        costUsd: end.result?.total_cost_usd ?? null,
        numTurns: end.result?.num_turns ?? null,
        ...(end.memberTokens !== undefined ? { tokens: end.memberTokens } : {}),
      },
      backoffMs: backoffDelayMs(deps.config.backoff, attempt),
      rateLimitWaitMs: backoffDelayMs(deps.config.backoff, attempt),
      diffStat: gitWork ? await diffStat(meta.workspace.path, data.baseCommit!, deps.agentUser) : undefined,
      account: await accountAfter(deps, meta, data, classified),
    },
    end.result?.result || end.outputTail,
  );
  const log = deps.logger.child({ runId, member, jobId: meta.jobId, attempt, epoch });
  try {
    const record = conclusion.event && 'record' in conclusion.event ? conclusion.event.record : undefined;
    if (record && record.outcome !== 'succeeded') await job.log(`attempt ${attempt} ended (${record.outcome}): ${record.message}`);
    await recordConclusion(deps, runId, member, epoch, conclusion);
    const figures = { durationMs: endedAt - meta.startedAt, costUsd: end.result?.total_cost_usd, numTurns: end.result?.num_turns, tokens: end.tokens };
    // "agent succeeded" is counted by the soak test: one line per completion.
    if (conclusion.disposition.kind === 'complete') log.info(figures, 'agent succeeded');
    else log.warn({ ...figures, disposition: conclusion.disposition.kind }, describeDisposition(conclusion.disposition));
    return conclusion.disposition;
  } catch (error) {
    if (isStaleEpochError(error)) {
      log.warn({ err: error }, 'attempt superseded while concluding; its outcome is dropped');
      return { kind: 'fail', message: `superseded: ${(error as Error).message}` };
    }
    throw error;
  } finally {
    await deps.heartbeats.clear(meta.jobId, epoch).catch(() => undefined);
  }
}

/**
 * What the attempt's end says about its account, written fleet-wide before the decision: a usage limit pauses it until the reset (the rejected window's, else the one printed, else the backoff); refused
 * credentials mark it broken. Then: when another account the member may use takes agents (conclude.ts moves
 * the member there, or waits for it, using no attempt).
 */
async function accountAfter(deps: AttemptDeps, meta: AttemptMeta, data: AgentJobData, classified: AgentOutcome): Promise<AttemptContext['account']> {
  const held = deps.accounts.held.find((a) => a.name === meta.account);
  if (!held) return undefined;
  const state = deps.accounts.state;
  const now = deps.now();
  if (classified.ok || (classified.failureClass !== 'rate_limit' && classified.failureClass !== 'auth')) return { name: held.name, nextAt: undefined, advice: '' };
  if (classified.failureClass === 'rate_limit') {
    const until = classified.resetAt ?? now + backoffDelayMs(deps.config.backoff, meta.attempt);
    await state.pause(held.name, until, classified.message, now);
  } else {
    await state.markBroken(held.name, classified.message, held.fingerprint, now);
  }
  return { name: held.name, nextAt: await nextAccountAt(deps, data, classified.failureClass === 'auth' ? held.name : undefined), advice: credentialAdvice(held) };
}

const withPublished = (checked: Verdict, published: Verdict): Verdict => (published.kind === 'done' ? { ...checked, ...published } : published);

/** Writes a conclusion's member event, fenced by the attempt's epoch; a refused event is logged, not thrown. */
export async function recordConclusion(deps: AttemptDeps, runId: string, member: string, epoch: number, conclusion: Conclusion): Promise<void> {
  const { event } = conclusion;
  if (!event) return;
  const applied = await persist(deps, () => deps.store.apply(runId, member, event, { epoch }));
  if (!applied.applied) deps.logger.warn({ runId, member, epoch, event: event.type, reason: applied.reason }, 'member event refused');
}

/** Retries a state write through a Redis outage (restart, failover); gives up after two heartbeat TTLs. */
export async function persist<T>(deps: Pick<AttemptDeps, 'timings' | 'now'>, write: () => Promise<T>): Promise<T> {
  const deadline = deps.now() + 2 * deps.timings.heartbeatTtlMs;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (isStaleEpochError(error) || deps.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

export function describeDisposition(disposition: Disposition): string {
  switch (disposition.kind) {
    case 'complete':
      return 'succeeded';
    case 'retry':
      return `${disposition.message} (retry in ${disposition.delayMs} ms)`;
    case 'wait':
      return `${disposition.why === 'rate_limit' ? 'rate limited' : disposition.why === 'account' ? 'its account was refused: another takes it over' : 'handed back'}: waits until ${new Date(disposition.untilMs).toISOString()}, no attempt used`;
    case 'fail':
      return `failed: ${disposition.message}`;
  }
}

/** The error that tells BullMQ a retry (with the disposition's delay) or a failure for good. */
export function dispositionError(disposition: Extract<Disposition, { kind: 'retry' | 'fail' }>): Error {
  return disposition.kind === 'retry' ? new RetryError(disposition.message, disposition.delayMs) : new UnrecoverableError(disposition.message);
}

/** Carries out a disposition inside the BullMQ processor: return the result, or throw what moves the job. */
export async function carryOut(job: Job, token: string, disposition: Disposition): Promise<AgentJobResult> {
  switch (disposition.kind) {
    case 'complete':
      return disposition.result;
    case 'wait':
      await job.moveToDelayed(disposition.untilMs, token);
      throw new DelayedError();
    default:
      throw dispositionError(disposition);
  }
}

/** Carries out a disposition for a job this worker adopted (no processor holds it: move it by hand). */
export async function carryOutAdopted(job: Job, token: string, disposition: Disposition): Promise<void> {
  switch (disposition.kind) {
    case 'complete':
      await job.moveToCompleted(disposition.result, token, false);
      return;
    case 'wait':
      await job.moveToDelayed(disposition.untilMs, token);
      return;
    default:
      await job.moveToFailed(dispositionError(disposition), token, false);
  }
}
