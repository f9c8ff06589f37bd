import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSpecError } from '@reins/shared';
import type { SpecError } from '../../libs/shared/src/errors/spec-error.js';
import { renderIssues } from '../../libs/shared/src/errors/issue.js';
import { showValue } from '../../libs/shared/src/errors/format.js';
import { HarnessSchema } from '../../libs/shared/src/spec/harness.js';
import { checkPlan } from '../../libs/shared/src/spec/plan.js';
import { MAX_HARNESS_BYTES, inputBoundIssues } from '../../libs/shared/src/spec/input-bounds.js';
import { loadHarnessFile, resolveHarness } from '../../libs/shared/src/spec/load.js';
import { tempDir } from '../helpers/test-root.js';

// Issue 11's input attacks, turned around: each is refused as a SpecError (exit 2 in the CLI) that names the
// field and shows the value capped and escaped, and none costs more than the file's first MiB.

const dir = tempDir('input-bounds');

async function refusal(promise: Promise<unknown>): Promise<SpecError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSpecError(error)) throw new Error(`expected a SpecError, got ${String(error)}`);
  return error;
}

const load = (file: string) => loadHarnessFile(file, { skillsDirs: [] });
const resolve = (value: unknown) => resolveHarness(value, { skillsDirs: [], source: 'h.yaml', baseDir: dir });
const commandHarness = (extra: Record<string, unknown> = {}, prompt = 'p') => ({ name: 'h', agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt }], ...extra });

describe('a harness file is bounded before it is parsed', () => {
  it('refuses a file over 1 MiB by its size alone, naming the file, the size and the cap', async () => {
    // 3 GiB, sparse: reading it whole would fail (Node reads at most 2 GiB into one buffer) long before parsing.
    const file = path.join(dir, 'huge.yaml');
    const handle = await open(file, 'w');
    await handle.truncate(3 * 1024 ** 3);
    await handle.close();
    const error = await refusal(load(file));
    expect(error.source).toBe(file);
    expect(error.issues).toEqual([{ path: '(file)', message: 'is 3 GiB (3221225472 bytes), over the cap of 1 MiB (1048576 bytes) a harness file' }]);
  });

  it('accepts a file of exactly 1 MiB as far as its size goes', async () => {
    const head = 'name: h\nagent: { kind: command, argv: ["true"] }\nteam: [{ name: a, prompt: p }]\n';
    const file = path.join(dir, 'edge.yaml');
    await writeFile(file, head + '#'.repeat(MAX_HARNESS_BYTES - head.length));
    expect((await load(file)).spec.name).toBe('h');
  });

  it('never reads more than the cap, nor waits on a FIFO: /dev/zero and a FIFO are refused, not read forever', async () => {
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    for (const file of ['/dev/zero', fifo]) {
      const error = await refusal(load(file));
      expect(error.issues).toEqual([{ path: '(file)', message: 'expected a regular file, got a directory, a device, a FIFO or a socket' }]);
    }
  });

  it('refuses binary garbage with one issue, not hundreds', async () => {
    const file = path.join(dir, 'garbage.yaml');
    await writeFile(file, Buffer.concat([Buffer.from('name: h\n'), randomBytes(200_000), Buffer.from([0])]));
    const error = await refusal(load(file));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.message).toMatch(/^is not text: it holds a NUL byte \(\\x00\) at byte \d+; a harness is YAML or JSON$/);
  });

  it('refuses a file that is not UTF-8', async () => {
    const file = path.join(dir, 'latin1.yaml');
    await writeFile(file, Buffer.from('name: h\ngoal: caf\xe9\n', 'latin1'));
    const error = await refusal(load(file));
    expect(error.issues).toEqual([{ path: '(file)', message: 'is not text: it is not valid UTF-8; a harness is YAML or JSON' }]);
  });

  it('refuses a YAML alias bomb with a clear message instead of expanding it', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i += 1)
      levels.push(
        `${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9)
          .fill(`*${'abcdefghi'[i - 1]}`)
          .join(',')}]`,
      );
    const file = path.join(dir, 'bomb.yaml');
    await writeFile(file, `name: bomb\n${levels.join('\n')}\nteam: [{ name: a, prompt: p }]\n`);
    const error = await refusal(load(file));
    expect(error.issues).toEqual([
      {
        path: '(file)',
        message: 'its YAML aliases expand too far (Excessive alias count indicates a resource exhaustion attack; at most 100 nodes an alias): write the values out, or use fewer aliases',
      },
    ]);
  });

  it('refuses aliases that stay under the alias count but expand past the cap of text', async () => {
    const file = path.join(dir, 'wide-alias.yaml');
    const big = 'x'.repeat(90_000);
    await writeFile(file, `name: h\nagent: { kind: command, argv: [true] }\ngoal: &g ${big}\nteam:\n${Array.from({ length: 12 }, (_, i) => `  - { name: m${i}, prompt: *g }`).join('\n')}\n`);
    const error = await refusal(load(file));
    expect(error.issues).toEqual([{ path: '(root)', message: 'holds over 1 MiB (1048576 bytes) of text once parsed (YAML aliases expanded), the cap of a harness' }]);
  });
});

describe('prompts, argv and env are bounded and hold no control characters', () => {
  it('refuses a prompt over 100 000 bytes, naming the field and its size', async () => {
    const error = await refusal(
      resolve({
        ...commandHarness(),
        team: [
          { name: 'a', prompt: 'p' },
          { name: 'b', prompt: 'p' },
          { name: 'c', prompt: 'y'.repeat(500_000) },
        ],
      }),
    );
    expect(error.issues).toEqual([{ path: 'team[2].prompt', message: 'expected a prompt of at most 100000 bytes, got 500000 bytes' }]);
  });

  it('names a prompt so large it breaks the cap of the whole harness, with its size', async () => {
    const error = await refusal(resolve(commandHarness({}, 'y'.repeat(50_000_000))));
    expect(error.issues).toEqual([{ path: 'team[0].prompt', message: 'is 47.7 MiB (50000000 bytes) of text, over the cap of 1 MiB a whole harness may hold' }]);
  });

  it('gives the job schema the same size message, for a prompt that reaches the control queue', () => {
    const parsed = HarnessSchema.safeParse(commandHarness({}, 'z'.repeat(500_000)));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual(['expected a prompt of at most 100000 bytes, got 500000 bytes']);
  });

  it('refuses a NUL in a prompt, naming the field and showing the byte escaped', async () => {
    const error = await refusal(resolve(commandHarness({}, 'hello\0world')));
    expect(error.issues).toEqual([{ path: 'team[0].prompt', message: 'expected no control characters (tab, newline and carriage return are allowed), got \\x00 at character 6: "hello\\x00world"' }]);
  });

  it('refuses control characters in argv and env values, and an env name that is not one', async () => {
    const error = await refusal(resolve(commandHarness({ agent: { kind: 'command', argv: ['sh', '-c', 'echo \x1b]52;c;aGk=\x07'], env: { TOKEN: 'a\0b', 'BAD\0NAME': 'v' } } })));
    expect(error.issues.map((i) => [i.path, i.message])).toEqual([
      ['agent.argv[2]', 'expected no control characters (tab, newline and carriage return are allowed), got \\x1b at character 6: "echo \\x1b]52;c;aGk=\\x07"'],
      ['agent.env.TOKEN', 'expected no control characters (tab, newline and carriage return are allowed), got \\x00 at character 2: "a\\x00b"'],
      ['agent.env.BAD\\x00NAME', 'expected an environment variable name, got "BAD\\x00NAME"'],
    ]);
  });

  it('allows the tabs, newlines and carriage returns of scripts, PEM keys and Windows text', async () => {
    const resolved = await resolve(commandHarness({ agent: { kind: 'command', argv: ['sh', '-c', 'echo a\n\techo b\r\n'], env: { KEY: '-----BEGIN-----\nAAAA\n-----END-----\n' } } }, 'line one\r\nline two\n'));
    expect(resolved.spec.team?.[0]?.prompt).toBe('line one\r\nline two\n');
  });

  it('refuses nesting deeper than 32 levels and lists longer than 10 000 items before looking at their shape', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i += 1) deep = [deep];
    expect(inputBoundIssues({ hooks: deep })).toEqual({
      fatal: true,
      issues: [{ path: ['hooks', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], message: 'nested deeper than 32 levels' }],
    });
    expect(inputBoundIssues({ team: Array(10_001).fill({}) })).toEqual({ fatal: true, issues: [{ path: ['team'], message: 'expected at most 10000 items, got 10001' }] });
  });
});

describe("a planner's team meets the same bounds", () => {
  it('refuses a planned prompt with a NUL, naming the member', () => {
    const member = (name: string, prompt: string) => ({ name, role: 'r', prompt, depends_on: [], skills: [] });
    expect(checkPlan({ team: [member('a', 'p'), member('b', 'x\0')] }, [])).toEqual({
      ok: false,
      issues: [{ path: 'team[1].prompt', message: 'expected no control characters (tab, newline and carriage return are allowed), got \\x00 at character 2: "x\\x00"' }],
    });
  });
});

describe('what is printed about bad input is bounded', () => {
  it('prints at most 20 issues, then how many more', () => {
    const issues = Array.from({ length: 694 }, (_, i) => ({ path: '(file)', message: `error ${i}` }));
    const lines = renderIssues(issues).split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[19]).toBe('  - (file): error 19');
    expect(lines[20]).toBe('  … and 674 more');
    expect(renderIssues(issues.slice(0, 20)).split('\n')).toHaveLength(20);
  });

  it('shows a large value from its first characters without serialising it whole', () => {
    const team = Array.from({ length: 700_000 }, (_, i) => ({ name: `m${i}`, prompt: 'p' }));
    expect(showValue(team)).toBe('[{"name":"m0","prompt":"p"},{"name":"m1","prompt":"p"},{"name":"m2","prompt":"p…');
    expect(showValue('q'.repeat(50_000_000))).toHaveLength(80);
    expect(showValue({ a: 1, b: undefined, c: [null, 'x'] })).toBe(JSON.stringify({ a: 1, b: undefined, c: [null, 'x'] }));
  });
});
