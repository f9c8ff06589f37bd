import { describe, expect, it } from 'vitest';
import { decodePlan, type ResultEvent } from '@reins/shared';
import { classifyEnd, conclude, concludeBroken, concludeDiskFull, concludeStall, type AttemptContext, type Verdict } from '../../apps/worker/src/attempt/conclude.js';
import type { AgentOutcome } from '../../apps/worker/src/claude/outcome.js';
import type { AttemptEnd } from '../../apps/worker/src/attempt/watch.js';
import { attemptBackoff, RetryError } from '../../apps/worker/src/attempt/retry-error.js';

// An attempt's ending, decided without Redis, tmux or processes: outcome in, disposition and member event out.

const ctx = (over: Partial<AttemptContext> = {}): AttemptContext => ({
  attempt: 1,
  maxAttempts: 3,
  epoch: 7,
  startedAt: 1_000,
  endedAt: 4_000,
  workerId: 'w1',
  host: 'h1',
  workspace: '/ws/solo',
  figures: { exitCode: 0, sessionId: 's-1', costUsd: 0.25, numTurns: 3 },
  backoffMs: 5_000,
  rateLimitWaitMs: 60_000,
  ...over,
});

const result = (over: Partial<ResultEvent> = {}): ResultEvent => ({ type: 'result', subtype: 'success', is_error: false, result: 'all done', ...over }) as ResultEvent;
const ok: AgentOutcome = { ok: true, result: result(), exitCode: 0 };
const failed = (failureClass: Extract<AgentOutcome, { ok: false }>['failureClass'], retryable = true, extra: { resetAt?: number } = {}): AgentOutcome => ({
  ok: false,
  failureClass,
  message: `${failureClass} happened`,
  retryable,
  result: undefined,
  exitCode: 1,
  ...extra,
});
const done: Verdict = { kind: 'done' };

describe('conclude: success', () => {
  it('completes the job with its figures, and records the attempt as succeeded with the summary', () => {
    const { disposition, event } = conclude(ok, done, ctx({ diffStat: '1 file changed' }), '  all done \n');
    expect(disposition).toEqual({ kind: 'complete', result: { status: 'succeeded', summary: 'all done', exitCode: 0, sessionId: 's-1', costUsd: 0.25, numTurns: 3, durationMs: 3_000, workspace: '/ws/solo' } });
    expect(event).toMatchObject({ type: 'succeeded', summary: 'all done', diffStat: '1 file changed', figures: { durationMs: 3_000, costUsd: 0.25 } });
    expect(event?.type === 'succeeded' && event.record).toEqual({ attempt: 1, epoch: 7, outcome: 'succeeded', message: 'all done', startedAt: 1_000, endedAt: 4_000, workerId: 'w1', host: 'h1' });
  });

  it('says "done" when the agent printed nothing, and keeps a long summary whole but its record short', () => {
    expect(conclude(ok, done, ctx(), undefined).disposition).toMatchObject({ kind: 'complete', result: { summary: 'done' } });
    const long = 'x'.repeat(900);
    const { event } = conclude(ok, done, ctx(), long);
    expect(event?.type === 'succeeded' && [event.summary.length, event.record.message.length]).toEqual([900, 500]);
  });

  it("carries a planner's team on the member, encoded", () => {
    const plan = [{ name: 'writer', prompt: 'Write it.', depends_on: [] }];
    const { event } = conclude(ok, { kind: 'done', plan } as Verdict, ctx(), 'planned');
    expect(event?.type === 'succeeded' && decodePlan(event.plan!)).toMatchObject(plan);
  });

  it('leaves figures the agent did not report out of the job result', () => {
    const { disposition } = conclude(ok, done, ctx({ figures: { exitCode: null, sessionId: null, costUsd: null, numTurns: null } }), 'ok');
    expect(disposition).toEqual({ kind: 'complete', result: { status: 'succeeded', summary: 'ok', exitCode: null, durationMs: 3_000, workspace: '/ws/solo' } });
  });
});

describe('conclude: failures that use an attempt', () => {
  it('retries a retryable failure after the agent backoff, with the attempt recorded under its class', () => {
    const { disposition, event } = conclude(failed('crash'), done, ctx(), undefined);
    expect(disposition).toEqual({ kind: 'retry', delayMs: 5_000, message: 'crash: crash happened' });
    expect(event).toMatchObject({ type: 'attempt_failed', final: false, record: { attempt: 1, epoch: 7, outcome: 'crash', message: 'crash happened' } });
  });

  it('fails for good on the last attempt', () => {
    const { disposition, event } = conclude(failed('overloaded'), done, ctx({ attempt: 3 }), undefined);
    expect(disposition).toEqual({ kind: 'fail', message: 'overloaded: overloaded happened' });
    expect(event).toMatchObject({ type: 'attempt_failed', final: true });
  });

  it('fails for good, on the first attempt, a class no retry can fix', () => {
    expect(conclude(failed('auth', false), done, ctx(), undefined)).toMatchObject({ disposition: { kind: 'fail' }, event: { type: 'attempt_failed', final: true, record: { outcome: 'auth' } } });
  });

  it("retries a lost worker at once: a stall is not the agent's fault, but it still counts", () => {
    const { disposition, event } = conclude(failed('stalled'), done, ctx({ attempt: 2 }), undefined);
    expect(disposition).toEqual({ kind: 'retry', delayMs: 0, message: 'stalled: stalled happened' });
    expect(event).toMatchObject({ type: 'attempt_failed', final: false, record: { attempt: 2, outcome: 'stalled' } });
  });

  it('fails the member when the checks after a successful round still fail (verify, plan)', () => {
    const verdict: Verdict = { kind: 'fail', failureClass: 'verify_failed', message: 'checks still fail' };
    const { disposition, event } = conclude(ok, verdict, ctx(), 'I am done');
    expect(disposition).toEqual({ kind: 'fail', message: 'verify_failed: checks still fail' });
    expect(event).toMatchObject({ type: 'attempt_failed', final: true, record: { outcome: 'verify_failed' } });
  });

  it('lets a failed round win over a failing verdict (the verdict is only asked after a success)', () => {
    const verdict: Verdict = { kind: 'fail', failureClass: 'plan_invalid', message: 'bad team' };
    expect(conclude(failed('timeout'), verdict, ctx(), undefined)).toMatchObject({ disposition: { kind: 'retry' }, event: { record: { outcome: 'timeout' } } });
  });
});

describe('conclude: endings that use no attempt', () => {
  it('waits out a rate limit until its reset time, and records it as rate_limited', () => {
    const { disposition, event } = conclude(failed('rate_limit', true, { resetAt: 99_000 }), done, ctx({ attempt: 3 }), undefined);
    expect(disposition).toEqual({ kind: 'wait', untilMs: 99_000, why: 'rate_limit' });
    expect(event).toMatchObject({ type: 'rate_limited', retryAt: 99_000, record: { attempt: 3, outcome: 'rate_limit' } });
  });

  it('waits out a rate limit without a reset time for the fallback wait', () => {
    expect(conclude(failed('rate_limit'), done, ctx(), undefined).disposition).toEqual({ kind: 'wait', untilMs: 4_000 + 60_000, why: 'rate_limit' });
  });

  it('hands the job back on shutdown, to be picked up again at once', () => {
    const { disposition, event } = conclude(failed('shutdown'), done, ctx(), undefined);
    expect(disposition).toEqual({ kind: 'wait', untilMs: 4_001, why: 'shutdown' });
    expect(event).toMatchObject({ type: 'handed_back', record: { outcome: 'shutdown' } });
  });

  it('fails the job of a cancelled run and records the member cancelled', () => {
    const { disposition, event } = conclude(failed('cancelled', false), done, ctx(), undefined);
    expect(disposition).toEqual({ kind: 'fail', message: 'run cancelled' });
    expect(event).toMatchObject({ type: 'cancelled', at: 4_000, record: { outcome: 'cancelled' } });
  });
});

describe('concludeStall and concludeBroken', () => {
  const stalled = { attempt: 1, maxAttempts: 3, epoch: 4, startedAt: 100, endedAt: 900, workerId: 'w-dead', host: 'h-dead', stalledCounter: 2 };

  it('a stall records the dead worker, the stall count, and retries at once', () => {
    const { disposition, event } = concludeStall(stalled);
    expect(disposition).toEqual({ kind: 'retry', delayMs: 0, message: 'stalled: worker w-dead on h-dead stopped renewing its claim (stall 2)' });
    expect(event).toMatchObject({ type: 'attempt_failed', final: false, stallsSeen: 2, record: { attempt: 1, epoch: 4, outcome: 'stalled', startedAt: 100, endedAt: 900, workerId: 'w-dead' } });
    expect(event && 'figures' in event).toBe(false);
  });

  it('a stall of the last attempt fails the member', () => {
    expect(concludeStall({ ...stalled, attempt: 3 })).toMatchObject({ disposition: { kind: 'fail' }, event: { final: true } });
  });

  it('an attempt that could not run is a crash: retried after the backoff, or final when unrecoverable', () => {
    expect(concludeBroken(ctx(), 'tmux refused', false)).toMatchObject({
      disposition: { kind: 'retry', delayMs: 5_000 },
      event: { final: false, record: { outcome: 'crash', message: 'the attempt could not run: tmux refused', startedAt: 4_000 } },
    });
    expect(concludeBroken(ctx(), 'no claude binary', true)).toMatchObject({ disposition: { kind: 'fail' }, event: { final: true } });
  });

  it('an attempt that found no room in the data dir is handed back, using no attempt, even the last one', () => {
    expect(concludeDiskFull(ctx({ attempt: 3 }), 'disk full on worker w1 (h1): ENOSPC', 9_000)).toEqual({
      disposition: { kind: 'wait', untilMs: 9_000, why: 'disk_full' },
      event: {
        type: 'handed_back',
        record: { attempt: 3, epoch: 7, outcome: 'disk_full', message: 'disk full on worker w1 (h1): ENOSPC', startedAt: 4_000, endedAt: 4_000, workerId: 'w1', host: 'h1' },
        figures: { exitCode: 0, sessionId: 's-1', costUsd: 0.25, numTurns: 3, durationMs: 0 },
      },
    });
  });
});

describe('classifyEnd', () => {
  const end = (over: Partial<AttemptEnd> = {}): AttemptEnd => ({ result: result(), exitCode: 0, stderrTail: '', stoppedBy: undefined, sessionId: 's-1', ...over });

  it('takes what the agent printed when the worker did not stop it', () => {
    expect(classifyEnd('claude', end())).toMatchObject({ ok: true });
    expect(classifyEnd('command', end({ exitCode: 2, result: undefined }))).toMatchObject({ ok: false, failureClass: 'crash' });
  });

  it('lets a stop by the worker decide the class, whatever the agent printed', () => {
    const cases = [
      ['cancelled', 'cancelled', false],
      ['shutdown', 'shutdown', true],
      ['timeout', 'timeout', true],
      ['hang', 'hang', true],
      ['fenced', 'stalled', true],
      ['killed', 'stalled', true],
      ['budget', 'budget', false],
    ] as const;
    for (const [stoppedBy, failureClass, retryable] of cases) {
      expect(classifyEnd('claude', end({ stoppedBy })), stoppedBy).toMatchObject({ ok: false, failureClass, retryable, exitCode: 0 });
    }
  });

  it('fails a member stopped over a token budget for good, saying which budget and what was spent', () => {
    const stopMessage = "stopped: the run's token budget (limits.runMaxTokens) ran out: 3100 of 3000 tokens used";
    const classified = classifyEnd('claude', end({ stoppedBy: 'budget', stopMessage, result: undefined, exitCode: null }));
    expect(classified).toMatchObject({ ok: false, failureClass: 'budget', message: stopMessage, retryable: false });
    const { event, disposition } = conclude(classified, { kind: 'done' }, ctx({ attempt: 1, maxAttempts: 5 }), undefined);
    expect(disposition).toEqual({ kind: 'fail', message: `budget: ${stopMessage}` });
    expect(event).toMatchObject({ type: 'attempt_failed', final: true, record: { outcome: 'budget', message: stopMessage } });
  });
});

describe('the worker backoff strategy', () => {
  const policy = { baseMs: 600_000, factor: 2, maxMs: 3_600_000, jitter: 0 };

  it('returns the delay a RetryError carries (0 for a lost worker), and the agent backoff for any other error', () => {
    const strategy = attemptBackoff(policy);
    expect(strategy(1, 'reins', new RetryError('stalled: w1 died', 0))).toBe(0);
    expect(strategy(1, 'reins', new RetryError('crash', 1_234))).toBe(1_234);
    expect(strategy(2, 'reins', new Error('redis blinked'))).toBe(1_200_000);
  });
});
