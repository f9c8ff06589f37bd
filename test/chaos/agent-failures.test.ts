import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../helpers/messages-api.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, readAgentJob, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { openGate, toolWaitsOn, waitForGateSh } from '../helpers/gate.js';
import { execa } from 'execa';
import path from 'node:path';

const fixture = useClaudeFixture();

const apiEnv = { ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_MAX_RETRIES: '0' };
const fleetOptions = (extra: Record<string, string> = {}) => ({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, ...apiEnv, ANTHROPIC_BASE_URL: fixture.api.url, ...extra } });

const harness = async (name: string, extra: Record<string, unknown> = {}) =>
  writeHarness(tempDir(name), { name, agent: { kind: 'claude', maxTurns: 10 }, retry: { attempts: 4 }, team: [{ name: 'solo', prompt: `Do the ${name} task.` }], ...extra });

describe('agent failures, with the real CLI', () => {
  it('a killed session is retried, and the next attempt resumes the conversation (--resume)', async () => {
    let held: RecordedRequest | undefined;
    fixture.script((req) => {
      if (req.turn === 0) return { toolUse: [{ name: 'Bash', input: { command: 'echo before > before.txt', description: 'first step' } }] };
      if (!held) {
        held = req;
        return { hang: true };
      }
      return { text: 'picked up where I left off' };
    });
    const file = await harness('killed-session');
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => held, 'the agent to reach turn 1');
      const [session] = await fleet.tmuxSessions();
      const socket = path.join(fleet.dataDir, 'tmux', 'w1.sock');
      await execa('tmux', ['-S', socket, 'kill-session', '-t', `=${session}`]);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect((await store.readAttempts(runId, 'solo')).map((a) => a.outcome)).toEqual(['crash', 'succeeded']);
      const sessionId = view.members[0]!.sessionId!;
      const toolUseId = /toolu_reins_\d+/.exec(JSON.stringify(held!.body.messages))![0];
      const resumed = fixture.api.requests.filter((r) => r !== held && r.time >= held!.time && r.conversationKey === sessionId);
      expect(resumed.length).toBeGreaterThan(0);
      // The server sees the earlier conversation: the first prompt and turn 0's tool call and result.
      const body = JSON.stringify(resumed[0]!.body.messages);
      expect(body).toContain('Do the killed-session task.');
      expect(body).toContain(toolUseId);
      expect(body).toContain('[reins] This is attempt 2. Attempt 1 stopped (crash');
    });
  });

  it('a hung API call is caught by the idle watchdog, killed and retried; when the API recovers the member succeeds', async () => {
    let hung = 0;
    fixture.script(() => {
      if (hung === 0) {
        hung += 1;
        return { hang: true };
      }
      return { text: 'recovered' };
    });
    // Long enough for a healthy CLI to print its first line on a loaded machine; the hung request never does.
    const file = await harness('hung', { limits: { idleTimeoutMs: 5_000 } });
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      // Only the first request hung. A retry that is merely slow to start on a loaded machine may also meet the
      // watchdog; that is the watchdog doing its job, not the story failing, so it may repeat before success.
      expect(hung).toBe(1);
      expect(attempts.map((a) => a.outcome).join(',')).toMatch(/^hang(,hang)*,succeeded$/);
      expect(attempts[0]!.message).toContain('no output and no tool activity');
      const status = await fleet.reins(['status', runId]);
      expect(status.stdout).toMatch(/#1 .* hang\s+on w1 \(account default\): no output and no tool activity/);
    });
  });

  it('a long tool call is not a hang: the hooks report it running', async () => {
    // Long enough for the CLI to start and reach the tool on a loaded machine: the tool call is what outlasts it.
    const idleTimeoutMs = 5_000;
    // The tool call lasts until the test opens the gate: once it has outlived the idle timeout twice over.
    const gate = path.join(tempDir('long-tool-gate'), 'gate');
    fixture.script((req) => (req.turn === 0 ? { toolUse: [{ name: 'Bash', input: { command: `${waitForGateSh(gate)}; echo built`, description: 'a long build' } }] } : { text: 'built' }));
    const file = await harness('long-tool', { limits: { idleTimeoutMs } });
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => toolWaitsOn(gate), 'the Bash tool to be inside its call');
      const toolStartedAt = Date.now();
      // The duration is the point here: the call must outlast the idle timeout, with the member left alone.
      await waitFor(() => Date.now() > toolStartedAt + 2 * idleTimeoutMs, 'twice the idle timeout inside the tool call');
      expect(await store.getMember(runId, 'solo')).toMatchObject({ status: 'running', attempts: 1 });
      expect(toolWaitsOn(gate)).toBe(true);
      openGate(gate);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect((await store.readAttempts(runId, 'solo')).map((a) => a.outcome)).toEqual(['succeeded']);
    });
  });

  it("529 twice, then OK: the CLI's own retries carry it, on attempt 1", async () => {
    let overloaded = 0;
    fixture.script(() => (overloaded++ < 2 ? { error: { status: 529 } } : { text: 'made it' }));
    const file = await harness('overloaded');
    await withFleet(fleetOptions({ CLAUDE_CODE_MAX_RETRIES: '3' }), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members[0]!.attempts).toBe(1);
      const logs = await fleet.reins(['logs', runId, 'solo']);
      expect(logs.stdout).toMatch(/retry\s+API retry 1\/3 .*529/);
    });
  });

  it('a persistent 429 is rate_limit: the job waits and retries without using attempts', async () => {
    fixture.script(() => ({ error: { status: 429, message: 'rate limited, slow down' } }));
    const file = await harness('rate-limited', { retry: { attempts: 2 } });
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      // Three rounds of rate limiting with attempts: 2 would have failed the member, were attempts used.
      await waitFor(async () => (await store.readAttempts(runId, 'solo')).filter((a) => a.outcome === 'rate_limit').length >= 3, 'three rate-limited rounds');
      // Read between rounds, the member may be waiting (errorClass rate_limit) or already in its next round
      // (the class cleared for it); the rounds' own records above say what each was.
      const member = await store.getMember(runId, 'solo');
      expect(['retrying', 'running']).toContain(member?.status);
      expect(member?.attempts).toBeLessThanOrEqual(1);
      // BullMQ counts no attempt for a rate-limited round (read through its API: a missing job fails here).
      expect((await readAgentJob(fixture.redis.client, fleet, runId, 'solo')).attemptsMade).toBe(0);
      const status = await fleet.reins(['status', runId]);
      expect(status.stdout).toContain('rate_limit');
      expect((await fleet.reins(['cancel', runId])).exitCode).toBe(0);
    });
  });

  it('401 is auth: the member fails at once with a clear reason', async () => {
    fixture.script(() => ({ error: { status: 401, message: 'invalid x-api-key' } }));
    const file = await harness('unauthorised');
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('failed');
      expect(view.members[0]).toMatchObject({ status: 'failed', attempts: 1 });
      expect(view.members[0]!.error).toContain('API status 401');
      expect((await store.getMember(runId, 'solo'))?.errorClass).toBe('auth');
    });
  });

  it('max_turns resumes the session from the cursor with the turn budget renewed', async () => {
    fixture.script((req) => (req.turn < 2 ? { toolUse: [{ name: 'Bash', input: { command: `echo turn ${req.turn}`, description: `turn ${req.turn}` } }] } : { text: 'finished in the second budget' }));
    const file = await harness('turn-budget', { agent: { kind: 'claude', maxTurns: 2 } });
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(
        attempts.map((a) => a.outcome),
        JSON.stringify(attempts),
      ).toEqual(['max_turns', 'succeeded']);
      // One session throughout: the second attempt resumed it rather than starting over.
      const sessions = new Set(fixture.api.requests.filter((r) => JSON.stringify(r.body.messages).includes('Do the turn-budget task.')).map((r) => r.conversationKey));
      expect(sessions.size).toBe(1);
    });
  });
});
