import { describe, expect, it } from 'vitest';
import type { Handler, RecordedRequest } from '../helpers/messages-api.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, readAgentJob, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { agentIntervals, overlappingAgents } from '../helpers/gate.js';

const fixture = useClaudeFixture();

const apiEnv = () => fixture.apiEnv();

/** Turn 0 runs a tool (so there is a transcript worth resuming); the first turn-1 request hangs: that is where the agent is when disaster strikes. */
function holdAtTurnOne(): { handler: Handler; held: () => RecordedRequest | undefined } {
  let held: RecordedRequest | undefined;
  return {
    held: () => held,
    handler: (req) => {
      if (req.turn === 0) return { toolUse: [{ name: 'Bash', input: { command: 'echo one > step1.txt', description: 'step one' } }] };
      if (!held) {
        held = req;
        return { hang: true };
      }
      return { text: 'finished after the interruption' };
    },
  };
}

const soloHarness = async (name: string) => writeHarness(tempDir(name), { name, agent: { kind: 'claude', maxTurns: 10 }, retry: { attempts: 5 }, team: [{ name: 'solo', prompt: `Do the ${name} task.` }] });

/** A request after the held one, in the same session, that carries turn 0's tool call: the conversation was resumed. */
function resumedRequest(held: RecordedRequest, sessionId: string): RecordedRequest | undefined {
  const toolUseId = /toolu_reins_\d+/.exec(JSON.stringify(held.body.messages))![0];
  return fixture.api.requests.find((r) => r !== held && r.time >= held.time && r.conversationKey === sessionId && JSON.stringify(r.body.messages).includes(toolUseId));
}

describe('worker death', () => {
  it('kill -9 of the worker mid-run: the member completes exactly once, and never are two agents alive for it', async () => {
    const script = holdAtTurnOne();
    fixture.script(script.handler);
    const file = await soloHarness('killed');
    await withFleet({ redisUrl: fixture.redis.url, workers: 2, env: { ...CHAOS_ENV, ...apiEnv() } }, async (fleet: Fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => script.held(), 'the agent to reach turn 1');
      const before = await store.getMember(runId, 'solo');
      const victim = fleet.workers.find((w) => w.id === before?.workerId);
      expect(victim).toBeDefined();
      await victim!.kill9();
      const view = await waitForRunEnd(store, runId);

      expect(view.status).toBe('succeeded');
      // From the launchers' records: the killed worker's agent stopped before the next one started.
      const intervals = agentIntervals(fleet.dataDir, runId, 'solo');
      expect(intervals).toHaveLength(2);
      expect(overlappingAgents(intervals)).toEqual([]);
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => a.outcome)).toEqual(['stalled', 'succeeded']);
      expect(attempts[1]!.workerId).not.toBe(victim!.id);
      // The new attempt resumed the session from the cursor: same session id, and the model saw turn 0 again.
      expect(resumedRequest(script.held()!, view.members[0]!.sessionId!)).toBeDefined();
      const job = await readAgentJob(fixture.redis.client, fleet, runId, 'solo');
      expect(job.state).toBe('completed');
      expect(job.finishedOn).toBeDefined();
    });
  });

  it('resumes on another worker with a different HOME and data dir, from the transcript shipped in the cursor', async () => {
    const script = holdAtTurnOne();
    fixture.script(script.handler);
    const file = await soloHarness('shipped');
    await withFleet({ redisUrl: fixture.redis.url, workers: 1, env: { ...CHAOS_ENV, ...apiEnv() } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => script.held(), 'the agent to reach turn 1');
      await waitFor(async () => (await store.readCursor(runId, 'solo'))?.transcriptGz, 'a checkpoint with the transcript');
      await fleet.workers[0]!.kill9();
      const otherDataDir = tempDir('other-host');
      await fleet.startWorker('far', { REINS_DATA_DIR: otherDataDir });
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members[0]!.workspace?.startsWith(otherDataDir)).toBe(true);
      const resumed = resumedRequest(script.held()!, view.members[0]!.sessionId!);
      expect(resumed).toBeDefined();
      // The CLI says so when the working directory changed under a resumed session.
      expect(JSON.stringify(resumed!.body.messages)).toContain(otherDataDir);
    });
  });

  it('a worker restarted within the lease adopts its running session, and the member finishes on attempt 1', async () => {
    let release: (() => void) | undefined;
    let waiting = false;
    fixture.script(async (req) => {
      if (req.turn === 0) {
        waiting = true;
        await new Promise<void>((resolve) => (release = resolve));
        return { text: 'done, after the restart' };
      }
      return { text: 'unexpected turn' };
    });
    const file = await soloHarness('adopted');
    await withFleet({ redisUrl: fixture.redis.url, workers: 1, env: { ...CHAOS_ENV, ...apiEnv(), REINS_HEARTBEAT_TTL_MS: '6000' } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => waiting, 'the agent to call the API');
      const [session] = await fleet.tmuxSessions();
      await fleet.workers[0]!.kill9();
      const restarted = await fleet.startWorker('w1');
      expect(restarted.log()).toContain('adopting leftover session');
      expect(await fleet.tmuxSessions()).toEqual([session]);
      release!();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members[0]!.attempts).toBe(1);
      expect((await store.readAttempts(runId, 'solo')).map((a) => a.outcome)).toEqual(['succeeded']);
    });
  });

  it('SIGTERM drains: after drainTimeoutMs the agent is checkpointed, stopped and handed back without using an attempt', async () => {
    const script = holdAtTurnOne();
    fixture.script(script.handler);
    const file = await soloHarness('drained');
    await withFleet({ redisUrl: fixture.redis.url, workers: 1, env: { ...CHAOS_ENV, ...apiEnv() } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => script.held(), 'the agent to reach turn 1');
      await fleet.workers[0]!.stop();
      expect(await fleet.tmuxSessions()).toEqual([]);
      const handedBack = await store.getMember(runId, 'solo');
      expect(handedBack, JSON.stringify(handedBack)).toMatchObject({ status: 'queued', attempts: 0 });
      await fleet.startWorker('w2');
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members[0]!.attempts).toBe(1);
      expect((await store.readAttempts(runId, 'solo')).map((a) => a.outcome)).toEqual(['shutdown', 'succeeded']);
    });
  });
});
