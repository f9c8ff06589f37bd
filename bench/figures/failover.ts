// A Sentinel failover with agents running: from the master's SIGKILL to heartbeats flowing again on the
// new master, beside the sentinels' own failover time measured in the same run (the master's death to the
// promoted replica answering ROLE as master). What lies between the two is reins' own reconnection.
import { createKeys, createRedis } from '@reins/shared';
import { waitFor } from '../../test/helpers/chaos.js';
import { writeHarness } from '../../test/helpers/fleet.js';
import { blockingAgent } from '../../test/helpers/gate.js';
import { startSentinelSet } from '../../test/helpers/sentinel.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import { describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { lastBeats, startBenchFleet } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

/** The lease (TTL 10 s) outlasts the failover, so the agents ride it out; the tick is short to see the first beat. */
const TIMINGS = { tickMs: 250, ttlMs: 10_000 } as const;
const DOWN_AFTER_MS = 1_000;

export async function failover(options: BenchOptions): Promise<Figure[]> {
  const beatsAgain: number[] = [];
  const sentinelsDone: number[] = [];
  for (let i = 0; i < options.repeats; i += 1) {
    await withScope(async (scope) => {
      const set = await startSentinelSet({ downAfterMs: DOWN_AFTER_MS });
      scope.defer('stop the sentinel set', () => set.stop());
      const fleet = await startBenchFleet(scope, { redisUrl: set.url, workers: 1, concurrency: 2, env: fleetTimings(TIMINGS) });
      const redis = createRedis(set.url, 'blocking');
      redis.on('error', () => undefined);
      scope.defer('close the bench connection', () => redis.disconnect());
      const keys = createKeys(fleet.prefix);
      const file = await writeHarness(tempDir('bench-failover'), {
        name: 'bench-failover',
        agent: blockingAgent,
        team: [
          { name: 'a', prompt: 'run' },
          { name: 'b', prompt: 'run' },
        ],
      });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const jobIds = ['a', 'b'].map((m) => `${runId}.${m}`);
      await waitFor(async () => (await Promise.all(jobIds.map((id) => redis.exists(keys.heartbeat(id))))).every((n) => n === 1), 'both agents beating');

      const killedAt = Date.now();
      const oldMaster = await set.killMaster();
      const promoted = set.waitForPromotion(oldMaster, 60_000).then(() => Date.now());
      // A beat stamped after the kill can only have been written to the new master.
      const beat = await waitFor(
        async () => {
          const fresh = (await lastBeats(redis, fleet.prefix, jobIds)).filter((at): at is number => at !== undefined && at > killedAt);
          return fresh.length === jobIds.length ? Math.max(...fresh) : undefined;
        },
        'heartbeats on the new master',
        60_000,
        20,
      );
      beatsAgain.push(beat - killedAt);
      sentinelsDone.push((await promoted) - killedAt);
      await fleet.reins(['cancel', runId]);
    });
  }
  return [
    {
      name: 'failover',
      title: "Sentinel master SIGKILLed with agents running → every agent's heartbeat on the new master",
      unit: 'ms',
      samples: beatsAgain,
      baseline: { label: "the sentinels' own failover (kill → the replica answering ROLE as master, polled every 50 ms)", samples: sentinelsDone },
      conditions: `${describeTimings(TIMINGS)}; master, 1 replica, 3 sentinels, down-after ${DOWN_AFTER_MS} ms; 2 agents`,
    },
  ];
}
