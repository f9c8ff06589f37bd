import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Accounts, createKeys } from '@reins/shared';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { credentialOf, unifiedLimitHeaders } from '../helpers/messages-api.js';
import { freePort } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';

const fixture = useClaudeFixture();

/** An accounts file with subscription accounts A and B (tokens tok-a, tok-b), for the fleet's workers. */
function accountsFile(accounts: { name: string; env: Record<string, string> }[]): string {
  const file = path.join(tempDir('accounts'), 'accounts.yaml');
  writeFileSync(
    file,
    `accounts:\n${accounts
      .map(
        (a) =>
          `  - name: ${a.name}\n    env:\n${Object.entries(a.env)
            .map(([k, v]) => `      ${k}: ${v}\n`)
            .join('')}`,
      )
      .join('')}`,
  );
  return file;
}
const subscriptions = () =>
  accountsFile([
    { name: 'A', env: { CLAUDE_CODE_OAUTH_TOKEN: 'tok-a' } },
    { name: 'B', env: { CLAUDE_CODE_OAUTH_TOKEN: 'tok-b' } },
  ]);
/** The fleet's environment: the test API, no credentials of its own (they are the accounts file's). */
const fleetEnv = (file: string | undefined, extra: Record<string, string> = {}) => ({
  ...CHAOS_ENV,
  ANTHROPIC_BASE_URL: fixture.api.url,
  CLAUDE_CODE_MAX_RETRIES: '0',
  ...(file ? { REINS_ACCOUNTS_FILE: file } : {}),
  ...extra,
});
const account = (req: Parameters<typeof credentialOf>[0]) => ({ 'tok-a': 'A', 'tok-b': 'B' })[credentialOf(req)] ?? credentialOf(req);
const hour = () => Date.now() + 3600_000;

describe('accounts, with the real CLI', () => {
  it("A's five-hour window is rejected mid-member: the member resumes under B with its whole conversation, no attempt used", async () => {
    const seen: { account: string; turn: number; texts: string }[] = [];
    fixture.script((req) => {
      seen.push({ account: account(req), turn: req.turn, texts: JSON.stringify(req.body.messages) });
      if (account(req) === 'A' && req.turn === 0) {
        // A's first answer: a tool call (so the conversation has something to carry), then the window closes.
        return { toolUse: [{ name: 'Bash', input: { command: 'echo first-turn-on-A > turn.txt' } }], headers: unifiedLimitHeaders({ status: 'allowed', utilization: 0.5, resetsAt: hour() }) };
      }
      if (account(req) === 'A') return { error: { status: 429, message: 'rate limited', headers: unifiedLimitHeaders({ status: 'rejected', utilization: 1, resetsAt: hour() }) } };
      return { text: 'finished under B', headers: unifiedLimitHeaders({ status: 'allowed', utilization: 0.1, resetsAt: hour() }) };
    });
    const harness = await writeHarness(tempDir('moved'), { name: 'moved', team: [{ name: 'solo', prompt: 'Do the task.', accounts: ['A', 'B'] }] });
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv(subscriptions()) }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      // A first: B reports higher utilization until A is rejected.
      await fixture.redis.client.hset(createKeys(fleet.prefix).account('B'), 'w:five_hour', JSON.stringify({ status: 'allowed', utilization: 0.3, at: Date.now() }));
      const runId = (await fleet.reins(['submit', harness])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => [a.outcome, a.account])).toEqual([
        ['rate_limit', 'A'],
        ['succeeded', 'B'],
      ]);
      // No attempt used: both ran as attempt 1.
      expect(attempts.map((a) => a.attempt)).toEqual([1, 1]);
      // B got the whole conversation: A's tool call and its result.
      const onB = seen.find((s) => s.account === 'B')!;
      expect(onB.texts).toContain('first-turn-on-A');
      expect(onB.turn).toBeGreaterThan(0);
      const [a] = await new Accounts(fixture.redis.client, createKeys(fleet.prefix), 1000).states(['A']);
      expect(a!.pausedUntil).toBeGreaterThan(Date.now());
      // reins status and the board's run page name the account of each attempt.
      const status = await fleet.reins(['status', runId]);
      expect(status.stdout).toMatch(/rate_limit.*\(account A\)/);
      const page = await (await fetch(`${await fleet.startBoard(await freePort())}/runs/${runId}`)).text();
      expect(page).toMatch(/data-outcome="rate_limit">rate_limit<\/span><\/td>\s*<td>.*?<\/td>\s*<td>A<\/td>/);
      expect(page).toMatch(/data-outcome="succeeded">succeeded<\/span><\/td>\s*<td>.*?<\/td>\s*<td>B<\/td>/);
    });
  });

  it('both accounts rejected: the member waits for the earlier reset, using no attempt, then finishes by itself', async () => {
    const second = (inS: number) => (Math.floor(Date.now() / 1000) + inS) * 1000;
    // Far enough apart that B is asked (and refused) well before A resets: the member must wait for A.
    const resets: Record<string, number> = { A: second(8), B: second(20) };
    fixture.script((req) => {
      const name = account(req);
      const resetsAt = resets[name]!;
      if (Date.now() < resetsAt) return { error: { status: 429, message: 'rate limited', headers: unifiedLimitHeaders({ status: 'rejected', utilization: 1, resetsAt }) } };
      return { text: `finished under ${name}`, headers: unifiedLimitHeaders({ status: 'allowed', utilization: 0.2, resetsAt: hour() }) };
    });
    const harness = await writeHarness(tempDir('both'), { name: 'both', team: [{ name: 'solo', prompt: 'Do the task.' }] });
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv(subscriptions()) }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', harness])).stdout.trim();
      // While both are paused, the member says until when it waits: A's reset, the earlier.
      const waiting = await waitFor(async () => {
        const m = await store.getMember(runId, 'solo');
        return m?.status === 'retrying' && m.retryAt === resets.A ? m : undefined;
      }, 'the member to wait for the earlier reset');
      expect(waiting.error).toContain(`waiting until ${new Date(resets.A!).toISOString()}`);
      expect((await fleet.reins(['status', runId])).stdout).toContain(`waiting until ${new Date(resets.A!).toISOString()}`);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => [a.outcome, a.account, a.attempt])).toEqual([
        ['rate_limit', 'A', 1],
        ['rate_limit', 'B', 1],
        ['succeeded', 'A', 1],
      ]);
      expect(attempts[2]!.startedAt).toBeGreaterThanOrEqual(resets.A!);
    });
  });

  it('an account at allowed_warning (0.95) takes no new agents while another has room', async () => {
    fixture.script((req) => ({ text: `done under ${account(req)}` }));
    const harness = await writeHarness(tempDir('warned'), {
      name: 'warned',
      team: [
        { name: 'one', prompt: 'One.' },
        { name: 'two', prompt: 'Two.' },
      ],
    });
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv(subscriptions()) }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const state = new Accounts(fixture.redis.client, createKeys(fleet.prefix), 1000);
      await state.observe('A', { status: 'allowed_warning', rateLimitType: 'five_hour', utilization: 0.95, resetsAt: Math.floor(hour() / 1000) });
      await state.observe('B', { status: 'allowed', rateLimitType: 'five_hour', utilization: 0.5, resetsAt: Math.floor(hour() / 1000) });
      const runId = (await fleet.reins(['submit', harness])).stdout.trim();
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
      for (const member of ['one', 'two']) expect((await store.readAttempts(runId, member)).map((a) => a.account)).toEqual(['B']);
      // reins accounts shows both, with their windows and today's usage (added once each attempt has let go of
      // its account, just after it is recorded).
      await waitFor(async () => (await state.usage('B')).attempts === 2, "B's two attempts in its usage today");
      const listed = JSON.parse((await fleet.reins(['accounts', '--json'])).stdout) as { accounts: { name: string; windows: Record<string, { utilization: number }>; today: { attempts: number }; workers: string[] }[] };
      expect(listed.accounts.map((a) => [a.name, a.windows.five_hour?.utilization, a.today.attempts, a.workers])).toEqual([
        ['A', 0.95, 0, ['w1']],
        ['B', 0.5, 2, ['w1']],
      ]);
      expect((await fleet.reins(['accounts'])).stdout).toMatch(/A\s+ok\s+five_hour 95% allowed_warning/);
    });
  });
});

describe('auth failures, with the real CLI', () => {
  it('a worker with no credentials at all: class auth on attempt 1, naming what to set, no retries; reins submit warned', async () => {
    fixture.script(() => ({ text: 'never asked' }));
    const asked = fixture.api.requests.length;
    const harness = await writeHarness(tempDir('nocreds'), { name: 'nocreds', retry: { attempts: 3 }, team: [{ name: 'solo', prompt: 'Do the task.' }] });
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv(undefined) }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const submitted = await fleet.reins(['submit', harness]);
      expect(submitted.stderr).toContain('warning: no live worker holds a Claude account with credentials, so solo cannot run');
      const view = await waitForRunEnd(store, submitted.stdout.trim());
      expect(view.status).toBe('failed');
      const attempts = await store.readAttempts(submitted.stdout.trim(), 'solo');
      expect(attempts.map((a) => [a.outcome, a.attempt, a.account])).toEqual([['auth', 1, 'default']]);
      expect(attempts[0]!.message).toContain('Not logged in');
      expect(attempts[0]!.message).toContain("set ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN in the worker's environment");
      // Claude Code gave up before asking the API anything.
      expect(fixture.api.requests.length).toBe(asked);
      // The account is broken for the fleet now: the next run's member fails before an agent starts.
      const next = (await fleet.reins(['submit', harness])).stdout.trim();
      expect((await waitForRunEnd(store, next)).status).toBe('failed');
      const refused = await store.getMember(next, 'solo');
      expect([refused?.errorClass, refused?.attempts]).toEqual(['auth', 0]);
      expect(refused?.error).toContain('account default was refused (the credentials were refused: Not logged in');
    });
  });

  it('a refused key (Claude Code would retry it for minutes): class auth on attempt 1, naming the account and the variable', async () => {
    fixture.script(() => ({ error: { status: 401, message: 'invalid x-api-key' } }));
    const file = accountsFile([{ name: 'bad', env: { ANTHROPIC_API_KEY: 'bad-key' } }]);
    const harness = await writeHarness(tempDir('refused'), { name: 'refused', retry: { attempts: 3 }, team: [{ name: 'solo', prompt: 'Do the task.' }] });
    // Claude Code's own retries left on: the worker stops it at its first retry of the refused key.
    const env = fleetEnv(file);
    delete (env as Record<string, string>).CLAUDE_CODE_MAX_RETRIES;
    await withFleet({ redisUrl: fixture.redis.url, env }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', harness])).stdout.trim();
      expect((await waitForRunEnd(store, runId)).status).toBe('failed');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => [a.outcome, a.attempt, a.account])).toEqual([['auth', 1, 'bad']]);
      expect(attempts[0]!.message).toContain(`fix ANTHROPIC_API_KEY of REINS_ACCOUNTS_FILE (${file}), account "bad"`);
      const [bad] = await new Accounts(fixture.redis.client, createKeys(fleet.prefix), 1000).states(['bad']);
      expect(bad!.broken?.message).toBeDefined();
    });
  });

  it('with a second working account, the member moves there instead, using no attempt', async () => {
    fixture.script((req) => (credentialOf(req) === 'good-key' ? { text: 'done with the good key' } : { error: { status: 401, message: 'invalid x-api-key' } }));
    const file = accountsFile([
      { name: 'bad', env: { ANTHROPIC_API_KEY: 'bad-key' } },
      { name: 'good', env: { ANTHROPIC_API_KEY: 'good-key' } },
    ]);
    const harness = await writeHarness(tempDir('moves'), { name: 'moves', team: [{ name: 'solo', prompt: 'Do the task.' }] });
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv(file) }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      // bad first: good reports more use.
      await new Accounts(fixture.redis.client, createKeys(fleet.prefix), 1000).observe('good', { status: 'allowed', rateLimitType: 'five_hour', utilization: 0.4 });
      const runId = (await fleet.reins(['submit', harness])).stdout.trim();
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => [a.outcome, a.attempt, a.account])).toEqual([
        ['auth', 1, 'bad'],
        ['succeeded', 1, 'good'],
      ]);
    });
  });
});
