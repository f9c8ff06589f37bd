import { describe, it, expect } from 'vitest';
import { LineSplitter, MAX_LINE_BYTES, describeEvent, isInit, isResult, parseStreamLine, type SplitLine, type StreamEvent } from '@reins/shared';
import { toolTarget } from '../../libs/shared/src/agent/stream-json.js';

const line = (value: unknown) => JSON.stringify(value);

const INIT = {
  type: 'system',
  subtype: 'init',
  cwd: '/work/ws',
  session_id: '3f0c6a52-8a5e-4b8e-9f57-1d2c3b4a5e6f',
  tools: ['Bash', 'Read', 'Write'],
  mcp_servers: [],
  model: 'claude-sonnet-4-5',
  permissionMode: 'bypassPermissions',
  slash_commands: ['compact'],
  apiKeySource: 'ANTHROPIC_API_KEY',
  skills: ['review', 'write-docs'],
  claude_code_version: '2.1.328',
  output_style: 'default',
  uuid: 'u-1',
};

const ASSISTANT = {
  type: 'assistant',
  message: {
    id: 'msg_01',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [
      { type: 'text', text: 'I will write the file now.' },
      { type: 'tool_use', id: 'toolu_01', name: 'Write', input: { file_path: '/work/ws/hello.txt', content: 'hi' } },
      { type: 'tool_use', id: 'toolu_02', name: 'Bash', input: { command: 'ls -la\n  /tmp', description: 'List' } },
    ],
    stop_reason: null,
    usage: { input_tokens: 10, output_tokens: 5 },
  },
  parent_tool_use_id: null,
  session_id: INIT.session_id,
  uuid: 'u-2',
};

const USER_ERROR = {
  type: 'user',
  message: {
    role: 'user',
    content: [
      { tool_use_id: 'toolu_02', type: 'tool_result', content: 'Exit code 2\nls: cannot access', is_error: true },
      { tool_use_id: 'toolu_01', type: 'tool_result', content: 'File created', is_error: false },
    ],
  },
  session_id: INIT.session_id,
};

const RETRY = {
  type: 'system',
  subtype: 'api_retry',
  attempt: 2,
  max_retries: 10,
  retry_delay_ms: 1500,
  error_status: 529,
  error: 'overloaded',
  session_id: INIT.session_id,
};

const SUCCESS = {
  type: 'result',
  subtype: 'success',
  is_error: false,
  duration_ms: 5123,
  duration_api_ms: 4000,
  num_turns: 3,
  result: 'Wrote hello.txt.',
  session_id: INIT.session_id,
  total_cost_usd: 0.012345,
  usage: { input_tokens: 100 },
  permission_denials: [],
  api_error_status: null,
  terminal_reason: 'completed',
  uuid: 'u-9',
};

const API_400 = {
  type: 'result',
  subtype: 'success',
  is_error: true,
  duration_ms: 300,
  num_turns: 1,
  result: 'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}',
  session_id: INIT.session_id,
  total_cost_usd: 0,
  permission_denials: [],
  api_error_status: 400,
  terminal_reason: 'api_error',
};

describe('parseStreamLine', () => {
  it('parses a system init line, keeping session id, skills and unknown fields', () => {
    const event = parseStreamLine(line(INIT));
    expect(event).toEqual(INIT);
    expect(event && isInit(event)).toBe(true);
    expect(event && isResult(event)).toBe(false);
    expect((event as { session_id: string }).session_id).toBe('3f0c6a52-8a5e-4b8e-9f57-1d2c3b4a5e6f');
    expect((event as { skills: unknown[] }).skills).toEqual(['review', 'write-docs']);
  });

  it('parses an assistant line with text and tool_use blocks', () => {
    const event = parseStreamLine(line(ASSISTANT));
    expect(event).toEqual(ASSISTANT);
    expect(event?.type).toBe('assistant');
  });

  it('parses a user line with tool results, keeping is_error', () => {
    const event = parseStreamLine(line(USER_ERROR));
    expect(event).toEqual(USER_ERROR);
  });

  it('parses a user line whose content is a plain string', () => {
    const value = { type: 'user', message: { role: 'user', content: 'hello' } };
    expect(parseStreamLine(line(value))).toEqual(value);
  });

  it('parses an api_retry line', () => {
    const event = parseStreamLine(line(RETRY));
    expect(event).toEqual(RETRY);
    expect(event && isInit(event)).toBe(false);
  });

  it('parses a successful result', () => {
    const event = parseStreamLine(line(SUCCESS));
    expect(event).toEqual(SUCCESS);
    expect(event && isResult(event)).toBe(true);
  });

  it('parses an API error result: subtype success, is_error true, api_error_status 400', () => {
    const event = parseStreamLine(line(API_400));
    expect(event).toEqual(API_400);
    if (!event || !isResult(event)) throw new Error('not a result');
    expect(event.subtype).toBe('success');
    expect(event.is_error).toBe(true);
    expect(event.api_error_status).toBe(400);
  });

  it('tolerates surrounding whitespace and a trailing carriage return', () => {
    expect(parseStreamLine(`  ${line(SUCCESS)}\r`)).toEqual(SUCCESS);
  });

  it('returns undefined for a line that is not a JSON object', () => {
    expect(parseStreamLine('Debugger attached.')).toBeUndefined();
    expect(parseStreamLine('')).toBeUndefined();
    expect(parseStreamLine('{not json')).toBeUndefined();
    expect(parseStreamLine('{"type":"result"')).toBeUndefined();
    expect(parseStreamLine('null')).toBeUndefined();
    expect(parseStreamLine('42')).toBeUndefined();
    expect(parseStreamLine('"a string"')).toBeUndefined();
  });

  it('returns undefined for a JSON array', () => {
    expect(parseStreamLine('[{"type":"result","subtype":"success","is_error":false}]')).toBeUndefined();
    expect(parseStreamLine('[]')).toBeUndefined();
  });

  it('returns {type: "other"} with the raw object for an unknown type', () => {
    const value = { type: 'stream_event', event: { type: 'content_block_delta' } };
    expect(parseStreamLine(line(value))).toEqual({ type: 'other', raw: value });
  });

  it('returns {type: "other"} for a known type whose shape does not fit', () => {
    const badResult = { type: 'result', subtype: 'success' }; // no is_error
    expect(parseStreamLine(line(badResult))).toEqual({ type: 'other', raw: badResult });
    const hook = { type: 'system', subtype: 'hook_response', session_id: 's' };
    expect(parseStreamLine(line(hook))).toEqual({ type: 'other', raw: hook });
    const noSession = { type: 'system', subtype: 'init' };
    expect(parseStreamLine(line(noSession))).toEqual({ type: 'other', raw: noSession });
  });
});

describe('LineSplitter', () => {
  const texts = (lines: SplitLine[]) => lines.map((l) => l.text);

  it('returns whole lines and keeps a partial line for the next chunk', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('{"a":1}\n{"b"')).toEqual([{ text: '{"a":1}', bytes: 7, cut: false }]);
    expect(splitter.push(':2}\n')).toEqual([{ text: '{"b":2}', bytes: 7, cut: false }]);
    expect(splitter.flush()).toEqual([]);
  });

  it('joins a line split over many chunks, including one char at a time', () => {
    const splitter = new LineSplitter();
    const text = `${line(INIT)}\n${line(SUCCESS)}\n`;
    const lines: SplitLine[] = [];
    for (const ch of text) lines.push(...splitter.push(ch));
    expect(texts(lines)).toEqual([line(INIT), line(SUCCESS)]);
    expect(splitter.flush()).toEqual([]);
  });

  it('returns several lines from one chunk and drops empty lines', () => {
    const splitter = new LineSplitter();
    expect(texts(splitter.push('a\n\nb\nc\n\n'))).toEqual(['a', 'b', 'c']);
  });

  it('returns nothing for a chunk with no newline', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('abc')).toEqual([]);
    expect(splitter.push('def')).toEqual([]);
    expect(texts(splitter.push('\n'))).toEqual(['abcdef']);
  });

  it('flush() gives the unterminated last line once', () => {
    const splitter = new LineSplitter();
    expect(texts(splitter.push('first\nlast without newline'))).toEqual(['first']);
    expect(texts(splitter.flush())).toEqual(['last without newline']);
    expect(splitter.flush()).toEqual([]);
    expect(texts(splitter.push('next\n'))).toEqual(['next']);
  });

  it('keeps multi-byte characters intact across chunks, as strings or split inside a character as bytes', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('{"t":"héllo ')).toEqual([]);
    expect(texts(splitter.push('🌍"}\n'))).toEqual(['{"t":"héllo 🌍"}']);
    const bytes = Buffer.from('ü🌍\n');
    expect(splitter.push(bytes.subarray(0, 1))).toEqual([]);
    expect(splitter.push(bytes.subarray(1, 4))).toEqual([]);
    expect(splitter.push(bytes.subarray(4))).toEqual([{ text: 'ü🌍', bytes: 6, cut: false }]);
  });

  it('holds a partial line apart from the buffer it was given, which the reader reuses', () => {
    const splitter = new LineSplitter();
    const buffer = Buffer.from('{"a"');
    expect(splitter.push(buffer)).toEqual([]);
    buffer.write('XXXX');
    expect(texts(splitter.push(':1}\n'))).toEqual(['{"a":1}']);
  });

  it('cuts a line over its cap to the first bytes and says how long it was, holding no more than the cap', () => {
    const splitter = new LineSplitter(8);
    expect(splitter.push('0123')).toEqual([]);
    expect(splitter.push('456789')).toEqual([]);
    expect(splitter.push('abcdef')).toEqual([]);
    expect(splitter.push('gh\nshort\n0123456789\n')).toEqual([
      { text: '01234567', bytes: 18, cut: true },
      { text: 'short', bytes: 5, cut: false },
      { text: '01234567', bytes: 10, cut: true },
    ]);
    expect(splitter.push('x'.repeat(20))).toEqual([]);
    expect(splitter.flush()).toEqual([{ text: 'xxxxxxxx', bytes: 20, cut: true }]);
  });

  it('reset() drops the partial line and says how many bytes it had', () => {
    const splitter = new LineSplitter(4);
    splitter.push('done\npartial');
    expect(splitter.reset()).toBe(7);
    expect(texts(splitter.push('next\n'))).toEqual(['next']);
  });

  it('is linear: a 64 MiB line without a newline in 64 KiB chunks is counted, not rejoined', () => {
    // Rejoining the partial line with each chunk copies 1024 × 32 MiB on average: minutes, and gigabytes.
    const splitter = new LineSplitter();
    const chunk = Buffer.alloc(64 * 1024, '{');
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1024; i += 1) expect(splitter.push(chunk)).toEqual([]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * MAX_LINE_BYTES);
    const [cut] = splitter.push('}\n');
    expect(cut).toMatchObject({ bytes: 64 * 1024 * 1024 + 1, cut: true });
    expect(cut!.text).toHaveLength(MAX_LINE_BYTES);
  });

  it('16 MiB of short lines in odd chunks (split anywhere, inside lines too) come out whole and all counted', () => {
    const text = Buffer.from(`${'{"type":"other","n":1}\n'.repeat((16 * 1024 * 1024) / 23)}`);
    const splitter = new LineSplitter();
    let count = 0;
    for (let at = 0; at < text.length; at += 65_521) count += splitter.push(text.subarray(at, at + 65_521)).length;
    expect(count).toBe(Math.floor((16 * 1024 * 1024) / 23));
    expect(splitter.flush()).toEqual([]);
  });
});

describe('toolTarget', () => {
  it('picks the first known field, flattened and clipped', () => {
    expect(toolTarget({ file_path: '/a/b.ts', command: 'x' })).toBe('/a/b.ts');
    expect(toolTarget({ command: 'echo  hi\n  there' })).toBe('echo hi there');
    expect(toolTarget({ pattern: '**/*.ts' })).toBe('**/*.ts');
    expect(toolTarget({ other: 'x' })).toBe('');
    expect(toolTarget(null)).toBe('');
    expect(toolTarget('str')).toBe('');
    const long = toolTarget({ command: 'x'.repeat(500) });
    expect(long).toHaveLength(120);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('describeEvent', () => {
  const describeLine = (value: unknown) => {
    const event = parseStreamLine(line(value));
    if (!event) throw new Error('did not parse');
    return describeEvent(event);
  };

  it('describes init with session, model and skills', () => {
    expect(describeLine(INIT)).toEqual([{ kind: 'init', text: 'session 3f0c6a52-8a5e-4b8e-9f57-1d2c3b4a5e6f started (claude-sonnet-4-5), skills: review, write-docs' }]);
    expect(describeLine({ type: 'system', subtype: 'init', session_id: 's1' })).toEqual([{ kind: 'init', text: 'session s1 started' }]);
  });

  it('describes assistant text and each tool call with its tool name and target', () => {
    expect(describeLine(ASSISTANT)).toEqual([
      { kind: 'text', text: 'I will write the file now.' },
      { kind: 'tool', text: 'Write /work/ws/hello.txt' },
      { kind: 'tool', text: 'Bash ls -la /tmp' },
    ]);
  });

  it('describes a tool call without a target by its name alone, and skips blank text', () => {
    expect(
      describeLine({
        type: 'assistant',
        message: {
          content: [
            { type: 'text', text: '  \n ' },
            { type: 'tool_use', name: 'TodoWrite', input: { todos: [] } },
            { type: 'thinking', thinking: 'hmm' },
          ],
        },
      }),
    ).toEqual([{ kind: 'tool', text: 'TodoWrite' }]);
  });

  it('clips long assistant text to 300 characters', () => {
    const [first] = describeLine({ type: 'assistant', message: { content: [{ type: 'text', text: 'y'.repeat(1000) }] } });
    expect(first!.text).toHaveLength(300);
    expect(first!.text.endsWith('…')).toBe(true);
  });

  it('describes only failed tool results', () => {
    expect(describeLine(USER_ERROR)).toEqual([{ kind: 'tool_error', text: 'Exit code 2 ls: cannot access' }]);
    expect(
      describeLine({
        type: 'user',
        message: {
          content: [
            {
              type: 'tool_result',
              is_error: true,
              content: [
                { type: 'text', text: 'a' },
                { type: 'text', text: 'b' },
              ],
            },
          ],
        },
      }),
    ).toEqual([{ kind: 'tool_error', text: 'a b' }]);
    expect(describeLine({ type: 'user', message: { content: 'plain' } })).toEqual([]);
  });

  it('describes an api_retry line', () => {
    expect(describeLine(RETRY)).toEqual([{ kind: 'retry', text: 'API retry 2/10 in 1.5 s (529 overloaded)' }]);
    const [bare] = describeLine({ type: 'system', subtype: 'api_retry' });
    expect(bare!.kind).toBe('retry');
    expect(bare!.text.startsWith('API retry ?/? (-')).toBe(true);
  });

  it('describes a successful result with turns, cost and text', () => {
    expect(describeLine(SUCCESS)).toEqual([{ kind: 'result', text: 'success in 3 turns, $0.0123: Wrote hello.txt.' }]);
    expect(describeLine({ type: 'result', subtype: 'success', is_error: false, num_turns: 1 })).toEqual([{ kind: 'result', text: 'success in 1 turn' }]);
  });

  it('describes an error result with its status and subtype', () => {
    expect(describeLine(API_400)).toEqual([
      {
        kind: 'error',
        text: 'error 400 (success) in 1 turn, $0.0000: API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}',
      },
    ]);
    expect(describeLine({ type: 'result', subtype: 'error_max_turns', is_error: true, num_turns: 2, api_error_status: null })).toEqual([{ kind: 'error', text: 'error (error_max_turns) in 2 turns' }]);
  });

  it('describes nothing for other events', () => {
    const other: StreamEvent = { type: 'other', raw: { type: 'x' } };
    expect(describeEvent(other)).toEqual([]);
  });
});
