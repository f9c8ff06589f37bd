import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { escapeControlChars, escapeControlCharsDeep, terminalJson } from '../../libs/shared/src/control-chars.js';
import { prettyLogLine } from '../../libs/shared/src/logger.js';
import { tempDir } from '../helpers/test-root.js';

const OSC_52 = '\u001b]52;c;cm0gLXJmIH4=\u0007';
const OSC_0 = '\u001b]0;pwned\u001b\\';
const CLEAR = '\u001b[2J\u001b[H';
const codes = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));

/** A character a terminal could act on: what no output of the CLI may carry raw. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters the test looks for.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: pino-pretty's colours, which must stay.
const SGR = /\u001b\[[0-9;]*m/g;

describe('escapeControlChars', () => {
  it('shows every C0 control but newline and tab as \\xNN', () => {
    for (const c of codes(0x00, 0x1f).filter((c) => c !== '\n' && c !== '\t')) {
      expect(escapeControlChars(`a${c}b`)).toBe(`a\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}b`);
    }
    expect(escapeControlChars('\u0000\u0007\u0008\r\u001b')).toBe('\\x00\\x07\\x08\\x0d\\x1b');
  });

  it('keeps newline and tab, which the CLI prints itself', () => {
    expect(escapeControlChars('one\ttwo\nthree\n')).toBe('one\ttwo\nthree\n');
  });

  it('shows DEL and the C1 controls (U+0080 to U+009F) as \\xNN', () => {
    expect(escapeControlChars('a\u007fb')).toBe('a\\x7fb');
    for (const c of codes(0x80, 0x9f)) expect(escapeControlChars(c)).toBe(`\\x${c.charCodeAt(0).toString(16)}`);
    // U+009B is CSI for a terminal that takes 8-bit controls: "\u009b2J" would clear its screen.
    expect(escapeControlChars('\u009b2J')).toBe('\\x9b2J');
  });

  it('shows the bidi embeddings, overrides and isolates as \\uNNNN', () => {
    for (const c of [...codes(0x202a, 0x202e), ...codes(0x2066, 0x2069)]) {
      expect(escapeControlChars(`x${c}y`)).toBe(`x\\u${c.charCodeAt(0).toString(16)}y`);
    }
    expect(escapeControlChars('access = "user\u202e \u2066// admin\u2069\u2066"')).toBe('access = "user\\u202e \\u2066// admin\\u2069\\u2066"');
  });

  it('leaves the neighbours of each range and ordinary text alone', () => {
    const ordinary = ' ~\u00a0é\u00ff\u2029\u202f\u2065\u206a…✓ 日本 🙂 \\x1b';
    expect(escapeControlChars(ordinary)).toBe(ordinary);
  });

  it('turns the sequences of issue 11 into text: no ESC or BEL is left to act', () => {
    const shown = escapeControlChars(`${OSC_52}${OSC_0}${CLEAR}done`);
    expect(shown).toBe('\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]0;pwned\\x1b\\\\x1b[2J\\x1b[Hdone');
    expect(shown).not.toMatch(UNSAFE);
  });

  it('is idempotent: escaped text has nothing left to escape', () => {
    const once = escapeControlChars(`${OSC_52}\u009b\u202e`);
    expect(escapeControlChars(once)).toBe(once);
  });
});

describe('escapeControlCharsDeep', () => {
  it('escapes every string in objects, arrays and Maps, keys included, and copies rather than changes', () => {
    const record = {
      name: 'm',
      summary: `ok${CLEAR}`,
      attempts: 2,
      done: true,
      missing: undefined,
      nothing: null,
      [`key${OSC_0}`]: 'v',
      history: [{ message: 'fail\u009b' }, 'x\u202e'],
      byName: new Map([['a\u0007', { why: 'w\u001b' }]]),
    };
    const safe = escapeControlCharsDeep(record);
    expect(safe).toEqual({
      name: 'm',
      summary: 'ok\\x1b[2J\\x1b[H',
      attempts: 2,
      done: true,
      missing: undefined,
      nothing: null,
      'key\\x1b]0;pwned\\x1b\\': 'v',
      history: [{ message: 'fail\\x9b' }, 'x\\u202e'],
      byName: new Map([['a\\x07', { why: 'w\\x1b' }]]),
    });
    expect(record.summary).toBe(`ok${CLEAR}`);
  });

  it('passes other objects through as they are', () => {
    const when = new Date(0);
    expect(escapeControlCharsDeep({ when }).when).toBe(when);
  });
});

describe('terminalJson', () => {
  it('parses back to exactly the same value, with nothing raw that a terminal acts on', () => {
    const value = { text: `${OSC_52}${OSC_0}${CLEAR}\u007f${codes(0x80, 0x9f).join('')}\u202e\u2066\tend\n`, n: 1, list: ['\u009b'] };
    const json = terminalJson(value);
    expect(JSON.parse(json)).toEqual(value);
    expect(json).not.toMatch(UNSAFE);
    expect(json).toContain('\\u009b');
    expect(json).toContain('\\u202e');
  });

  it('is JSON.stringify for ordinary values', () => {
    const value = { runId: 'r-1', members: [{ name: 'a', status: 'succeeded', text: 'é ✓ "q" \\' }] };
    expect(terminalJson(value)).toBe(JSON.stringify(value));
  });
});

describe('pretty role logs on a terminal', () => {
  const line = JSON.stringify({
    level: 50,
    time: 0,
    name: 'reins-worker',
    member: `a${OSC_0}`,
    'odd\u202ekey': 'v',
    output: '\u009b2J',
    err: { type: 'Error', message: `boom${CLEAR}`, stack: `Error: boom${CLEAR}\n    at agent` },
    msg: `the agent printed ${OSC_52}\u202e`,
  });

  it('escapes agent data in the message, the fields, the keys and the stack, and still colours', () => {
    const coloured = prettyLogLine({ colorize: true })(line);
    // What is left of ESC are pino-pretty's own colours, SGR sequences and nothing else.
    expect(coloured).toContain('\u001b[');
    expect(coloured.replace(SGR, '')).not.toMatch(UNSAFE);
    expect(coloured).toContain('the agent printed \\x1b]52;c;cm0gLXJmIH4=\\x07\\u202e');
    expect(coloured).toContain('odd\\u202ekey');
    expect(coloured).toContain('Error: boom\\x1b[2J');
  });

  it('has no escape sequence at all without colours', () => {
    const plain = prettyLogLine({ colorize: false })(line);
    expect(plain).not.toMatch(UNSAFE);
    expect(plain).toContain('\\x9b2J');
    expect(plain).toContain('a\\x1b]0;pwned');
  });

  it("is what a role's logger writes on a real terminal (a pseudo-terminal from script(1))", async () => {
    const logger = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../libs/shared/dist/logger.js');
    const hostile = terminalJson(`${OSC_52}${CLEAR}\u009b\u202e`);
    const program = path.join(tempDir('pretty-log'), 'log.mjs');
    writeFileSync(program, `import { createLogger } from ${JSON.stringify(logger)};\ncreateLogger({ name: 'reins-worker' }).warn({ output: ${hostile} }, 'agent said ' + ${hostile});\n`);
    const { stdout, exitCode } = await execa('script', ['-qfec', `${process.execPath} ${program}`, '/dev/null'], { stdin: 'ignore', reject: false, env: { ...process.env, NO_COLOR: '' } });
    expect(exitCode, stdout).toBe(0);
    expect(stdout).toContain('agent said \\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2J\\x1b[H\\x9b\\u202e');
    // On a terminal pino-pretty colours; the pty's own CR before each newline aside, nothing else is left.
    expect(stdout).toMatch(SGR);
    expect(stdout.replace(SGR, '').replaceAll('\r\n', '\n')).not.toMatch(UNSAFE);
  });

  it('escapes a line that is not JSON', () => {
    expect(prettyLogLine({ colorize: false })(`not json ${CLEAR}\n`)).toBe('not json \\x1b[2J\\x1b[H\n');
  });
});
