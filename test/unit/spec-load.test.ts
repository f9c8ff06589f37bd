import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isSpecError } from '@reins/shared';
import { SpecError } from '../../libs/shared/src/errors/spec-error.js';
import { MAX_PROMPT_BYTES } from '../../libs/shared/src/spec/harness.js';
import { loadHarnessFile, resolveHarness, type ResolvedHarness } from '../../libs/shared/src/spec/load.js';

let root: string;
let skillsDir: string;
let otherSkillsDir: string;

const skillMd = (name: string, description = 'y') => `---\nname: ${name}\ndescription: ${description}\n---\nbody\n`;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'reins-unit-spec-'));
  skillsDir = path.join(root, 'skills');
  otherSkillsDir = path.join(root, 'more-skills');
  const skill = async (dir: string, folder: string, text: string) => {
    await mkdir(path.join(dir, folder), { recursive: true });
    await writeFile(path.join(dir, folder, 'SKILL.md'), text);
  };
  await skill(skillsDir, 'review', skillMd('review'));
  await skill(skillsDir, 'write-docs', skillMd('write-docs'));
  await skill(skillsDir, 'no-frontmatter', 'just some text, no frontmatter\n');
  await skill(skillsDir, 'bad-name', skillMd('Bad_Name'));
  await skill(skillsDir, 'renamed', skillMd('something-else'));
  await mkdir(path.join(skillsDir, 'empty-folder'));
  await writeFile(path.join(skillsDir, 'README.md'), 'not a skill folder');
  await skill(otherSkillsDir, 'deploy', skillMd('deploy'));
  await mkdir(path.join(root, 'work', 'sub'), { recursive: true });
  await mkdir(path.join(root, 'harnesses'), { recursive: true });
  await mkdir(path.join(root, 'harnesses', 'wd'), { recursive: true });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const opts = () => ({ skillsDirs: [skillsDir], source: 'test.yaml', baseDir: root });

const harness = (team: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'h', team, ...extra });

async function specError(promise: Promise<unknown>): Promise<SpecError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    expect(isSpecError(error)).toBe(true);
    return error as SpecError;
  }
  throw new Error('expected a SpecError, but the harness was accepted');
}

/** The one issue at `path`, failing if there is none. */
function issueAt(error: SpecError, issuePath: string): string {
  const found = error.issues.filter((i) => i.path === issuePath);
  expect(found, `issues: ${JSON.stringify(error.issues)}`).toHaveLength(1);
  return found[0]!.message;
}

describe('SpecError', () => {
  it('renders every issue under the source in its message', () => {
    const error = new SpecError('a.yaml', [
      { path: 'team[0].prompt', message: 'bad' },
      { path: 'workdir', message: 'worse' },
    ]);
    expect(error.name).toBe('SpecError');
    expect(error.source).toBe('a.yaml');
    expect(error.message).toBe('Invalid harness a.yaml:\n  - team[0].prompt: bad\n  - workdir: worse');
  });
});

describe('resolveHarness: schema rejections', () => {
  it('rejects an unknown top-level field, naming it', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { teem: 1 }), opts()));
    expect(error.issues).toEqual([{ path: '(root)', message: 'unknown field "teem" (did you mean "team"?)', suggestion: 'team' }]);
    expect(error.message).toBe('Invalid harness test.yaml:\n  - (root): unknown field "teem" (did you mean "team"?)');
  });

  it('rejects a misspelled member field ("promt"), at the member', async () => {
    const error = await specError(
      resolveHarness(
        harness([
          { name: 'a', prompt: 'p' },
          { name: 'b', promt: 'hi', prompt: 'p' },
        ]),
        opts(),
      ),
    );
    expect(error.issues).toEqual([{ path: 'team[1]', message: 'unknown field "promt" (did you mean "prompt"?)', suggestion: 'prompt' }]);
  });

  it('names each unknown field in an issue of its own, with its nearest field (none when nothing is close)', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', promt: 1, dependson: [], colour: 'red' }]), opts()));
    expect(error.issues).toEqual([
      { path: 'team[0]', message: 'unknown field "promt" (did you mean "prompt"?)', suggestion: 'prompt' },
      { path: 'team[0]', message: 'unknown field "dependson" (did you mean "depends_on"?)', suggestion: 'depends_on' },
      { path: 'team[0]', message: 'unknown field "colour"' },
    ]);
  });

  it('rejects duplicate member names', async () => {
    const error = await specError(
      resolveHarness(
        harness([
          { name: 'a', prompt: 'p' },
          { name: 'a', prompt: 'q' },
        ]),
        opts(),
      ),
    );
    expect(issueAt(error, 'team[1].name')).toContain('duplicate member name "a" (also team[0])');
    expect(error.message).toContain('team[1].name: duplicate member name "a"');
  });

  it('rejects an unknown depends_on target, listing the members', async () => {
    const error = await specError(
      resolveHarness(
        harness([
          { name: 'a', prompt: 'p' },
          { name: 'b', prompt: 'q', depends_on: ['a', 'c'] },
        ]),
        opts(),
      ),
    );
    expect(issueAt(error, 'team[1].depends_on[1]')).toContain('unknown member "c" (expected one of: a, b)');
  });

  it('rejects a self-dependency', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', depends_on: ['a'] }]), opts()));
    expect(issueAt(error, 'team[0].depends_on[0]')).toContain('"a" depends on itself');
  });

  it('rejects a cycle, showing it member by member', async () => {
    const error = await specError(
      resolveHarness(
        harness([
          { name: 'a', prompt: 'p', depends_on: ['b'] },
          { name: 'b', prompt: 'q', depends_on: ['a'] },
        ]),
        opts(),
      ),
    );
    expect(issueAt(error, 'team[0].depends_on')).toContain('dependency cycle: a → b → a');
  });

  it('graph issues show the value at their path, not a dump of the whole harness', async () => {
    const error = await specError(
      resolveHarness(
        harness([
          { name: 'a', prompt: 'p' },
          { name: 'a', prompt: 'q', depends_on: ['zz', 'a'] },
        ]),
        opts(),
      ),
    );
    expect(error.issues).toHaveLength(3);
    expect(issueAt(error, 'team[1].name')).toMatch(/^duplicate member name "a" \(also team\[0\]\)(, got "a")?$/);
    expect(issueAt(error, 'team[1].depends_on[0]')).toMatch(/^unknown member "zz" \(expected one of: a\)(, got "zz")?$/);
    expect(issueAt(error, 'team[1].depends_on[1]')).toMatch(/^"a" depends on itself(, got "a")?$/);

    const cycle = await specError(
      resolveHarness(
        harness([
          { name: 'a', prompt: 'p', depends_on: ['b'] },
          { name: 'b', prompt: 'q', depends_on: ['a'] },
        ]),
        opts(),
      ),
    );
    expect(issueAt(cycle, 'team[0].depends_on')).toMatch(/^dependency cycle: a → b → a(, got \["b"\])?$/);
  });

  it('rejects an empty prompt', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: '' }]), opts()));
    expect(issueAt(error, 'team[0].prompt')).toBe('expected a non-empty prompt, got ""');
  });

  it('rejects a whitespace-only prompt, showing it', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: ' \n\t ' }]), opts()));
    expect(issueAt(error, 'team[0].prompt')).toBe('expected a non-empty prompt, got " \\n\\t "');
  });

  it('rejects a prompt over MAX_PROMPT_BYTES UTF-8 bytes even when it has fewer characters', async () => {
    const prompt = '€'.repeat(Math.floor(MAX_PROMPT_BYTES / 3) + 1); // 3 bytes each: 100 002 bytes, 33 334 characters
    expect(prompt.length).toBeLessThan(MAX_PROMPT_BYTES);
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt }]), opts()));
    const message = issueAt(error, 'team[0].prompt');
    // Its size, not its text: the field and the figure say what is wrong.
    expect(message).toBe(`expected a prompt of at most ${MAX_PROMPT_BYTES} bytes, got 100002 bytes`);
  });

  it('accepts a prompt of exactly MAX_PROMPT_BYTES bytes', async () => {
    const resolved = await resolveHarness(harness([{ name: 'a', prompt: 'x'.repeat(MAX_PROMPT_BYTES) }]), opts());
    expect(resolved.spec.team![0]!.prompt).toHaveLength(MAX_PROMPT_BYTES);
  });

  it('rejects a team of 0 members', async () => {
    const error = await specError(resolveHarness(harness([]), opts()));
    expect(error.issues).toEqual([{ path: 'team', message: 'expected at least 1 member, got []' }]);
  });

  it('rejects a team of 9 members and accepts 8', async () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `m${i}`, prompt: 'p' }));
    const error = await specError(resolveHarness(harness(members(9)), opts()));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('team');
    expect(error.issues[0]!.message).toMatch(/^expected at most 8 members, got \[\{"name":"m0","prompt":"p"\}/);
    const ok = await resolveHarness(harness(members(8)), opts());
    expect(ok.spec.team).toHaveLength(8);
  });

  it('rejects a bad agent kind, naming the path and the value', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { agent: { kind: 'gpt' } }), opts()));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('agent.kind');
    expect(error.issues[0]!.message).toContain('"gpt"');
    expect(error.issues[0]!.message).toBe('expected "claude" or "command", got "gpt"');
    const typo = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { agent: { kind: 'claud' } }), opts()));
    expect(typo.issues).toEqual([{ path: 'agent.kind', message: 'expected "claude" or "command", got "claud" (did you mean "claude"?)', suggestion: 'claude' }]);
  });

  it('rejects a bad agent kind on a member', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', agent: { kind: 'shell' } }]), opts()));
    expect(error.issues[0]!.path).toBe('team[0].agent.kind');
    expect(error.issues[0]!.message).toContain('"shell"');
  });

  it('rejects a command agent with an empty argv', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', agent: { kind: 'command', argv: [] } }]), opts()));
    expect(error.issues).toEqual([{ path: 'team[0].agent.argv', message: 'expected at least the program to run, got []' }]);
  });

  it('rejects a command agent with an empty argument', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { agent: { kind: 'command', argv: ['bash', ''] } }), opts()));
    expect(error.issues).toEqual([{ path: 'agent.argv[1]', message: 'expected a non-empty argument, got ""' }]);
  });

  it('rejects a bad environment variable name, naming the bad name (not its value)', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', agent: { kind: 'claude', env: { 'BAD-NAME': 'x' } } }]), opts()));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('team[0].agent.env.BAD-NAME');
    expect(error.issues[0]!.message).toContain('"BAD-NAME"');
  });

  it('rejects a non-string environment value', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { agent: { kind: 'claude', env: { N: 5 } } }), opts()));
    expect(error.issues).toEqual([{ path: 'agent.env.N', message: 'expected string, got 5' }]);
  });

  it('rejects a non-object', async () => {
    const error = await specError(resolveHarness(null, opts()));
    expect(error.issues).toEqual([{ path: '(root)', message: 'expected object, got null' }]);
  });

  it('reports every schema issue at once', async () => {
    const error = await specError(
      resolveHarness(
        {
          name: 'bad name',
          team: [
            { name: 'a', prompt: '' },
            { name: 'b', prompt: 'p', agent: { kind: 'command', argv: [] } },
          ],
        },
        opts(),
      ),
    );
    expect(error.issues.map((i) => i.path)).toEqual(['name', 'team[0].prompt', 'team[1].agent.argv']);
    expect(issueAt(error, 'name')).toBe('expected 1 to 40 letters, digits, "_" or "-", starting with a letter or digit, got "bad name"');
  });
});

describe('resolveHarness: workdir', () => {
  it('rejects a workdir that does not exist, showing the value and the resolved path', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { workdir: 'missing' }), opts()));
    expect(error.issues).toEqual([{ path: 'workdir', message: `expected an existing directory, got "missing" (${path.join(root, 'missing')})` }]);
  });

  it('rejects a workdir that is a file', async () => {
    const file = path.join(root, 'a-file');
    await writeFile(file, 'x');
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p' }], { workdir: file }), opts()));
    expect(issueAt(error, 'workdir')).toBe(`expected an existing directory, got ${JSON.stringify(file)} (${file})`);
  });

  it('resolves a relative workdir against baseDir', async () => {
    const resolved = await resolveHarness(harness([{ name: 'a', prompt: 'p' }], { workdir: 'work/sub' }), opts());
    expect(resolved.workdir).toBe(path.join(root, 'work', 'sub'));
    expect(resolved.spec.workdir).toBe('work/sub');
  });

  it('keeps an absolute workdir', async () => {
    const resolved = await resolveHarness(harness([{ name: 'a', prompt: 'p' }], { workdir: path.join(root, 'work') }), opts());
    expect(resolved.workdir).toBe(path.join(root, 'work'));
  });

  it('leaves workdir undefined when none is given', async () => {
    const resolved = await resolveHarness(harness([{ name: 'a', prompt: 'p' }]), opts());
    expect(resolved.workdir).toBeUndefined();
    expect(resolved.skills).toEqual({});
    expect(resolved.source).toBe('test.yaml');
  });
});

describe('resolveHarness: skills', () => {
  it('resolves skills to absolute folders, from every skills dir', async () => {
    const resolved = await resolveHarness(
      harness([
        { name: 'a', prompt: 'p', skills: ['review'] },
        { name: 'b', prompt: 'q', skills: ['write-docs', 'deploy'] },
      ]),
      { ...opts(), skillsDirs: [skillsDir, otherSkillsDir] },
    );
    expect(Object.fromEntries(Object.values(resolved.skills).map((s) => [s.name, s.dir]))).toEqual({
      review: path.join(skillsDir, 'review'),
      'write-docs': path.join(skillsDir, 'write-docs'),
      deploy: path.join(otherSkillsDir, 'deploy'),
    });
    for (const skill of Object.values(resolved.skills)) expect(path.isAbsolute(skill.dir)).toBe(true);
  });

  it('rejects an unknown skill, listing the available ones', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['review', 'reveiw'] }]), opts()));
    expect(error.issues).toEqual([{ path: 'team[0].skills[1]', message: 'unknown skill "reveiw" (did you mean "review"? available: review, write-docs)', suggestion: 'review' }]);
  });

  it('says "none" when no skill is available', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['review'] }]), { ...opts(), skillsDirs: [path.join(root, 'nowhere')] }));
    expect(error.issues).toEqual([{ path: 'team[0].skills[0]', message: 'unknown skill "review" (available: none)' }]);
  });

  it('rejects a skill whose SKILL.md has no frontmatter, saying why', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['no-frontmatter'] }]), opts()));
    const file = path.join(skillsDir, 'no-frontmatter', 'SKILL.md');
    expect(error.issues).toEqual([{ path: 'team[0].skills[0]', message: `skill "no-frontmatter" is malformed: ${file} has no YAML frontmatter (--- name, description ---)` }]);
  });

  it('rejects a skill whose frontmatter name is invalid', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['bad-name'] }]), opts()));
    const file = path.join(skillsDir, 'bad-name', 'SKILL.md');
    expect(error.issues).toEqual([
      {
        path: 'team[0].skills[0]',
        message: `skill "bad-name" is malformed: ${file}: name: expected lowercase letters, digits and "-", at most 64`,
      },
    ]);
  });

  it('rejects a skill whose frontmatter name differs from its folder', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['renamed'] }]), opts()));
    const file = path.join(skillsDir, 'renamed', 'SKILL.md');
    expect(issueAt(error, 'team[0].skills[0]')).toBe(`skill "renamed" is malformed: ${file}: name "something-else" differs from its folder "renamed"`);
  });

  it('rejects a skill folder without SKILL.md', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['empty-folder'] }]), opts()));
    expect(issueAt(error, 'team[0].skills[0]')).toBe(`skill "empty-folder" is malformed: ${path.join(skillsDir, 'empty-folder', 'SKILL.md')} is missing`);
  });

  it('rejects an invalid skill name before looking on disk', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['Review'] }]), opts()));
    expect(error.issues).toEqual([{ path: 'team[0].skills[0]', message: 'expected a skill name: lowercase letters, digits and "-", at most 64, got "Review"' }]);
  });

  it('reports workdir and skill problems together', async () => {
    const error = await specError(resolveHarness(harness([{ name: 'a', prompt: 'p', skills: ['nope'] }], { workdir: 'missing' }), opts()));
    expect(error.issues.map((i) => i.path)).toEqual(['workdir', 'team[0].skills[0]']);
  });
});

describe('loadHarnessFile', () => {
  const write = async (name: string, text: string) => {
    const file = path.join(root, 'harnesses', name);
    await writeFile(file, text);
    return file;
  };

  it('loads a valid YAML file: relative workdir from the file folder, skills to absolute dirs', async () => {
    const file = await write(
      'ok.yaml',
      ['name: ok', 'goal: test', 'workdir: wd', 'team:', '  - name: a', '    prompt: hello', '    skills: [review]', '  - name: b', '    prompt: world', '    depends_on: [a]', ''].join('\n'),
    );
    const resolved: ResolvedHarness = await loadHarnessFile(file, { skillsDirs: [skillsDir] });
    expect(resolved.source).toBe(file);
    expect(resolved.workdir).toBe(path.join(root, 'harnesses', 'wd'));
    expect(Object.fromEntries(Object.values(resolved.skills).map((s) => [s.name, s.dir]))).toEqual({ review: path.join(skillsDir, 'review') });
    expect(resolved.spec).toEqual({
      name: 'ok',
      goal: 'test',
      workdir: 'wd',
      agent: { kind: 'claude' },
      team: [
        { name: 'a', prompt: 'hello', skills: ['review'] },
        { name: 'b', prompt: 'world', depends_on: ['a'] },
      ],
    });
  });

  it('resolves workdir against the file folder, not the process cwd', async () => {
    const file = await write('wd-missing.yaml', 'name: x\nworkdir: work\nteam:\n  - name: a\n    prompt: p\n');
    // `work` exists under root (the cwd-independent parent), but not next to the file.
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.issues).toEqual([{ path: 'workdir', message: `expected an existing directory, got "work" (${path.join(root, 'harnesses', 'work')})` }]);
  });

  it('accepts a JSON file', async () => {
    const file = await write('ok.json', JSON.stringify({ name: 'j', agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt: 'p' }] }));
    const resolved = await loadHarnessFile(file, { skillsDirs: [] });
    expect(resolved.spec).toEqual({ name: 'j', agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt: 'p' }] });
  });

  it('rejects a YAML syntax error with its line', async () => {
    const file = await write('syntax.yaml', 'name: x\nteam: [\n  - name: a\n');
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.source).toBe(file);
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) expect(issue.path).toBe('(file)');
    expect(error.issues[0]!.message).toMatch(/at line 3, column 3/);
    expect(error.message.startsWith(`Invalid harness ${file}:\n  - (file): `)).toBe(true);
  });

  it('rejects duplicate YAML keys with their line', async () => {
    const file = await write('dup.yaml', 'name: x\nteam:\n  - name: a\n    prompt: one\n    prompt: two\n');
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('(file)');
    expect(error.issues[0]!.message).toMatch(/^Map keys must be unique at line 5, column 5/);
  });

  it('rejects duplicate JSON keys too', async () => {
    const file = await write('dup.json', '{"name": "x", "name": "y", "team": [{"name": "a", "prompt": "p"}]}');
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.issues[0]!.message).toMatch(/^Map keys must be unique/);
  });

  it('rejects an empty file as a non-object', async () => {
    const file = await write('empty.yaml', '');
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.issues).toEqual([{ path: '(root)', message: 'expected object, got null' }]);
  });

  it('rejects a file that cannot be read', async () => {
    const file = path.join(root, 'harnesses', 'absent.yaml');
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.issues).toEqual([{ path: '(file)', message: 'cannot read it: ENOENT' }]);
  });

  it('reports schema errors from a file with the file as source', async () => {
    const file = await write('promt.yaml', 'name: x\nteam:\n  - name: a\n    promt: hi\n');
    const error = await specError(loadHarnessFile(file, { skillsDirs: [] }));
    expect(error.message).toBe(`Invalid harness ${file}:\n  - team[0].prompt: expected string, got nothing\n  - team[0]: unknown field "promt" (did you mean "prompt"?)`);
  });
});
