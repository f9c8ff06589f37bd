import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { firstAttemptBlocksAgent } from '../helpers/gate.js';

const redis = useRedis();

describe('attempt records through a Redis outage', () => {
  it('an attempt cut off by an outage is recorded once (not once by its worker and again as a stall), and the next attempt runs', async () => {
    const dir = tempDir('records');
    const started = path.join(dir, 'started');
    const file = await writeHarness(dir, {
      name: 'records',
      agent: firstAttemptBlocksAgent(started),
      retry: { attempts: 4 },
      team: [{ name: 'solo', prompt: 'work' }],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => existsSync(started), 'attempt 1 to start');
      // Past the lease and the BullMQ lock (2 s TTL): the agent is stopped (the lease, or self-fencing),
      // the worker cannot record it until Redis is back, and BullMQ finds the job stalled.
      redis.pause();
      try {
        await sleep(3_500);
      } finally {
        redis.resume();
      }
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const records = await store.readAttempts(runId, 'solo');
      const epochs = records.map((r) => r.epoch);
      // Exactly one record per epoch, each attempt number once, and the member counts them all.
      expect(new Set(epochs).size, JSON.stringify(records)).toBe(records.length);
      expect(records.map((r) => r.attempt)).toEqual(records.map((_, i) => i + 1));
      expect(records.at(-1)!.outcome).toBe('succeeded');
      expect(
        records.slice(0, -1).every((r) => r.outcome === 'crash' || r.outcome === 'stalled'),
        JSON.stringify(records),
      ).toBe(true);
      expect(view.members[0]!.attempts).toBe(records.length);
    });
  });
});
