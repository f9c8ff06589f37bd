import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';

const fixture = useClaudeFixture({ appendonly: true });

const fleetOptions = () => ({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, ANTHROPIC_BASE_URL: fixture.api.url, ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_MAX_RETRIES: '0' } });
const harness = async (name: string) => writeHarness(tempDir(name), { name, agent: { kind: 'claude' }, retry: { attempts: 5 }, team: [{ name: 'solo', prompt: `Do the ${name} task.` }] });

describe('Redis outages', () => {
  it('Redis restarted mid-run (append-only file on): the run completes', async () => {
    let release: (() => void) | undefined;
    fixture.script(async (req) => {
      if (req.turn === 0 && !release) {
        await new Promise<void>((resolve) => (release = resolve));
        return { text: 'done across a Redis restart' };
      }
      return { text: 'done' };
    });
    const file = await harness('restarted');
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => release, 'the agent to call the API');
      await fixture.redis.restart();
      release!();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members[0]!.attempts).toBe(1);
    });
  });

  it('a worker cut off from Redis past its lock stops its own agents; the job is retried when Redis is back', async () => {
    let held = false;
    fixture.script(() => {
      if (!held) {
        held = true;
        return { hang: true };
      }
      return { text: 'done after the partition' };
    });
    const file = await harness('cut-off');
    await withFleet(fleetOptions(), async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => held, 'the agent to call the API');
      await waitFor(async () => (await fleet.tmuxSessions()).length === 1, 'the agent session');
      const pausedAt = Date.now();
      fixture.redis.pause();
      try {
        // Only tmux and the clock are consulted here: Redis answers nothing while paused.
        await waitFor(async () => (await fleet.tmuxSessions()).length === 0, 'the worker to stop its agent');
        // The outage is the point: it lasts past the heartbeat's TTL, so the agent's claim has lapsed when
        // Redis is back, and the job is retried as a stalled one.
        await waitFor(() => Date.now() > pausedAt + Number(CHAOS_ENV.REINS_HEARTBEAT_TTL_MS), 'the outage to outlast the heartbeat TTL');
      } finally {
        fixture.redis.resume();
      }
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      const outcomes = attempts.map((a) => a.outcome);
      expect(outcomes.at(-1)).toBe('succeeded');
      expect(
        outcomes.slice(0, -1).every((o) => o === 'stalled'),
        outcomes.join(','),
      ).toBe(true);
      expect(outcomes.length).toBeGreaterThan(1);
      // Fenced on its own host: by the worker's tick (self-fencing) or by the launcher's lease, whichever looked
      // first; both fire at the last Redis contact plus the TTL less a tick.
      const workerLog = readFileSync(fleet.workers[0]!.logFile, 'utf8');
      const stderr = readFileSync(path.join(fleet.dataDir, 'runs', runId, 'solo', `e${attempts[0]!.epoch}`, 'stderr.log'), 'utf8');
      const fencedBy = [workerLog.includes('self-fencing') && 'worker', stderr.includes('lease expired') && 'lease'].filter(Boolean);
      expect(fencedBy.length, `worker log:\n${workerLog.slice(-3000)}\nstderr: ${stderr}`).toBeGreaterThan(0);
    });
  });
});
