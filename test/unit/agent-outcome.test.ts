import { describe, it, expect } from 'vitest';
import type { ResultEvent } from '@reins/shared';
import { classifyClaude, classifyCommand, parseResetTime, type EndedAttempt } from '../../apps/worker/src/claude/outcome.js';

const result = (fields: Partial<ResultEvent> = {}): ResultEvent => ({
  type: 'result',
  subtype: 'success',
  is_error: false,
  result: 'done',
  num_turns: 2,
  permission_denials: [],
  api_error_status: null,
  session_id: 's',
  ...fields,
});

const ended = (r: ResultEvent | undefined, exitCode: number | null = 0, stderrTail = ''): EndedAttempt => ({ result: r, exitCode, stderrTail });

const apiError = (status: number, text: string) => result({ subtype: 'success', is_error: true, api_error_status: status, terminal_reason: 'api_error', result: text });

describe('classifyClaude', () => {
  it('succeeds on is_error false with no permission denials', () => {
    const r = result();
    expect(classifyClaude(ended(r, 0))).toEqual({ ok: true, result: r, exitCode: 0 });
  });

  it('treats api_error_status 400 as bad_request, not retryable, naming subtype, status and text', () => {
    const r = apiError(400, 'API Error: 400 prompt is too long');
    expect(classifyClaude(ended(r, 1))).toEqual({
      ok: false,
      failureClass: 'bad_request',
      message: 'success, API status 400, api_error: API Error: 400 prompt is too long',
      retryable: false,
      result: r,
      exitCode: 1,
    });
  });

  it('treats 401 and 403 as auth, not retryable', () => {
    for (const status of [401, 403]) {
      const outcome = classifyClaude(ended(apiError(status, 'Invalid API key'), 1));
      expect(outcome).toMatchObject({ ok: false, failureClass: 'auth', retryable: false });
      expect(outcome.ok === false && outcome.message).toBe(`success, API status ${status}, api_error: Invalid API key`);
    }
  });

  it('treats 429 as rate_limit, retryable', () => {
    expect(classifyClaude(ended(apiError(429, 'rate limited'), 1))).toMatchObject({ ok: false, failureClass: 'rate_limit', retryable: true });
  });

  it('treats 529 as overloaded, retryable', () => {
    expect(classifyClaude(ended(apiError(529, 'Overloaded'), 1))).toMatchObject({ ok: false, failureClass: 'overloaded', retryable: true });
  });

  it('treats 500 and 503 as api_5xx, retryable', () => {
    for (const status of [500, 503]) {
      expect(classifyClaude(ended(apiError(status, 'Internal'), 1))).toMatchObject({ ok: false, failureClass: 'api_5xx', retryable: true });
    }
  });

  it('treats other 4xx as bad_request', () => {
    expect(classifyClaude(ended(apiError(413, 'too large'), 1))).toMatchObject({ failureClass: 'bad_request', retryable: false });
  });

  it('treats error_max_turns as max_turns, retryable', () => {
    const r = result({ subtype: 'error_max_turns', is_error: true, result: undefined, num_turns: 5 });
    expect(classifyClaude(ended(r, 1))).toEqual({
      ok: false,
      failureClass: 'max_turns',
      message: 'error_max_turns',
      retryable: true,
      result: r,
      exitCode: 1,
    });
  });

  it('treats error_max_budget_usd as budget, not retryable', () => {
    expect(classifyClaude(ended(result({ subtype: 'error_max_budget_usd', is_error: true, result: undefined }), 1))).toMatchObject({
      ok: false,
      failureClass: 'budget',
      retryable: false,
    });
  });

  it('uses the errors array when there is no result text', () => {
    const r = result({ subtype: 'error_during_execution', is_error: true, result: undefined, errors: ['No conversation found with session ID: x', 'second'] });
    expect(classifyClaude(ended(r, 1))).toMatchObject({
      failureClass: 'crash',
      message: 'error_during_execution: No conversation found with session ID: x; second',
      retryable: true,
    });
  });

  it('fails a run with permission denials even though it says success, listing the tools', () => {
    const r = result({
      permission_denials: [
        { tool_name: 'Write', tool_use_id: 't1', tool_input: { file_path: '/x' } },
        { tool_name: 'Bash', tool_use_id: 't2', tool_input: { command: 'rm' } },
      ],
    });
    expect(classifyClaude(ended(r, 0))).toEqual({
      ok: false,
      failureClass: 'permission_denied',
      message: 'permission denied for: Write, Bash',
      retryable: false,
      result: r,
      exitCode: 0,
    });
  });

  it('shows a denial without a tool name as JSON', () => {
    const outcome = classifyClaude(ended(result({ permission_denials: ['odd'] }), 0));
    expect(outcome).toMatchObject({ failureClass: 'permission_denied', message: 'permission denied for: "odd"' });
  });

  it('is a crash with the stderr tail when there is no result line', () => {
    const outcome = classifyClaude(ended(undefined, 1, 'line 1\nline 2\nline 3\nError: boom\n'));
    expect(outcome).toEqual({
      ok: false,
      failureClass: 'crash',
      message: 'claude exited with code 1 without a result line: line 2 | line 3 | Error: boom',
      retryable: true,
      result: undefined,
      exitCode: 1,
    });
  });

  it('says "vanished" when the exit code is unknown', () => {
    expect(classifyClaude(ended(undefined, null, ''))).toMatchObject({
      failureClass: 'crash',
      message: 'claude vanished without a result line',
      exitCode: null,
    });
  });

  it('is a crash for is_error with subtype success and no status', () => {
    expect(classifyClaude(ended(result({ is_error: true, result: 'weird' }), 1))).toMatchObject({
      failureClass: 'crash',
      message: 'success: weird',
    });
  });

  it('treats "You\'ve hit your limit · resets 3pm" on stderr as rate_limit with a reset time in the future', () => {
    const before = Date.now();
    const outcome = classifyClaude(ended(undefined, 1, "You've hit your limit · resets 3pm"));
    if (outcome.ok) throw new Error('expected a failure');
    expect(outcome.failureClass).toBe('rate_limit');
    expect(outcome.retryable).toBe(true);
    expect(outcome.resetAt).toBeGreaterThan(before);
    expect(outcome.resetAt! - before).toBeLessThanOrEqual(24 * 3600 * 1000 + 1000);
    expect(new Date(outcome.resetAt!).getHours()).toBe(15);
    expect(new Date(outcome.resetAt!).getMinutes()).toBe(0);
    expect(outcome.message).toBe(`usage limit reached, resets at ${new Date(outcome.resetAt!).toISOString()}`);
  });

  it('treats the limit text in an error result as rate_limit too', () => {
    const r = result({ is_error: true, result: "Claude AI usage limit: You've hit your limit · resets 15:00 (UTC)" });
    const outcome = classifyClaude(ended(r, 1));
    expect(outcome).toMatchObject({ ok: false, failureClass: 'rate_limit', retryable: true, result: r });
    if (outcome.ok) return;
    expect(new Date(outcome.resetAt!).getUTCHours()).toBe(15);
  });

  it('gives no resetAt when the reset time cannot be read', () => {
    const outcome = classifyClaude(ended(undefined, 1, "You've hit your limit · resets whenever"));
    expect(outcome).toMatchObject({ ok: false, failureClass: 'rate_limit', message: 'usage limit reached' });
    expect(outcome.ok === false && 'resetAt' in outcome).toBe(false);
  });

  it('does not fail a successful run whose final answer merely quotes the usage-limit message', () => {
    const r = result({ result: 'I added a test for the text "You\'ve hit your limit · resets 3pm" to outcome.test.ts.' });
    expect(classifyClaude(ended(r, 0))).toEqual({ ok: true, result: r, exitCode: 0 });
  });
});

describe('parseResetTime', () => {
  // Local times, in January (no DST change within a day).
  const morning = new Date(2026, 0, 10, 9, 30, 0);
  const evening = new Date(2026, 0, 10, 18, 0, 0);

  it('reads "3pm" as today at 15:00 when that is still ahead', () => {
    expect(parseResetTime("You've hit your limit · resets 3pm", morning)).toBe(new Date(2026, 0, 10, 15, 0, 0).getTime());
  });

  it('reads "3pm" as tomorrow at 15:00 once it has passed', () => {
    expect(parseResetTime("You've hit your limit · resets 3pm", evening)).toBe(new Date(2026, 0, 11, 15, 0, 0).getTime());
  });

  it('reads minutes and am/pm, 12am and 12pm', () => {
    expect(parseResetTime('hit your limit, resets 11:45am.', morning)).toBe(new Date(2026, 0, 10, 11, 45).getTime());
    expect(parseResetTime('hit your limit · resets 12am', morning)).toBe(new Date(2026, 0, 11, 0, 0).getTime());
    expect(parseResetTime('hit your limit · resets 12pm', morning)).toBe(new Date(2026, 0, 10, 12, 0).getTime());
    expect(parseResetTime('hit your limit · resets 21:05', morning)).toBe(new Date(2026, 0, 10, 21, 5).getTime());
  });

  it('reads a UTC clock time', () => {
    const now = new Date(Date.UTC(2026, 0, 10, 9, 0, 0));
    expect(parseResetTime("You've hit your limit · resets 15:00 (UTC)", now)).toBe(Date.UTC(2026, 0, 10, 15, 0, 0));
    const late = new Date(Date.UTC(2026, 0, 10, 16, 0, 0));
    expect(parseResetTime("You've hit your limit · resets 15:00 (UTC)", late)).toBe(Date.UTC(2026, 0, 11, 15, 0, 0));
  });

  it('reads an ISO timestamp as is', () => {
    expect(parseResetTime("You've hit your limit · resets 2026-11-24T15:00:00Z", morning)).toBe(Date.UTC(2026, 10, 24, 15, 0, 0));
  });

  it('is case-insensitive about the phrase', () => {
    expect(parseResetTime("YOU'VE HIT YOUR LIMIT · RESETS 3PM", morning)).toBe(new Date(2026, 0, 10, 15, 0).getTime());
  });

  it('returns undefined without the phrase or with an impossible time', () => {
    expect(parseResetTime('resets 3pm', morning)).toBeUndefined();
    expect(parseResetTime('rate limited, try later', morning)).toBeUndefined();
    expect(parseResetTime("You've hit your limit · resets 25:00", morning)).toBeUndefined();
    expect(parseResetTime("You've hit your limit · resets soon", morning)).toBeUndefined();
  });

  it('never returns a moment in the past (bare hours and odd clocks are not read as dates in 2001 or 1975)', () => {
    const reset = (raw: string) => parseResetTime(`You've hit your limit · resets ${raw}`, morning);
    // Bare hours are the next such hour: 5 is tomorrow morning, 12 is today's noon.
    expect(reset('5')).toBe(new Date(2026, 0, 11, 5, 0).getTime());
    expect(reset('12')).toBe(new Date(2026, 0, 10, 12, 0).getTime());
    for (const raw of ['5', '12', '9 (UTC)']) {
      const at = reset(raw);
      expect(at, `resets ${raw}`).toBeDefined();
      expect(at!, `resets ${raw} → ${new Date(at!).toISOString()}`).toBeGreaterThan(morning.getTime());
    }
    // An odd clock is no time at all, rather than a moment in 1975.
    expect(reset('10:75')).toBeUndefined();
  });
});

describe('classifyCommand', () => {
  it('succeeds on exit 0, keeping a result line if any', () => {
    const r = result();
    expect(classifyCommand(ended(r, 0))).toEqual({ ok: true, result: r, exitCode: 0 });
    expect(classifyCommand(ended(undefined, 0))).toEqual({ ok: true, result: undefined, exitCode: 0 });
  });

  it('is a retryable crash on exit 1, with the stderr tail', () => {
    expect(classifyCommand(ended(undefined, 1, 'a\nb\nc\nd\n'))).toEqual({
      ok: false,
      failureClass: 'crash',
      message: 'command exited with code 1: b | c | d',
      retryable: true,
      result: undefined,
      exitCode: 1,
    });
  });

  it('fails on exit 0 of nothing else: a result line with is_error does not matter', () => {
    expect(classifyCommand(ended(result({ is_error: true }), 0)).ok).toBe(true);
  });

  it('is a crash when it vanished without an exit code', () => {
    expect(classifyCommand(ended(undefined, null, ''))).toEqual({
      ok: false,
      failureClass: 'crash',
      message: 'command vanished without an exit code',
      retryable: true,
      result: undefined,
      exitCode: null,
    });
  });
});
