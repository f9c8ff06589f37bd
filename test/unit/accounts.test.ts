import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAccount, type Candidate } from '../../libs/shared/src/accounts/choose.js';
import { parseAccount, windowsOf, type AccountState } from '../../libs/shared/src/accounts/account-state.js';
import { credentialAdvice, loadAccounts } from '../../apps/worker/src/accounts.js';
import { classifyClaude } from '../../apps/worker/src/claude/outcome.js';
import type { ConfigError } from '../../libs/shared/src/errors/config-error.js';

const NOW = Date.UTC(2026, 11, 2, 12);
const state = (name: string, extra: Partial<AccountState> = {}, utilization?: number): AccountState => ({
  name,
  windows: utilization === undefined ? {} : { five_hour: { status: utilization >= 0.9 ? 'allowed_warning' : 'allowed', utilization, at: NOW } },
  ...extra,
});
const candidate = (s: AccountState, running = 0, max?: number): Candidate => ({ state: s, running, max });

describe('chooseAccount', () => {
  it('takes the lowest utilization', () => {
    expect(chooseAccount([candidate(state('a', {}, 0.6)), candidate(state('b', {}, 0.2)), candidate(state('c', {}, 0.4))], NOW, 0.9)).toEqual({ kind: 'use', name: 'b' });
  });

  it('gives no new agent to an account above the warning threshold while another has room', () => {
    expect(chooseAccount([candidate(state('a', {}, 0.95)), candidate(state('b', {}, 0.5), 3)], NOW, 0.9)).toEqual({ kind: 'use', name: 'b' });
    // When all are above it, the lowest still takes the agent.
    expect(chooseAccount([candidate(state('a', {}, 0.97)), candidate(state('b', {}, 0.95))], NOW, 0.9)).toEqual({ kind: 'use', name: 'b' });
  });

  it('passes over a paused account, and waits for the earliest reset when all are paused', () => {
    const paused = (name: string, inMs: number) => candidate(state(name, { pausedUntil: NOW + inMs, pausedWhy: 'limit' }));
    expect(chooseAccount([paused('a', 5_000), candidate(state('b', {}, 0.99))], NOW, 0.9)).toEqual({ kind: 'use', name: 'b' });
    const both = chooseAccount([paused('a', 9_000), paused('b', 4_000)], NOW, 0.9);
    expect(both).toMatchObject({ kind: 'wait', untilMs: NOW + 4_000 });
    expect(both.kind === 'wait' && both.reason).toContain('every account it may use is paused by a usage limit: a until');
    // A pause that has ended is no pause.
    expect(chooseAccount([paused('a', -1)], NOW, 0.9)).toEqual({ kind: 'use', name: 'a' });
  });

  it('keeps an account at its cap for later, and says so', () => {
    const full = chooseAccount([candidate(state('a'), 2, 2)], NOW, 0.9);
    expect(full).toMatchObject({ kind: 'wait', untilMs: undefined });
    expect(full.kind === 'wait' && full.reason).toContain('a 2/2');
    expect(chooseAccount([candidate(state('a'), 2, 2), candidate(state('b', {}, 0.8), 5)], NOW, 0.9)).toEqual({ kind: 'use', name: 'b' });
  });

  it('has nothing to wait for when every account is broken', () => {
    const broken = chooseAccount([candidate(state('a', { broken: { message: 'Invalid API key', at: NOW, fingerprint: 'f' } }))], NOW, 0.9);
    expect(broken).toEqual({ kind: 'none', reason: 'a is broken (Invalid API key)' });
    expect(chooseAccount([], NOW, 0.9).kind).toBe('none');
  });
});

describe('account state', () => {
  it("reads a rate_limit_event's windows, in ms, and the one it names", () => {
    const windows = windowsOf(
      { status: 'allowed_warning', resetsAt: 1_796_160_610, rateLimitType: 'five_hour', utilization: 0.93, unifiedWindows: { seven_day: { status: 'allowed', utilization: 0.4, resetsAt: 1_796_500_000 } } },
      NOW,
    );
    expect(windows).toEqual({
      five_hour: { status: 'allowed_warning', utilization: 0.93, resetsAt: 1_796_160_610_000, at: NOW },
      seven_day: { status: 'allowed', utilization: 0.4, resetsAt: 1_796_500_000_000, at: NOW },
    });
  });

  it('parses its hash, ignoring what it cannot read', () => {
    const parsed = parseAccount('a', { 'w:five_hour': JSON.stringify({ status: 'rejected', utilization: 1, at: NOW }), 'w:bad': '{', pausedUntil: String(NOW + 1), pausedWhy: 'limit', broken: 'nope' });
    expect(parsed).toEqual({ name: 'a', windows: { five_hour: { status: 'rejected', utilization: 1, at: NOW } }, pausedUntil: NOW + 1, pausedWhy: 'limit' });
  });
});

describe('loadAccounts', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reins-accounts-'));
  const file = (name: string, text: string) => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };
  const refusal = async (at: string): Promise<string> => {
    const error = (await loadAccounts(at, {}).catch((e: unknown) => e)) as ConfigError;
    expect(error.name).toBe('ConfigError');
    return error.message;
  };

  it('without a file, holds one account named default, from the environment', async () => {
    const [account, ...rest] = await loadAccounts(undefined, { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://x', PATH: '/bin' });
    expect(rest).toEqual([]);
    expect(account).toMatchObject({ name: 'default', env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://x' }, max: undefined });
    expect(credentialAdvice(account!)).toContain("in the worker's environment, or name an accounts file in REINS_ACCOUNTS_FILE");
  });

  it('reads the accounts of a file, each with its cap and a fingerprint of its secrets', async () => {
    const at = file('good.yaml', 'accounts:\n  - name: team-a\n    env: {CLAUDE_CODE_OAUTH_TOKEN: tok-a}\n    max: 3\n  - name: api-b\n    env: {ANTHROPIC_API_KEY: sk-b, ANTHROPIC_BASE_URL: "https://proxy.example"}\n');
    const accounts = await loadAccounts(at, { ANTHROPIC_API_KEY: 'ignored' });
    expect(accounts.map((a) => [a.name, a.env, a.max])).toEqual([
      ['team-a', { CLAUDE_CODE_OAUTH_TOKEN: 'tok-a' }, 3],
      ['api-b', { ANTHROPIC_API_KEY: 'sk-b', ANTHROPIC_BASE_URL: 'https://proxy.example' }, undefined],
    ]);
    expect(accounts[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(accounts[0]!.fingerprint).not.toBe(accounts[1]!.fingerprint);
    expect(credentialAdvice(accounts[1]!)).toBe(`fix ANTHROPIC_API_KEY of REINS_ACCOUNTS_FILE (${at}), account "api-b", then restart the worker`);
  });

  it('refuses an unknown field, naming the entry and the field, without the secret', async () => {
    const message = await refusal(file('unknown.yaml', 'accounts:\n  - name: team-a\n    env: {CLAUDE_CODE_OAUTH_TOKEN: sk-secret-123, ANTHROPIC_MODEL: x}\n'));
    expect(message).toContain('accounts[0] (team-a).env: unknown field "ANTHROPIC_MODEL"');
    expect(message).not.toContain('sk-secret-123');
  });

  it('refuses a duplicate name, naming both entries', async () => {
    const message = await refusal(file('dup.yaml', 'accounts:\n  - {name: a, env: {ANTHROPIC_API_KEY: sk-one}}\n  - {name: a, env: {ANTHROPIC_API_KEY: sk-two}}\n'));
    expect(message).toContain('accounts[1].name: expected a name of its own: "a" is the name of accounts[0] too');
    expect(message).not.toMatch(/sk-one|sk-two/);
  });

  it('refuses an empty secret, a secret that is not a string and an account without one, never printing a secret', async () => {
    expect(await refusal(file('empty.yaml', 'accounts:\n  - {name: a, env: {ANTHROPIC_API_KEY: ""}}\n'))).toContain('accounts[0] (a).env.ANTHROPIC_API_KEY: expected a non-empty secret');
    const typed = await refusal(file('number.yaml', 'accounts:\n  - {name: a, env: {ANTHROPIC_API_KEY: 123456789}}\n'));
    expect(typed).toContain('accounts[0] (a).env.ANTHROPIC_API_KEY');
    expect(typed).not.toContain('123456789');
    expect(await refusal(file('none.yaml', 'accounts:\n  - {name: a, env: {ANTHROPIC_BASE_URL: "http://x"}}\n'))).toContain('expected one of ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN');
  });

  it('refuses a missing file, a file that is not YAML and one over its size cap, naming the variable', async () => {
    expect(await refusal(path.join(dir, 'missing.yaml'))).toMatch(/REINS_ACCOUNTS_FILE \(.*missing\.yaml\): cannot read the file: ENOENT/);
    expect(await refusal(file('bad.yaml', 'accounts: [\n'))).toContain('expected YAML');
    expect(await refusal(file('big.yaml', `# ${'x'.repeat(300 * 1024)}\n`))).toContain('expected at most 262144 bytes');
  });
});

describe('classifyClaude and accounts', () => {
  const ended = (result: string, extra: Record<string, unknown> = {}) => ({ result: { type: 'result' as const, subtype: 'success', is_error: true, result, ...extra }, exitCode: 1, stderrTail: '' });

  it('reads "You\'ve hit your 5-hour limit · resets …" as a rate limit with its reset', () => {
    const outcome = classifyClaude(ended("You've hit your 5-hour limit · resets 9:30pm (UTC)", { api_error_status: 429 }));
    expect(outcome).toMatchObject({ ok: false, failureClass: 'rate_limit' });
    expect(outcome.ok === false && outcome.resetAt).toBeGreaterThan(0);
  });

  it('reads "Not logged in" as auth, not a crash', () => {
    expect(classifyClaude(ended('Not logged in · Please run /login'))).toMatchObject({ ok: false, failureClass: 'auth', retryable: false });
  });
});
