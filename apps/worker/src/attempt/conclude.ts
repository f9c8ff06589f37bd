import { encodePlan, UNRECOVERABLE_CLASSES, type AgentJobResult, type AttemptFigures, type AttemptRecord, type FailureClass, type Member, type MemberEvent } from '@reins/shared';
import { classifyClaude, classifyCommand, type AgentOutcome } from '../claude/outcome.js';
import type { AttemptEnd, StopReason } from './watch.js';

/**
 * What the checks after a successful round decided (verdict.ts, publish.ts): done (with a planner's team,
 * or the member's pushed commit), another round with this prompt, or a failure of the member's own making.
 */
export type Verdict = { kind: 'done'; plan?: Member[]; commit?: string } | { kind: 'again'; prompt: string } | { kind: 'fail'; failureClass: FailureClass; message: string };

/**
 * What becomes of the BullMQ job once its attempt ended:
 * - complete: the job completes with this result
 * - retry:    the attempt is used; the next one starts after delayMs (0 when the worker, not the agent, was lost)
 * - wait:     no attempt used; the job comes back at untilMs (a rate limit, a hand-back on shutdown or a full disk)
 * - fail:     the job fails for good
 */
export type Disposition =
  | { kind: 'complete'; result: AgentJobResult }
  | { kind: 'retry'; delayMs: number; message: string }
  | { kind: 'wait'; untilMs: number; why: 'rate_limit' | 'account' | 'shutdown' | 'disk_full' }
  | { kind: 'fail'; message: string };

/** A decision: what the job does next, and the member event that records it (none when nothing is to be written). */
export interface Conclusion {
  disposition: Disposition;
  event: MemberEvent | undefined;
}

/** What the decision needs to know about the attempt, gathered by the shell. */
export interface AttemptContext {
  attempt: number;
  maxAttempts: number;
  epoch: number;
  startedAt: number;
  endedAt: number;
  workerId: string;
  host: string;
  /** The workspace folder, for the job result. */
  workspace: string;
  figures: Required<Pick<AttemptFigures, 'exitCode' | 'sessionId' | 'costUsd' | 'numTurns'>> & Pick<AttemptFigures, 'tokens'>;
  /** The agent's backoff before another attempt (jittered by the shell, so this stays pure). */
  backoffMs: number;
  /** How long to wait out a rate limit whose reset time the agent did not print. */
  rateLimitWaitMs: number;
  /** The member's work since the run's base (`git diff --shortstat`), for a git worktree. */
  diffStat?: string | undefined;
  /**
   * The Claude account it ran under: when another account the member may use takes agents again (nextAt,
   * epoch ms; undefined: none will), and what to tell the user when its credentials were refused.
   */
  account?: { name: string; nextAt: number | undefined; advice: string } | undefined;
}

/** Stops by the worker decide the class, whatever the agent printed before it was stopped. */
const STOP_CLASSES: Record<StopReason, [FailureClass, string]> = {
  cancelled: ['cancelled', 'the run was cancelled'],
  shutdown: ['shutdown', 'the worker shut down'],
  timeout: ['timeout', 'the wall-clock limit was reached; the session was killed'],
  hang: ['hang', 'no output and no tool activity for the idle timeout; the session was killed'],
  fenced: ['stalled', 'the worker lost Redis for longer than its lease and stopped the agent'],
  killed: ['stalled', 'the heartbeat was missing; the scheduler had the session killed'],
  auth: ['auth', 'the API refused the credentials (authentication_failed); the agent was stopped rather than left to retry them'],
  budget: ['budget', 'a token budget ran out; the session was killed'],
};

/** How an attempt's round ended, classified: a stop by the worker first, then what the agent printed. */
export function classifyEnd(agentKind: 'claude' | 'command', end: AttemptEnd): AgentOutcome {
  const printed = agentKind === 'claude' ? classifyClaude(end) : classifyCommand(end);
  if (end.stoppedBy === undefined) return printed;
  const [failureClass, message] = STOP_CLASSES[end.stoppedBy];
  return { ok: false, failureClass, message: end.stopMessage ?? message, retryable: !UNRECOVERABLE_CLASSES.has(failureClass), result: printed.result, exitCode: printed.exitCode };
}

const attemptRecord = (ctx: AttemptContext, outcome: string, message: string): AttemptRecord => ({
  attempt: ctx.attempt,
  epoch: ctx.epoch,
  outcome,
  message,
  startedAt: ctx.startedAt,
  endedAt: ctx.endedAt,
  workerId: ctx.workerId,
  host: ctx.host,
  ...(ctx.account ? { account: ctx.account.name } : {}),
});

/**
 * A failed attempt that used its attempt: retried after the backoff (at once for a lost worker, class
 * `stalled`: not the agent's fault), or the member fails when no attempt is left or no retry can help.
 */
function failedAttempt(ctx: AttemptContext, failureClass: FailureClass, message: string, retryable: boolean, extra: { stallsSeen?: number; figures?: AttemptFigures } = {}): Conclusion {
  const final = !retryable || ctx.attempt >= ctx.maxAttempts;
  const event: MemberEvent = { type: 'attempt_failed', record: attemptRecord(ctx, failureClass, message), final, ...extra };
  const text = `${failureClass}: ${message}`;
  if (final) return { event, disposition: { kind: 'fail', message: text } };
  return { event, disposition: { kind: 'retry', delayMs: failureClass === 'stalled' ? 0 : ctx.backoffMs, message: text } };
}

/**
 * Decides what becomes of an attempt that ran: from its classified end and the verdict of the checks after
 * it, to the job's disposition and the member event that records it. Pure: no Redis, no clock, no process.
 */
export function conclude(classified: AgentOutcome, verdict: Verdict, ctx: AttemptContext, summaryText: string | undefined): Conclusion {
  const outcome: AgentOutcome =
    classified.ok && verdict.kind === 'fail' ? { ok: false, failureClass: verdict.failureClass, message: verdict.message, retryable: false, result: classified.result, exitCode: classified.exitCode } : classified;
  const figures: AttemptFigures = { ...ctx.figures, durationMs: ctx.endedAt - ctx.startedAt };
  if (outcome.ok) {
    const summary = (summaryText ?? '').trim() || 'done';
    const plan = verdict.kind === 'done' && verdict.plan ? { plan: encodePlan(verdict.plan) } : {};
    const event: MemberEvent = {
      type: 'succeeded',
      record: attemptRecord(ctx, 'succeeded', summary.slice(0, 500)),
      summary,
      figures,
      ...plan,
      ...(ctx.diffStat !== undefined ? { diffStat: ctx.diffStat } : {}),
      ...(verdict.kind === 'done' && verdict.commit ? { commit: verdict.commit } : {}),
    };
    const result: AgentJobResult = {
      status: 'succeeded',
      summary,
      exitCode: ctx.figures.exitCode,
      sessionId: ctx.figures.sessionId ?? undefined,
      costUsd: ctx.figures.costUsd ?? undefined,
      numTurns: ctx.figures.numTurns ?? undefined,
      ...(ctx.figures.tokens != null ? { tokens: ctx.figures.tokens } : {}),
      durationMs: figures.durationMs!,
      workspace: ctx.workspace,
    };
    return { event, disposition: { kind: 'complete', result } };
  }
  const record = attemptRecord(ctx, outcome.failureClass, outcome.message);
  switch (outcome.failureClass) {
    case 'cancelled':
      return { event: { type: 'cancelled', at: ctx.endedAt, record, figures }, disposition: { kind: 'fail', message: 'run cancelled' } };
    case 'shutdown':
      // Handed back without using an attempt: the next worker resumes from the cursor.
      return { event: { type: 'handed_back', record, figures }, disposition: { kind: 'wait', untilMs: ctx.endedAt + 1, why: 'shutdown' } };
    case 'rate_limit': {
      // Rate limits are the account's, not the agent's: go on under another account, or wait for the reset,
      // without using an attempt.
      const retryAt = ctx.account?.nextAt ?? outcome.resetAt ?? ctx.endedAt + ctx.rateLimitWaitMs;
      return { event: { type: 'rate_limited', record, retryAt, figures }, disposition: { kind: 'wait', untilMs: retryAt, why: 'rate_limit' } };
    }
    case 'auth': {
      // Refused credentials are the account's too: another account takes the member over, using no attempt.
      if (ctx.account?.nextAt !== undefined) {
        return { event: { type: 'rate_limited', record, retryAt: ctx.account.nextAt, figures }, disposition: { kind: 'wait', untilMs: ctx.account.nextAt, why: 'account' } };
      }
      const named = ctx.account ? `account ${ctx.account.name}: ${outcome.message}; ${ctx.account.advice}` : outcome.message;
      return failedAttempt(ctx, 'auth', named, false, { figures });
    }
    default:
      return failedAttempt(ctx, outcome.failureClass, outcome.message, outcome.retryable, { figures });
  }
}

/** An attempt that took its epoch but could not run (tmux refused, the disk is full): it is still an attempt. */
export function concludeBroken(ctx: AttemptContext, errorText: string, unrecoverable: boolean, failureClass?: FailureClass): Conclusion {
  if (failureClass) return failedAttempt({ ...ctx, startedAt: ctx.endedAt }, failureClass, errorText, false);
  return failedAttempt({ ...ctx, startedAt: ctx.endedAt }, 'crash', `the attempt could not run: ${errorText}`, !unrecoverable);
}

/**
 * An attempt that took its epoch but found no room in the worker's data dir (ENOSPC writing its attempt
 * files, say): handed back without using an attempt, to come back at `untilMs`, on this worker once it has
 * room again or on another. A full disk is the worker's, not the agent's.
 */
export function concludeDiskFull(ctx: AttemptContext, errorText: string, untilMs: number): Conclusion {
  const record = attemptRecord({ ...ctx, startedAt: ctx.endedAt }, 'disk_full', errorText);
  return { event: { type: 'handed_back', record, figures: { ...ctx.figures, durationMs: 0 } }, disposition: { kind: 'wait', untilMs, why: 'disk_full' } };
}

/** What the worker that picks up a stalled job knows of the attempt that stalled (from the member record). */
export type StalledAttempt = Pick<AttemptContext, 'attempt' | 'maxAttempts' | 'epoch' | 'startedAt' | 'endedAt' | 'workerId' | 'host'> & {
  /** BullMQ's stall counter of the job, recorded so one stall is recorded once. */
  stalledCounter: number;
};

/**
 * A BullMQ stall: the job's last holder stopped renewing its lock (its worker died, or lost Redis). It uses
 * an attempt, so a job that kills every worker cannot loop forever, but is retried at once: a lost worker
 * is not the agent's fault.
 */
export function concludeStall(stalled: StalledAttempt): Conclusion {
  const message = `worker ${stalled.workerId} on ${stalled.host} stopped renewing its claim (stall ${stalled.stalledCounter})`;
  const ctx: AttemptContext = { ...stalled, workspace: '', figures: { exitCode: null, sessionId: null, costUsd: null, numTurns: null }, backoffMs: 0, rateLimitWaitMs: 0 };
  return failedAttempt(ctx, 'stalled', message, true, { stallsSeen: stalled.stalledCounter });
}
