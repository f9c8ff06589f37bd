import { describe, expect, it } from 'vitest';
import { freePort, useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';

const redis = useRedis();

const quick = { kind: 'command', argv: ['true'] };

describe('routing by labels', () => {
  it('a member that requires labels runs only on a worker that has them all', async () => {
    const file = await writeHarness(tempDir('routed'), {
      name: 'routed',
      agent: quick,
      team: [
        { name: 'train', prompt: 't', requires: ['gpu'] },
        { name: 'train-eu', prompt: 't', requires: ['region-eu', 'gpu'] },
        { name: 'docs', prompt: 'd' },
        { name: 'more-docs', prompt: 'd' },
      ],
    });
    await withFleet({ redisUrl: redis.url, workers: 0, env: CHAOS_ENV }, async (fleet) => {
      await fleet.startWorker('plain');
      await fleet.startWorker('gpu-eu', { REINS_WORKER_LABELS: 'gpu,region-eu' });
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect((await store.getMember(runId, 'train'))?.workerId).toBe('gpu-eu');
      expect((await store.getMember(runId, 'train-eu'))?.workerId).toBe('gpu-eu');
      expect((await store.getMember(runId, 'train-eu'))?.queue).toBe('agent@gpu+region-eu');
      // Bull Board shows the pools too, though they appeared after the board started.
      const board = await fleet.startBoard(await freePort());
      await waitFor(async () => {
        const api = (await (await fetch(`${board}/queues/api/queues?page=1`)).json()) as { queues: { name: string }[] };
        return ['agent@gpu', 'agent@gpu+region-eu'].every((name) => api.queues.some((q) => q.name === name));
      }, 'the pool queues on Bull Board');
    });
  });

  it('a member no live worker can take says so in reins status, and runs once such a worker joins', async () => {
    const file = await writeHarness(tempDir('tpu'), { name: 'tpu', agent: quick, team: [{ name: 'fit', prompt: 'f', requires: ['tpu'] }] });
    await withFleet({ redisUrl: redis.url, workers: 1, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await store.getMember(runId, 'fit'))?.error === 'no live worker has the labels tpu; it waits for one', 'the waiting note');
      const status = await fleet.reins(['status', runId]);
      expect(status.stdout).toContain('no live worker has the labels tpu; it waits for one');
      expect((await store.getMember(runId, 'fit'))?.status).toBe('queued');
      await fleet.startWorker('tpu-host', { REINS_WORKER_LABELS: 'tpu' });
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect((await store.getMember(runId, 'fit'))?.workerId).toBe('tpu-host');
      expect(view.members[0]!.error).toBeUndefined();
    });
  });
});
