import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Budgets, createKeys, type RunView } from '@reins/shared';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { openGate, processesOfRun, toolWaitsOn, waitForGateSh } from '../helpers/gate.js';

/**
 * Token budgets with the real Claude Code CLI. The test Messages API says how many tokens each reply used;
 * Claude Code reports them in stream-json (each assistant line with its message's usage as the stream began,
 * output_tokens 1 there; the result line with the final sum), and the worker counts and caps them. Dollar
 * cost plays no part: on a subscription it reads 0.
 */
const fixture = useClaudeFixture();

/** A reply of exactly `tokens` tokens, the same in the assistant lines (output 1, provisional) as in the result. */
const costing = (tokens: number) => ({ input_tokens: tokens - 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });

const fleetEnv = () => ({ ...CHAOS_ENV, ...fixture.apiEnv() });

type MemberWithTokens = RunView['members'][number] & { tokens?: number; errorClass?: string };

describe('token budgets', () => {
  it('a run whose token budget is spent starts no more agents and ends budget_exhausted; reins retry with a higher cap in the harness continues it', async () => {
    fixture.script(() => ({ text: 'done', usage: costing(3_000) }));
    const dir = tempDir('run-tokens');
    const harness = (runMaxTokens: number) => ({
      name: 'run-tokens',
      limits: { runMaxTokens },
      team: [
        { name: 'first', prompt: 'one' },
        { name: 'second', prompt: 'two', depends_on: ['first'] },
      ],
    });
    // The first member uses the whole budget without going over it, so it ends well; none is left for the second.
    const file = await writeHarness(dir, harness(3_000));
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv() }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const budgets = new Budgets(fixture.redis.client, createKeys(fleet.prefix));
      const submitted = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(submitted.exitCode, submitted.stderr).toBe(1);
      const view = JSON.parse(submitted.stdout) as RunView & { members: MemberWithTokens[] };
      expect(view.status).toBe('budget_exhausted');
      expect(view.members.map((m) => [m.name, m.status, m.tokens])).toEqual([
        ['first', 'succeeded', 3_000],
        ['second', 'failed', undefined],
      ]);
      expect(view.members[1]!.error).toBe("the run's token budget (limits.runMaxTokens) is spent: 3000 of 3000 tokens used");
      expect((await store.getMember(view.runId, 'second'))?.errorClass).toBe('budget');
      expect(await budgets.tokensSpent(view.runId, 'first')).toMatchObject({ run: 3_000, member: 3_000 });
      const shown = await fleet.reins(['status', view.runId]);
      expect(shown.stdout).toMatch(/first\s+succeeded\s+1\s+1\s+\$\d\.\d{4}\s+3,000\s/);

      await writeHarness(dir, harness(10_000));
      const retried = await fleet.reins(['retry', view.runId]);
      expect(retried.exitCode, retried.stderr).toBe(0);
      expect(retried.stdout).toContain('limits from now on: runMaxTokens 3000 → 10000');
      const after = await waitForRunEnd(store, view.runId);
      expect(after.status).toBe('succeeded');
      expect((after.members as MemberWithTokens[]).map((m) => [m.name, m.status, m.tokens])).toEqual([
        ['first', 'succeeded', 3_000],
        ['second', 'succeeded', 3_000],
      ]);
      expect((await budgets.tokensSpent(view.runId, 'second')).run).toBe(6_000);
    });
  }, 180_000);

  it("an agent that goes over its member's token cap is stopped mid-attempt (class budget, final); a retry with a higher cap resumes it", async () => {
    const dir = tempDir('member-tokens');
    const gate = path.join(dir, 'never-opened');
    let retried = false;
    // 5 000 tokens a turn: two quick Bash calls, then a third that waits on a gate no one opens. The third
    // turn's message takes the member to 15 000 of its 12 000 while the tool waits: only the cap can end it.
    fixture.script((req) => {
      if (retried) return { text: 'finished', usage: costing(100) };
      const command = req.turn < 2 ? `echo step ${req.turn}` : waitForGateSh(gate);
      return { toolUse: [{ name: 'Bash', input: { command, description: 'work', timeout: 600_000 } }], usage: costing(5_000) };
    });
    const harness = (maxTokens: number) => ({ name: 'member-tokens', limits: { maxTokens }, retry: { attempts: 3 }, team: [{ name: 'looper', prompt: 'keep going' }] });
    const file = await writeHarness(dir, harness(12_000));
    try {
      await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv() }, async (fleet) => {
        const store = storeOf(fixture.redis.client, fleet);
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        const view = await waitForRunEnd(store, runId, 120_000);
        expect(view.status).toBe('budget_exhausted');
        const member = (await store.getMember(runId, 'looper'))!;
        expect(member).toMatchObject({ status: 'failed', attempts: 1, errorClass: 'budget', tokens: 15_000 });
        expect(member.error).toBe("stopped: the member's token budget (limits.maxTokens, over all its attempts) ran out: 15000 of 12000 tokens used");
        expect((await store.readAttempts(runId, 'looper')).map((a) => a.outcome)).toEqual(['budget']);
        expect(await fleet.tmuxSessions()).toEqual([]);
        expect(processesOfRun(runId)).toEqual([]);
        expect(toolWaitsOn(gate)).toBe(false);

        // The member's cap counts every attempt: 15 000 are spent, so 20 000 leaves it room for 5 000 more.
        await writeHarness(dir, harness(20_000));
        retried = true;
        const again = await fleet.reins(['retry', runId]);
        expect(again.exitCode, again.stderr).toBe(0);
        const after = await waitForRunEnd(store, runId, 120_000);
        expect(after.status).toBe('succeeded');
        // A retry gives the member a fresh count of attempts; its history keeps both.
        expect(await store.getMember(runId, 'looper')).toMatchObject({ status: 'succeeded', tokens: 15_100 });
        expect((await store.readAttempts(runId, 'looper')).map((a) => a.outcome)).toEqual(['budget', 'succeeded']);
      });
    } finally {
      openGate(gate);
    }
  }, 240_000);

  it("REINS_DAILY_TOKENS: once the fleet's tokens for the day are spent, no agent starts, in any run", async () => {
    // A command agent that prints a result line with usage is counted as a Claude agent is.
    const spend = (tokens: number) => ({
      kind: 'command',
      argv: [process.execPath, '-e', `console.log(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'spent', usage: { input_tokens: ${tokens} } }))`],
    });
    const dir = tempDir('daily-tokens');
    const first = await writeHarness(dir, { name: 'spender', agent: spend(500), team: [{ name: 'a', prompt: 'a' }] }, 'first.yaml');
    const second = await writeHarness(dir, { name: 'late', agent: spend(1), team: [{ name: 'b', prompt: 'b' }] }, 'second.yaml');
    await withFleet({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, REINS_DAILY_TOKENS: '500' } }, async (fleet) => {
      const spent = await fleet.reins(['submit', first, '--wait', '--json']);
      expect(spent.exitCode, spent.stderr).toBe(0);
      expect((JSON.parse(spent.stdout) as RunView & { members: MemberWithTokens[] }).members[0]).toMatchObject({ status: 'succeeded', tokens: 500 });
      const refused = await fleet.reins(['submit', second, '--wait', '--json']);
      expect(refused.exitCode).toBe(1);
      const view = JSON.parse(refused.stdout) as RunView;
      expect(view.status).toBe('budget_exhausted');
      expect(view.members[0]).toMatchObject({ status: 'failed', attempts: 0, error: "the fleet's daily token budget (REINS_DAILY_TOKENS, this UTC day) is spent: 500 of 500 tokens used" });
      await waitFor(async () => (await fleet.tmuxSessions()).length === 0, 'no agent session left');
    });
  }, 120_000);
});
