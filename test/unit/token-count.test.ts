import { describe, expect, it } from 'vitest';
import { parseStreamLine, tokensOf, type StreamEvent } from '@reins/shared';
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
    expect(tally.fromResult).toBe(false);
    tally.add(end!);
    expect(tally.total).toBe(5427);
    expect(tally.fromResult).toBe(true);
  });

  it('counts messages without an id each time, and what a command agent prints without usage as 0', () => {
    const tally = new TokenTally();
    for (const event of events(assistant(undefined, usage(10, 1)), assistant(undefined, usage(10, 1)), assistant('m', undefined), result(undefined))) tally.add(event);
    expect(tally.total).toBe(22);
    expect(tally.fromResult).toBe(false);
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
