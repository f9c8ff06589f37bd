import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { firstAttemptBlocksAgent } from '../helpers/gate.js';

const redis = useRedis();

describe('a lost worker', () => {
  it("is not the agent's fault: its stalled attempt is retried at once on another worker, however long the agent backoff", async () => {
    const dir = tempDir('lost-worker');
    const started = path.join(dir, 'started');
    const file = await writeHarness(dir, {
      name: 'lost-worker',
      agent: firstAttemptBlocksAgent(started),
      retry: { attempts: 3 },
      team: [{ name: 'solo', prompt: 'work' }],
    });
    // Ten minutes of backoff: waiting it out could not finish within this test.
    const env = { ...CHAOS_ENV, REINS_BACKOFF_BASE_MS: '600000', REINS_BACKOFF_MAX_MS: '600000' };
    await withFleet({ redisUrl: redis.url, workers: 2, env }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => existsSync(started), 'attempt 1 to start');
      const before = await store.getMember(runId, 'solo');
      const victim = fleet.workers.find((w) => w.id === before?.workerId);
      const survivor = fleet.workers.find((w) => w !== victim);
      expect(victim).toBeDefined();
      await victim!.kill9();

      const view = await waitForRunEnd(store, runId, 45_000);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
        [1, 'stalled'],
        [2, 'succeeded'],
      ]);
      expect(attempts[0]!.workerId).toBe(victim!.id);
      expect(attempts[1]!.workerId).toBe(survivor!.id);
      expect(view.members[0]!.attempts).toBe(2);
    });
  });
});
