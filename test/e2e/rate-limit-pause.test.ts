import { describe, expect, it } from 'vitest';
import { createKeys } from '@reins/shared';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';

const fixture = useClaudeFixture();

describe('fleet-wide rate-limit pause, with the real CLI', () => {
  it("a 429 pauses the account fleet-wide until the backoff ends: another run's agent on it waits too, and both resume by themselves, using no attempt", async () => {
    let limited = false;
    fixture.script(() => {
      if (!limited) {
        limited = true;
        return { error: { status: 429, message: 'account rate limited' } };
      }
      return { text: 'done' };
    });
    const first = await writeHarness(tempDir('first'), { name: 'first', team: [{ name: 'one', prompt: 'go' }] });
    const second = await writeHarness(tempDir('second'), { name: 'second', team: [{ name: 'two', prompt: 'go' }] });
    // A 3 s backoff: long enough to see the second run's member held back.
    await withFleet({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, ...fixture.apiEnv(), REINS_BACKOFF_BASE_MS: '3000', REINS_BACKOFF_MAX_MS: '3000', REINS_BACKOFF_JITTER: '0' } }, async (fleet) => {
      const store = storeOf(fixture.redis.client, fleet);
      const keys = createKeys(fleet.prefix);
      const run1 = (await fleet.reins(['submit', first])).stdout.trim();
      // The worker's one account, from its environment: \`default\`.
      const pausedUntil = Number(await waitFor(() => fixture.redis.client.hget(keys.account('default'), 'pausedUntil'), 'the pause on the account'));
      const run2 = (await fleet.reins(['submit', second])).stdout.trim();
      const held = await waitFor(async () => {
        const m = await store.getMember(run2, 'two');
        return m?.error?.startsWith('every account it may use is paused by a usage limit: default until') ? m : undefined;
      }, "the second run's member to be held by the pause");
      expect(held.status).toBe('queued');
      // reins status shows the pause while it holds.
      expect((await fleet.reins(['status', run2])).stdout).toContain('every account it may use is paused by a usage limit: default until');
      const [view1, view2] = [await waitForRunEnd(store, run1), await waitForRunEnd(store, run2)];
      expect([view1.status, view2.status]).toEqual(['succeeded', 'succeeded']);
      expect(view1.members[0]!.attempts).toBe(1);
      expect(view2.members[0]!.attempts).toBe(1);
      expect((await store.getMember(run2, 'two'))!.startedAt!).toBeGreaterThanOrEqual(pausedUntil);
      const status = await fleet.reins(['status', run1]);
      expect(status.stdout).toContain('rate_limit');
    });
  });
});
