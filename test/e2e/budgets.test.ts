import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Budgets, createKeys } from '@reins/shared';
import { budgetDay } from '../../libs/shared/src/fleet/budgets.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { gatedNodeAgent, openGate } from '../helpers/gate.js';

const fixture = useClaudeFixture();

describe('budgets', () => {
  it("a fix round resumes the session: the run is charged what each round added, not the session's total again", async () => {
    fixture.script(() => ({ text: 'done' }));
    const dir = tempDir('fix-round');
    // The check fails once (it leaves a mark), so the member gets one fix round in the same session.
    const mark = path.join(dir, 'checked-once');
    const file = await writeHarness(dir, {
      name: 'fix-round',
      limits: { runBudgetUsd: 5 },
      verify: { commands: [['sh', '-c', `test -f '${mark}' || { touch '${mark}'; echo not yet; exit 1; }`]] },
      team: [{ name: 'solo', prompt: 'one' }],
    });
    await withFleet({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, ...fixture.apiEnv() } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
      const member = (await store.getMember(runId, 'solo'))!;
      // Claude Code's total_cost_usd of the resumed session covers both rounds: it is what the run spent.
      expect(member.costUsd).toBeGreaterThan(0);
      const spent = (await new Budgets(fixture.redis.client, createKeys(fleet.prefix)).runBudget(runId)).spentUsd;
      expect(spent).toBeCloseTo(member.costUsd!, 6);
      expect(fixture.api.requests.filter((r) => r.promptText.includes('not yet') || r.body.messages.length > 2).length).toBeGreaterThan(0);
    });
  });

  it('a run at its budget starts no more agents, ends budget_exhausted, and continues after reins retry raises it', async () => {
    // The test server reports usage per turn, from which Claude Code computes total_cost_usd.
    fixture.script(() => ({ text: 'done' }));
    const file = await writeHarness(tempDir('budgeted'), {
      name: 'budgeted',
      // Each member reserves its own cap; two at once would need $1.00 of the run's $0.70.
      limits: { maxBudgetUsd: 0.5, runBudgetUsd: 0.7 },
      team: [
        { name: 'first', prompt: 'one' },
        { name: 'second', prompt: 'two' },
      ],
    });
    await withFleet({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, ...fixture.apiEnv() } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const budgets = new Budgets(fixture.redis.client, createKeys(fleet.prefix));
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { runId: string; status: string; members: { name: string; status: string; costUsd?: number; error?: string }[] };
      expect(view.status).toBe('budget_exhausted');
      const refused = view.members.find((m) => m.status === 'failed')!;
      const ran = view.members.find((m) => m.status === 'succeeded')!;
      expect(refused.error).toMatch(/the run's budget would be exceeded: \$\d\.\d{4} spent and \$0\.5000 reserved of \$0\.7000, and this member reserves \$0\.5000/);
      expect(ran.costUsd).toBeGreaterThan(0);
      // The real cost settled the reservation: what was spent is what the agent cost, nothing stays reserved.
      let state = await budgets.runBudget(view.runId);
      expect(state.spentUsd).toBeCloseTo(ran.costUsd!, 6);
      expect(state.reservedUsd).toBeCloseTo(0, 9);
      // The member's cap went to Claude Code as --max-budget-usd (the launcher's argv file is NUL-separated).
      const argv = readFileSync(path.join(fleet.dataDir, 'runs', view.runId, ran.name, 'e1', 'argv'), 'utf8').split('\0');
      expect(argv[argv.indexOf('--max-budget-usd') + 1]).toBe('0.5');

      const retried = await fleet.reins(['retry', view.runId, '--run-budget-usd', '2']);
      expect(retried.exitCode, retried.stderr).toBe(0);
      const after = await waitForRunEnd(store, view.runId);
      expect(after.status).toBe('succeeded');
      state = await budgets.runBudget(view.runId);
      expect(state.capUsd).toBe(2);
      expect(state.spentUsd).toBeCloseTo(
        after.members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0),
        6,
      );
    });
  });

  it("the fleet's daily budget caps reservations across runs", async () => {
    // The member that got the day's reservation holds it, running, until the other has been refused.
    const dir = tempDir('daily');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'daily',
      agent: gatedNodeAgent(gate),
      team: [
        { name: 'a', prompt: 'a' },
        { name: 'b', prompt: 'b' },
      ],
    });
    await withFleet({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, REINS_DAILY_BUDGET_USD: '0.5', REINS_BUDGET_RESERVE_USD: '0.3' } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await store.getMembers({ runId, members: ['a', 'b'] })).some((m) => m.status === 'failed'), 'a member refused by the daily budget');
      openGate(gate);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('budget_exhausted');
      expect(view.members.filter((m) => m.status === 'failed')).toEqual([expect.objectContaining({ error: expect.stringContaining("the fleet's daily budget would be exceeded") })]);
      const day = await fixture.redis.client.hgetall(createKeys(fleet.prefix).dayBudget(budgetDay()));
      expect(Number(day.reserved)).toBeCloseTo(0, 9);
    });
  });
});
