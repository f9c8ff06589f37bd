import { describe, expect, it } from 'vitest';
import { describeTokenBudget, parseStreamLine, tokenBudgetReached, tokensOf, type StreamEvent } from '@reins/shared';
import { TokenTally } from '../../apps/worker/src/claude/token-tally.js';

// Lines as Claude Code 2.1.328 wrote them against the test Messages API: one API message with a text and a
// tool_use block comes as two assistant lines with the same id and the usage of the message's start
// (output_tokens provisional); the result's usage is the invocation's final total.
const usage = (input: number, output: number, cacheWrite = 0, cacheRead = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: cacheWrite,
  cache_read_input_tokens: cacheRead,
  service_tier: 'standard',
});
const assistant = (id: string | undefined, u: unknown, block: object = { type: 'text', text: 'hi' }) =>
  JSON.stringify({ type: 'assistant', message: { ...(id ? { id } : {}), content: [block], usage: u }, session_id: 's' });
const result = (u: unknown) => JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'done', total_cost_usd: 0.02, usage: u });
const events = (...lines: string[]): StreamEvent[] => lines.map((l) => parseStreamLine(l)!);

describe('tokensOf', () => {
  it('adds input, output and both cache counts', () => {
    expect(tokensOf(usage(2657, 45, 300, 1200))).toBe(2657 + 45 + 300 + 1200);
  });

  it('counts a missing or unreadable field as 0, and no usage as 0', () => {
    expect(tokensOf({ input_tokens: 10 })).toBe(10);
    expect(tokensOf(undefined)).toBe(0);
    const parsed = parseStreamLine(result({ input_tokens: 7, output_tokens: 'many', cache_read_input_tokens: -3 }));
    expect(parsed?.type).toBe('result');
    expect(tokensOf(parsed?.type === 'result' ? parsed.usage : undefined)).toBe(7);
  });

  it('keeps a line whose usage is not an object a result, without usage', () => {
    const parsed = parseStreamLine(result('lots'));
    expect(parsed).toMatchObject({ type: 'result', is_error: false });
    expect(parsed?.type === 'result' && parsed.usage).toBeUndefined();
  });
});

describe('TokenTally', () => {
  it('counts an API message once however many lines carry it, then takes the result as the total', () => {
    const tally = new TokenTally();
    const [text, tool, second, end] = events(
      assistant('msg_1', usage(2657, 1)),
      assistant('msg_1', usage(2657, 1), { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'echo hi' } }),
      assistant('msg_2', usage(2725, 1)),
      result(usage(5382, 45)),
    );
    tally.add(text!);
    tally.add(tool!);
    expect(tally.total).toBe(2658);
    tally.add(second!);
    expect(tally.total).toBe(2658 + 2726);
    tally.add(end!);
    expect(tally.total).toBe(5427);
  });

  it('keeps what the messages summed to when a result counts less (a subagent it left out)', () => {
    const tally = new TokenTally();
    for (const event of events(assistant('msg_1', usage(4_000, 1)), assistant('msg_sub', usage(900, 1)), result(usage(4_000, 20)))) tally.add(event);
    expect(tally.total).toBe(4_902);
  });

  it('counts messages without an id each time, and what a command agent prints without usage as 0', () => {
    const tally = new TokenTally();
    for (const event of events(assistant(undefined, usage(10, 1)), assistant(undefined, usage(10, 1)), assistant('m', undefined), result(undefined))) tally.add(event);
    expect(tally.total).toBe(22);
    const quiet = new TokenTally();
    quiet.add({ type: 'output', text: 'hello' });
    expect(quiet.total).toBe(0);
  });

  it('keeps counting past the messages it holds open', () => {
    const tally = new TokenTally();
    for (let i = 0; i < 1_000; i += 1) {
      for (const event of events(assistant(`msg_${i}`, usage(100, 1)), assistant(`msg_${i}`, usage(100, 1)))) tally.add(event);
    }
    expect(tally.total).toBe(1_000 * 101);
  });
});

describe('tokenBudgetReached', () => {
  const spent = { member: 900, run: 3_000, day: 40_000 };

  it('refuses a start at a cap, and stops a running agent only once it is over one', () => {
    expect(tokenBudgetReached(spent, { run: 3_000 }, 'start')).toEqual({ budget: 'run', spent: 3_000, cap: 3_000 });
    expect(tokenBudgetReached(spent, { run: 3_000 }, 'running')).toBeUndefined();
    expect(tokenBudgetReached({ ...spent, run: 3_001 }, { run: 3_000 }, 'running')).toEqual({ budget: 'run', spent: 3_001, cap: 3_000 });
    expect(tokenBudgetReached(spent, { run: 3_001, member: 901, day: 40_001 }, 'start')).toBeUndefined();
    expect(tokenBudgetReached(spent, {}, 'start')).toBeUndefined();
  });

  it("names the narrowest budget reached: the member's, then the run's, then the day's", () => {
    expect(tokenBudgetReached(spent, { member: 500, run: 1_000, day: 1_000 }, 'running')?.budget).toBe('member');
    expect(tokenBudgetReached(spent, { member: 5_000, run: 1_000, day: 1_000 }, 'running')?.budget).toBe('run');
    expect(tokenBudgetReached(spent, { member: 5_000, run: 5_000, day: 40_000 }, 'start')?.budget).toBe('day');
  });

  it('says which budget, where it is set, what was spent and the cap', () => {
    expect(describeTokenBudget({ budget: 'run', spent: 3_000, cap: 3_000 }, 'start')).toBe("the run's token budget (limits.runMaxTokens) is spent: 3000 of 3000 tokens used");
    expect(describeTokenBudget({ budget: 'member', spent: 12_500, cap: 12_000 }, 'running')).toBe("the member's token budget (limits.maxTokens, over all its attempts) ran out: 12500 of 12000 tokens used");
    expect(describeTokenBudget({ budget: 'day', spent: 10, cap: 10 }, 'start')).toBe("the fleet's daily token budget (REINS_DAILY_TOKENS, this UTC day) is spent: 10 of 10 tokens used");
  });
});
