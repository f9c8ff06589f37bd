import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Handler, RecordedRequest } from '../helpers/messages-api.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { agentIntervals, overlappingAgents, processesOfRun, toolWaitsOn, waitForGateSh } from '../helpers/gate.js';

/**
 * The real Claude Code CLI stopped from outside while it is inside a long tool call: a Bash command
 * that waits for a gate file. Where the gate is never opened, only reins can end the call.
 */
const fixture = useClaudeFixture();

/** Turn 0 calls Bash on a gate (the call first creates `<gate>.started`); later turns (a resumed conversation) finish. */
function blockedInTool(gate: string): { handler: Handler; called: () => RecordedRequest | undefined } {
  let called: RecordedRequest | undefined;
  return {
    called: () => called,
    handler: (req) => {
      if (req.turn === 0) {
        called ??= req;
        return { toolUse: [{ name: 'Bash', input: { command: `: > '${gate}.started'; ${waitForGateSh(gate)}`, description: 'a long build', timeout: 600_000 } }] };
      }
      return { text: 'finished after the interruption' };
    },
  };
}

const claudeHarness = (dir: string, name: string, extra: Record<string, unknown> = {}) =>
  writeHarness(dir, { name, agent: { kind: 'claude', maxTurns: 10 }, team: [{ name: 'solo', prompt: `Do the ${name} task.` }], ...extra });

const fleetEnv = () => ({ ...CHAOS_ENV, ...fixture.apiEnv() });

describe('a real Claude agent stopped inside a long tool call', () => {
  it('reins cancel: the member ends cancelled, its tmux session and every process of the agent are gone', async () => {
    const dir = tempDir('claude-cancel');
    const gate = path.join(dir, 'never-opened');
    const script = blockedInTool(gate);
    fixture.script(script.handler);
    const file = await claudeHarness(dir, 'cancelled');
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv() }, async (fleet: Fleet) => {
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => toolWaitsOn(gate), 'the Bash tool to be inside its call');
      expect(processesOfRun(runId).length).toBeGreaterThan(0);

      const cancelled = await fleet.reins(['cancel', runId]);
      expect(cancelled.exitCode, cancelled.stderr).toBe(0);
      const view = await waitForRunEnd(storeOf(fixture.redis.client, fleet), runId);
      expect(view.status).toBe('cancelled');
      expect(view.members.map((m) => m.status)).toEqual(['cancelled']);
      expect(await fleet.tmuxSessions()).toEqual([]);
      expect(processesOfRun(runId)).toEqual([]);
      expect(toolWaitsOn(gate)).toBe(false);
    });
  }, 180_000);

  it('the wall-clock limit: the attempt ends with class timeout, its session and processes gone', async () => {
    const dir = tempDir('claude-timeout');
    const gate = path.join(dir, 'never-opened');
    const script = blockedInTool(gate);
    fixture.script(script.handler);
    // The tool never returns, so the attempt can only end by the limit. The limit leaves the CLI time to reach
    // the tool on a loaded machine; that it did is checked after the fact (the call's first act is a file).
    const file = await claudeHarness(dir, 'timed-out', { limits: { timeoutMs: 20_000 }, retry: { attempts: 1 } });
    await withFleet({ redisUrl: fixture.redis.url, env: fleetEnv() }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId, 120_000);
      expect(existsSync(`${gate}.started`), 'the Bash tool was inside its call when the limit struck').toBe(true);
      expect(view.status).toBe('failed');
      expect(view.members[0]).toMatchObject({ status: 'failed', attempts: 1 });
      expect(view.members[0]!.error).toContain('wall-clock limit');
      expect((await store.readAttempts(runId, 'solo')).map((a) => a.outcome)).toEqual(['timeout']);
      expect(await fleet.tmuxSessions()).toEqual([]);
      expect(processesOfRun(runId)).toEqual([]);
      expect(toolWaitsOn(gate)).toBe(false);
    });
  }, 180_000);

  it('kill -9 of its worker: another worker resumes the session and the run succeeds, never two agents at once', async () => {
    const dir = tempDir('claude-killed');
    const gate = path.join(dir, 'never-opened');
    const script = blockedInTool(gate);
    fixture.script(script.handler);
    const file = await claudeHarness(dir, 'killed-in-tool', { retry: { attempts: 5 } });
    await withFleet({ redisUrl: fixture.redis.url, workers: 2, env: fleetEnv() }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => toolWaitsOn(gate), 'the Bash tool to be inside its call');
      // The transcript that holds the tool call travels with the cursor, for the next worker to resume.
      await waitFor(async () => (await store.readCursor(runId, 'solo'))?.transcriptGz, 'a checkpoint with the transcript');
      const before = await store.getMember(runId, 'solo');
      const victim = fleet.workers.find((w) => w.id === before?.workerId);
      expect(victim, `member on ${before?.workerId}`).toBeDefined();
      await victim!.kill9();

      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => a.outcome)).toEqual(['stalled', 'succeeded']);
      expect(attempts[1]!.workerId).not.toBe(victim!.id);
      // Resumed: the same session, and the model saw turn 0's tool call again.
      const toolUseId = /toolu_reins_\d+/.exec(JSON.stringify(fixture.api.requests.filter((r) => r.time >= script.called()!.time && r.conversationKey === view.members[0]!.sessionId).map((r) => r.body.messages)))?.[0];
      expect(toolUseId).toBeDefined();
      const resumed = fixture.api.requests.filter((r) => r.time > script.called()!.time && r.conversationKey === view.members[0]!.sessionId);
      expect(resumed.length).toBeGreaterThan(0);
      expect(JSON.stringify(resumed[0]!.body.messages)).toContain('Do the killed-in-tool task.');
      // The killed worker's agent, tool and all, was stopped before the other began (from the launchers' records).
      const intervals = agentIntervals(fleet.dataDir, runId, 'solo');
      expect(intervals).toHaveLength(2);
      expect(overlappingAgents(intervals)).toEqual([]);
      expect(processesOfRun(runId)).toEqual([]);
      expect(toolWaitsOn(gate)).toBe(false);
    });
  }, 180_000);
});
