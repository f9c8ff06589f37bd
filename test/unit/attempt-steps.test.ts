import { describe, expect, it } from 'vitest';
import { encodeControlMessage, type AttemptMeta } from '@reins/shared';
import { limitReached, type AgentActivity } from '../../apps/worker/src/attempt/monitor.js';
import { checksVerdict, checkEnv, planVerdict, structuredAnswer } from '../../apps/worker/src/attempt/verdict.js';
import { limitFor } from '../../apps/worker/src/attempt/deps.js';
import { attemptNumber } from '../../apps/worker/src/attempt/admission.js';
import { stopRequests } from '../../apps/worker/src/control.js';

// The decisions inside the attempt's steps, each a pure function: no Redis, tmux or processes.

describe('limitReached: the wall clock and the idle watchdog', () => {
  const activity = (over: Partial<AgentActivity> = {}): AgentActivity => ({ startedAt: 0, lastEventAt: 0, lastHookAt: 0, inTool: false, ...over });
  const limits = { timeoutMs: 10_000, idleTimeoutMs: 3_000 };

  it('stops an agent past its wall clock, even inside a tool', () => {
    expect(limitReached(activity({ inTool: true, lastEventAt: 10_000 }), limits, 10_001)).toBe('timeout');
    expect(limitReached(activity({ lastEventAt: 9_000 }), { ...limits, timeoutMs: undefined }, 10_001)).toBeUndefined();
  });

  it('stops an agent with no output and no hook ping for the idle timeout', () => {
    expect(limitReached(activity({ lastEventAt: 1_000 }), limits, 4_001)).toBe('hang');
    expect(limitReached(activity({ lastEventAt: 1_000, lastHookAt: 2_000 }), limits, 4_001)).toBeUndefined();
  });

  it('never calls a running tool a hang: a long build is working', () => {
    expect(limitReached(activity({ inTool: true }), limits, 9_000)).toBeUndefined();
  });
});

describe('verdicts after a successful round', () => {
  const planned = (name: string, dependsOn: string[] = []) => ({ name, role: `the ${name}`, prompt: `Be the ${name}.`, depends_on: dependsOn, skills: [] });
  const team = [planned('writer'), planned('reviewer', ['writer'])];

  it('a valid planned team is done, with the team', () => {
    expect(planVerdict({ team }, [], 1)).toMatchObject({ kind: 'done', plan: [{ name: 'writer' }, { name: 'reviewer' }] });
  });

  it('an invalid team gets one more round with the errors, then fails the planner', () => {
    const again = planVerdict({ team: [planned('alone')] }, [], 1);
    expect(again.kind === 'again' && again.prompt).toContain('expected at least 2 members');
    expect(planVerdict({ team: [planned('alone')] }, [], 2)).toMatchObject({ kind: 'fail', failureClass: 'plan_invalid' });
  });

  it('failing checks give fix rounds up to maxRounds, then fail the member', () => {
    const failing = { ok: false as const, command: ['npm', 'test'], exitCode: 1, output: '1 failed' };
    expect(checksVerdict({ ok: true }, 1, 2)).toEqual({ kind: 'done' });
    const again = checksVerdict(failing, 2, 2);
    expect(again.kind === 'again' && again.prompt).toContain('fix round 2 of 2');
    expect(checksVerdict(failing, 3, 2)).toMatchObject({ kind: 'fail', failureClass: 'verify_failed', message: expect.stringContaining('1 failed') });
  });

  it("reads the planner's answer from structured output, or from a JSON result text", () => {
    expect(structuredAnswer({ result: { structured_output: { team } } as never })).toEqual({ team });
    expect(structuredAnswer({ result: { result: JSON.stringify({ team }) } as never })).toEqual({ team });
    expect(structuredAnswer({ result: { result: 'not json' } as never })).toBeUndefined();
  });

  it('checks run with the baseline env and the identity, never the API settings', () => {
    const env = checkEnv({ runId: 'r1', member: 'm', workspace: '/ws' }, { PATH: '/bin', HOME: '/root', ANTHROPIC_API_KEY: 'secret', LANG: 'C' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', LANG: 'C', REINS_RUN_ID: 'r1', REINS_MEMBER: 'm', REINS_WORKSPACE: '/ws' });
  });
});

describe('limitFor: the concurrency key and its cap', () => {
  it("takes the lower of the harness's cap and the fleet's", () => {
    expect(limitFor({ concurrencyLimits: { acct: 2 } }, { concurrency: { key: 'acct', max: 5 } })).toEqual({ key: 'acct', max: 2 });
    expect(limitFor({ concurrencyLimits: {} }, { concurrency: { key: 'acct' } })).toEqual({ key: 'acct', max: undefined });
    expect(limitFor({ concurrencyLimits: { acct: 2 } }, {})).toBeUndefined();
  });
});

describe('stopRequests: what a control message stops', () => {
  const agent = (runId: string) => ({ meta: { runId } as AttemptMeta });
  const running = new Map([
    ['r1.a', agent('r1')],
    ['r1.b', agent('r1')],
    ['r2.a', agent('r2')],
  ]);

  it('a cancel stops every agent of its run; a kill stops one job', () => {
    expect(stopRequests(running, encodeControlMessage({ type: 'cancel', runId: 'r1' }))).toEqual([
      ['r1.a', 'cancelled'],
      ['r1.b', 'cancelled'],
    ]);
    expect(stopRequests(running, encodeControlMessage({ type: 'kill', jobId: 'r2.a', reason: 'heartbeat missing' }))).toEqual([['r2.a', 'killed']]);
  });

  it('ignores a message that is not ours', () => {
    expect(stopRequests(running, '{"type":"reboot"}')).toEqual([]);
    expect(stopRequests(running, 'not json')).toEqual([]);
  });
});

describe('attemptNumber', () => {
  it("is one past BullMQ's count, or past the member's own when that is ahead (an attempt recorded before an outage cut BullMQ off)", () => {
    expect(attemptNumber(0, undefined)).toBe(1);
    expect(attemptNumber(1, { status: 'retrying', attempts: 1 })).toBe(2);
    expect(attemptNumber(0, { status: 'retrying', attempts: 1 })).toBe(2);
    expect(attemptNumber(1, { status: 'running', attempts: 2 })).toBe(3);
  });

  it('does not count an attempt that used none (a rate limit, a hand-back), nor the count a `reins retry` kept', () => {
    expect(attemptNumber(0, { status: 'retrying', attempts: 0 })).toBe(1);
    expect(attemptNumber(0, { status: 'queued', attempts: 0 })).toBe(1);
    expect(attemptNumber(0, { status: 'queued', attempts: 3 })).toBe(1);
  });
});
