import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Accounts, createKeys } from '@reins/shared';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { credentialOf, unifiedLimitHeaders } from '../helpers/messages-api.js';
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
      // reins status names the account of each attempt.
      const status = await fleet.reins(['status', runId]);
      expect(status.stdout).toMatch(/rate_limit.*\(account A\)/);
    });
  });
});
