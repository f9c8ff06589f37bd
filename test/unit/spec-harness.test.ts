import { describe, it, expect } from 'vitest';
import { HarnessSchema, MAX_PROMPT_BYTES, MAX_TEAM_SIZE, dependencyOrder, teamGraphIssues } from '../../libs/shared/src/spec/harness.js';

const m = (name: string, depends_on?: string[]) => (depends_on ? { name, depends_on } : { name });

describe('constants', () => {
  it('caps prompts at 100 000 bytes and teams at 8 members', () => {
    expect(MAX_PROMPT_BYTES).toBe(100_000);
    expect(MAX_TEAM_SIZE).toBe(8);
  });
});

describe('teamGraphIssues', () => {
  it('returns nothing for a valid DAG', () => {
    expect(teamGraphIssues([m('a'), m('b', ['a']), m('c', ['a', 'b'])])).toEqual([]);
  });

  it('reports a duplicate name at the second occurrence, naming the first', () => {
    expect(teamGraphIssues([m('a'), m('b'), m('a')])).toEqual([{ path: ['team', 2, 'name'], message: 'duplicate member name "a" (also team[0])' }]);
  });

  it('reports an unknown dependency with the known names', () => {
    expect(teamGraphIssues([m('a'), m('b', ['a', 'ghost'])])).toEqual([{ path: ['team', 1, 'depends_on', 1], message: 'unknown member "ghost" (expected one of: a, b)' }]);
  });

  it('reports a self-dependency', () => {
    expect(teamGraphIssues([m('a', ['a'])])).toEqual([{ path: ['team', 0, 'depends_on', 0], message: '"a" depends on itself' }]);
  });

  it('reports a two-member cycle as a path', () => {
    expect(teamGraphIssues([m('a', ['b']), m('b', ['a'])])).toEqual([{ path: ['team', 0, 'depends_on'], message: 'dependency cycle: a → b → a' }]);
  });

  it('reports a longer cycle from where it starts, not from an outside member that leads into it', () => {
    // x → a → b → c → a: the cycle is a → b → c → a, placed at a's index.
    expect(teamGraphIssues([m('x', ['a']), m('a', ['b']), m('b', ['c']), m('c', ['a'])])).toEqual([{ path: ['team', 1, 'depends_on'], message: 'dependency cycle: a → b → c → a' }]);
  });

  it('does not look for cycles while names are broken', () => {
    const issues = teamGraphIssues([m('a', ['b']), m('b', ['a']), m('b')]);
    expect(issues).toEqual([{ path: ['team', 2, 'name'], message: 'duplicate member name "b" (also team[1])' }]);
  });
});

describe('dependencyOrder', () => {
  it('keeps the file order when there are no dependencies', () => {
    expect(dependencyOrder([m('a'), m('b'), m('c')]).map((x) => x.name)).toEqual(['a', 'b', 'c']);
  });

  it('puts every member after what it depends on, ties broken by file order', () => {
    const team = [m('report', ['fetch', 'clean']), m('clean', ['fetch']), m('fetch'), m('lint')];
    expect(dependencyOrder(team).map((x) => x.name)).toEqual(['fetch', 'clean', 'report', 'lint']);
  });

  it('returns the same objects it was given', () => {
    const a = { name: 'a', extra: 1 };
    const b = { name: 'b', depends_on: ['a'], extra: 2 };
    const ordered = dependencyOrder([b, a]);
    expect(ordered[0]).toBe(a);
    expect(ordered[1]).toBe(b);
  });

  it('throws on a cycle', () => {
    expect(() => dependencyOrder([m('a', ['b']), m('b', ['a'])])).toThrow('dependencyOrder: the team has a cycle');
  });
});

describe('HarnessSchema', () => {
  it('takes account or accounts on a member and on the harness, not both, with names as accounts files give them', () => {
    const ok = HarnessSchema.safeParse({
      name: 'h',
      accounts: ['team-a', 'api.b'],
      team: [
        { name: 'a', prompt: 'p', account: 'team-a' },
        { name: 'b', prompt: 'p', accounts: ['api.b'] },
      ],
    });
    expect(ok.success).toBe(true);
    const both = HarnessSchema.safeParse({ name: 'h', account: 'x', accounts: ['y'], team: [{ name: 'a', prompt: 'p', account: 'x', accounts: ['y'] }] });
    expect(both.success ? [] : both.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['account: expected account or accounts, not both', 'team.0.account: expected account or accounts, not both']);
    const badName = HarnessSchema.safeParse({ name: 'h', team: [{ name: 'a', prompt: 'p', account: 'has space' }] });
    expect(badName.success ? [] : badName.error.issues.map((i) => i.path.join('.'))).toEqual(['team.0.account']);
  });

  it('defaults the agent to claude', () => {
    const parsed = HarnessSchema.parse({ name: 'h', team: [{ name: 'a', prompt: 'p' }] });
    expect(parsed.agent).toEqual({ kind: 'claude' });
  });

  it('accepts a full harness', () => {
    const value = {
      name: 'full_1',
      goal: 'g',
      workdir: '.',
      agent: { kind: 'claude', model: 'sonnet', maxTurns: 3, appendSystemPrompt: 'x', env: { API_TIMEOUT_MS: '1000' } },
      team: [
        { name: 'a', prompt: 'p', skills: ['s-1'] },
        { name: 'b', prompt: 'q', depends_on: ['a'], agent: { kind: 'command', argv: ['bash', '-c', 'true'], env: { _X: '' } } },
      ],
      limits: { timeoutMs: 1000, maxTurns: 5 },
      retry: { attempts: 2 },
    };
    expect(HarnessSchema.parse(value)).toEqual(value);
  });

  it('rejects member names with dots, spaces or over 40 characters', () => {
    for (const name of ['a.b', 'a b', '-a', 'x'.repeat(41), '']) {
      expect(HarnessSchema.safeParse({ name: 'h', team: [{ name, prompt: 'p' }] }).success, name).toBe(false);
    }
    expect(HarnessSchema.safeParse({ name: 'h', team: [{ name: 'x'.repeat(40), prompt: 'p' }] }).success).toBe(true);
  });

  it('counts prompt size in UTF-8 bytes', () => {
    const at = (prompt: string) => HarnessSchema.safeParse({ name: 'h', team: [{ name: 'a', prompt }] }).success;
    expect(at('a'.repeat(MAX_PROMPT_BYTES))).toBe(true);
    expect(at('a'.repeat(MAX_PROMPT_BYTES + 1))).toBe(false);
    // 'é' is 2 bytes: 50 000 of them is exactly the limit, one more is over while still far under in characters.
    expect(at('é'.repeat(MAX_PROMPT_BYTES / 2))).toBe(true);
    expect(at('é'.repeat(MAX_PROMPT_BYTES / 2) + 'a')).toBe(false);
  });

  it('rejects retry attempts over 50 and non-integer limits', () => {
    const base = { name: 'h', team: [{ name: 'a', prompt: 'p' }] };
    expect(HarnessSchema.safeParse({ ...base, retry: { attempts: 51 } }).success).toBe(false);
    expect(HarnessSchema.safeParse({ ...base, limits: { timeoutMs: 1.5 } }).success).toBe(false);
    expect(HarnessSchema.safeParse({ ...base, limits: { maxTurns: 0 } }).success).toBe(false);
  });

  it('takes token caps as whole numbers of tokens, 1 or more', () => {
    const base = { name: 'h', team: [{ name: 'a', prompt: 'p' }] };
    expect(HarnessSchema.parse({ ...base, limits: { maxTokens: 1, runMaxTokens: 5_000_000 } }).limits).toEqual({ maxTokens: 1, runMaxTokens: 5_000_000 });
    for (const bad of [0, -1, 1.5, '100', Number.MAX_SAFE_INTEGER + 2]) {
      for (const field of ['maxTokens', 'runMaxTokens']) {
        const parsed = HarnessSchema.safeParse({ ...base, limits: { [field]: bad } });
        expect(parsed.success, `${field}: ${bad}`).toBe(false);
        expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([[`limits.${field}`, 'expected a whole number of tokens, 1 or more']]);
      }
    }
  });
});
