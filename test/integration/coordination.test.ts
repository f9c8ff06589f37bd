import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { TaskList, createKeys, type RedisConnection } from '@reins/shared';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { claimUntilEmpty, messagingTeam } from '../helpers/coordination.js';
import { CHAOS_ENV, storeOf, waitForRunEnd } from '../helpers/chaos.js';

const redis = useRedis();

describe('coordination across hosts', () => {
  it('two concurrent claimers over 100 tasks: every task claimed exactly once', async () => {
    const keys = createKeys('coord-claims');
    const [a, b] = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const setup = new TaskList(a, keys, 'r-claims0001');
      for (let i = 1; i <= 100; i += 1) await setup.add(`task ${i}`, 'lead');
      // Two members on their own connections, claiming as fast as they can until nothing is open.
      const claimer = (connection: RedisConnection, member: string) => claimUntilEmpty(connection, keys, 'r-claims0001', member);
      const [alice, bob] = await Promise.all([claimer(a, 'alice'), claimer(b, 'bob')]);
      expect([...alice, ...bob].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(alice.length).toBeGreaterThan(0);
      expect(bob.length).toBeGreaterThan(0);
      const tasks = await setup.list();
      expect(tasks.every((t) => t.status === 'claimed' && (t.claimedBy === 'alice') === alice.includes(t.id))).toBe(true);
      // Claiming a held task, or finishing another member's task, is refused with who holds it.
      await expect(setup.claim('carol', alice[0])).rejects.toThrow(`task ${alice[0]} is claimed by alice`);
      await expect(setup.done(alice[0]!, 'bob')).rejects.toThrow('not claimed by bob');
      expect((await setup.done(alice[0]!, 'alice', 'all good')).status).toBe('done');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('a message sent by one agent is read by another agent running on another worker process', async () => {
    const dir = tempDir('messages');
    const team = messagingTeam(dir, 'on another host');
    const file = await writeHarness(dir, team.harness);
    // One agent per worker, so the two members run in two worker processes.
    await withFleet({ redisUrl: redis.url, workers: 2, concurrency: 1, env: CHAOS_ENV }, async (fleet) => {
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(storeOf(redis.client, fleet), runId);
      expect(view.status).toBe('succeeded');
      const store = storeOf(redis.client, fleet);
      const [listenerRecord, talkerRecord] = await Promise.all([store.getMember(runId, 'listener'), store.getMember(runId, 'talker')]);
      expect(listenerRecord?.workerId).not.toBe(talkerRecord?.workerId);
      const received = team.received();
      expect(received.inbox).toEqual([expect.objectContaining({ from: 'talker', text: 'hello from talker on another host' })]);
      expect(received.task).toMatchObject({ title: 'review the greeting', claimedBy: 'listener', status: 'claimed' });
      const human = await fleet.reins(['msg', 'inbox', '--all', '--run', runId, '--as', 'listener']);
      expect(human.stdout).toContain('from talker: hello from talker on another host');
    });
  });
});
