import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { withWorker } from '../helpers/with-worker.js';

// Stories about admission and conclusion, told against one worker running in the test process (its
// connections injected), beside a spawned scheduler.

const fixture = useClaudeFixture();
const SHORT = { REINS_MONITOR_INTERVAL_MS: '100', REINS_RECONCILE_INTERVAL_MS: '250', REINS_HEARTBEAT_TTL_MS: '2000', REINS_BACKOFF_BASE_MS: '300', REINS_BACKOFF_MAX_MS: '300', REINS_BACKOFF_JITTER: '0' };

/** An agent that waits for the gate file to exist, then succeeds. */
const gatedAgent = (gate: string) => ({
  kind: 'command',
  argv: [process.execPath, '-e', `const fs = require('node:fs'); const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(gate)})) { clearInterval(t); console.log('through the gate'); } }, 50);`],
});

describe('admission and conclusion, in process', () => {
  it('a member waiting for a slot under its concurrency key says so, and runs once the slot is free', async () => {
    const dir = tempDir('slots');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'slots',
      agent: gatedAgent(gate),
      concurrency: { key: 'one-at-a-time', max: 1 },
      team: [
        { name: 'a', prompt: 'go' },
        { name: 'b', prompt: 'go' },
      ],
    });
    await withFleet({ redisUrl: fixture.redis.url, workers: 0, env: SHORT }, async (fleet) => {
      await withWorker({ redisUrl: fixture.redis.url, prefix: fleet.prefix, dataDir: fleet.dataDir, env: SHORT, concurrency: 2 }, async () => {
        const store = storeOf(fixture.redis.client, fleet);
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        const waiting = await waitFor(async () => {
          const members = [await store.getMember(runId, 'a'), await store.getMember(runId, 'b')];
          const running = members.find((m) => m?.status === 'running');
          const held = members.find((m) => m?.error === 'waiting for one of 1 slots under "one-at-a-time"');
          return running && held ? held : undefined;
        }, 'one member running and the other waiting for the slot');
        expect(waiting.status).toBe('queued');
        expect(waiting.attempts).toBe(0);
        writeFileSync(gate, 'open');
        const view = await waitForRunEnd(store, runId);
        expect(view.status).toBe('succeeded');
        expect(view.members.map((m) => [m.name, m.attempts])).toEqual([
          ['a', 1],
          ['b', 1],
        ]);
        // The waiting left no record: each member has exactly one attempt, the one that succeeded.
        for (const name of ['a', 'b']) expect((await store.readAttempts(runId, name)).map((a) => a.outcome)).toEqual(['succeeded']);
      });
    });
  });

  it('a rate-limited attempt uses no attempt: the member waits out the limit and succeeds on attempt 1', async () => {
    let limited = false;
    fixture.script(() => {
      if (!limited) {
        limited = true;
        return { error: { status: 429, message: 'account rate limited' } };
      }
      return { text: 'done after the limit' };
    });
    const file = await writeHarness(tempDir('limited'), { name: 'limited', agent: { kind: 'claude' }, retry: { attempts: 1 }, team: [{ name: 'solo', prompt: 'go' }] });
    await withFleet({ redisUrl: fixture.redis.url, workers: 0, env: SHORT }, async (fleet) => {
      await withWorker({ redisUrl: fixture.redis.url, prefix: fleet.prefix, dataDir: fleet.dataDir, env: SHORT, agentEnv: fixture.apiEnv() }, async (w) => {
        const store = storeOf(fixture.redis.client, fleet);
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        const view = await waitForRunEnd(store, runId);
        // One attempt allowed, and yet it succeeded after the rate limit: the limit used none.
        expect(view.status).toBe('succeeded');
        expect(view.members[0]!.attempts).toBe(1);
        const attempts = await store.readAttempts(runId, 'solo');
        expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
          [1, 'rate_limit'],
          [1, 'succeeded'],
        ]);
        expect(attempts[0]!.epoch).toBeLessThan(attempts[1]!.epoch);
        expect(w.log()).toContain('rate limited');
      });
    });
  });
});
