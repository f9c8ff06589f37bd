import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { reinsBin } from '../helpers/fleet.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';

// `reins validate` as a person meets it: no Redis anywhere (REINS_REDIS_URL points at a closed port), the CLI
// spawned from scratch, each bad file with the message it must print.
const dir = tempDir('validate');
const env = { ...scratchEnv(), REINS_REDIS_URL: 'redis://127.0.0.1:1' };

async function validate(name: string, text: string, json = false) {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const result = await execa(process.execPath, [reinsBin, 'validate', file, ...(json ? ['--json'] : [])], { env, extendEnv: false, reject: false, stdin: 'ignore' });
  return { ...result, file };
}

const CATALOGUE: { name: string; text: string; lines: string[] }[] = [
  { name: 'promt.yaml', text: 'name: h\nteam:\n  - name: a\n    promt: hi\n', lines: ['team[0].prompt: expected string, got nothing', 'team[0]: unknown field "promt" (did you mean "prompt"?)'] },
  { name: 'teem.yaml', text: 'name: h\nteem: []\n', lines: ['(root): unknown field "teem" (did you mean "team"?)', 'team: expected a team of 1 to 8 members, or plan: auto with a goal'] },
  { name: 'kind.yaml', text: 'name: h\nagent: { kind: claud }\nteam: [{ name: a, prompt: p }]\n', lines: ['agent.kind: expected "claude" or "command", got "claud" (did you mean "claude"?)'] },
  { name: 'kind-missing.yaml', text: 'name: h\nagent: { model: x }\nteam: [{ name: a, prompt: p }]\n', lines: ['agent.kind: expected "claude" or "command" (the field is missing)'] },
  {
    name: 'member.yaml',
    text: 'name: h\nteam:\n  - { name: writer, prompt: p }\n  - { name: b, prompt: q, depends_on: [writr] }\n',
    lines: ['team[1].depends_on[0]: unknown member "writr" (did you mean "writer"? expected one of: writer, b)'],
  },
  {
    name: 'skill.yaml',
    text: 'name: h\nteam:\n  - { name: a, prompt: p, skills: [git-hygeine] }\n',
    lines: ['team[0].skills[0]: unknown skill "git-hygeine" (did you mean "git-hygiene"? available: git-hygiene, reins-checkpoint, reins-team)'],
  },
  { name: 'cycle.yaml', text: 'name: h\nteam:\n  - { name: a, prompt: p, depends_on: [b] }\n  - { name: b, prompt: q, depends_on: [a] }\n', lines: ['team[0].depends_on: dependency cycle: a → b → a'] },
  {
    name: 'quote.yaml',
    text: 'name: h\ngoal: "convert numerals\nteam:\n  - { name: a, prompt: p }\n',
    lines: ['(file): line 2, column 7: the quoted string "convert numerals is never closed; add the closing " where it ends (a quoted string may run over lines, so the parser read on to the end of the file)'],
  },
  {
    name: 'tokens.yaml',
    text: 'name: h\nlimits: { maxTokens: 0, runMaxTokens: 1.5 }\nteam: [{ name: a, prompt: p }]\n',
    lines: ['limits.maxTokens: expected a whole number of tokens, 1 or more, got 0', 'limits.runMaxTokens: expected a whole number of tokens, 1 or more, got 1.5'],
  },
  { name: 'tab.yaml', text: 'name: h\nteam:\n\t- name: a\n', lines: ['(file): line 3 is indented with a tab; YAML indents with spaces only'] },
  { name: 'flow.yaml', text: 'name: h\nteam: [a, b\n', lines: ['(file): Flow sequence in block collection must be sufficiently indented and end with a ] at the end of the file (after line 2)'] },
];

describe('reins validate', () => {
  for (const entry of CATALOGUE) {
    it(`${entry.name}: exit 2 with exactly its messages`, async () => {
      const result = await validate(entry.name, entry.text);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toEqual([`Invalid harness ${result.file}:`, ...entry.lines.map((l) => `  - ${l}`)]);
    });
  }

  it('reports every problem of a file at once: shape, graph and skills, each with its suggestion, in --json too', async () => {
    const text = [
      'name: h',
      'teem: 1',
      'agent: { kind: claud }',
      'team:',
      '  - { name: writer, promt: x, skills: [git-hygeine] }',
      '  - { name: b, prompt: y, depends_on: [writr, c] }',
      '  - { name: c, prompt: z, depends_on: [b] }',
      '',
    ].join('\n');
    const result = await validate('everything.yaml', text, true);
    expect(result.exitCode).toBe(2);
    const report = JSON.parse(result.stdout) as { ok: boolean; issues: { path: string; message: string; suggestion?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => [i.path, i.suggestion])).toEqual([
      ['agent.kind', 'claude'],
      ['team[0].prompt', undefined],
      ['team[0]', 'prompt'],
      ['(root)', 'team'],
      ['team[1].depends_on[0]', 'writer'],
      ['team[1].depends_on', undefined],
      ['team[0].skills[0]', 'git-hygiene'],
    ]);
    expect(report.issues[5]!.message).toBe('dependency cycle: b → c → b');
  });

  it('accepts a clean file with ok and a one-line summary of the team, exit 0', async () => {
    await mkdir(path.join(dir, 'skills/notes'), { recursive: true });
    await writeFile(path.join(dir, 'skills/notes/SKILL.md'), '---\nname: notes\ndescription: d\n---\nbody\n');
    const text = 'name: good\nskillPaths: [./skills]\nteam:\n  - { name: a, prompt: p, skills: [notes] }\n  - { name: b, prompt: q, depends_on: [a] }\n';
    const result = await validate('good.yaml', text);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('ok  good: 2 members: a, b (after a); agent claude; skills notes');
    const json = await validate('good.yaml', text, true);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, issues: [], summary: 'good: 2 members: a, b (after a); agent claude; skills notes' });
  });
});
