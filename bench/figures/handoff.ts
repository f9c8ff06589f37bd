// How soon an agent's end is seen, and how soon its dependant runs, at the default tick (5 s), idle fleet:
// - exit seen: the launcher's own `stop` stamp of member A → A's attempt concluded by its worker (the attempt
//   record's endedAt), beside a raw parent seeing its child's exit (execa's exit event) in the same run;
// - hand-off: A's `stop` stamp → B's first instruction, where B depends on A, beside the goal.
import path from 'node:path';
import { execa } from 'execa';
import { waitFor } from '../../test/helpers/chaos.js';
import { writeHarness } from '../../test/helpers/fleet.js';
import { agentIntervals } from '../../test/helpers/gate.js';
import { startRedis } from '../../test/helpers/redis.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import { describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { startBenchFleet, storeFor, waitForSucceeded } from '../lib/reins.js';
import { markArgv, readMarkMs } from '../lib/mark.js';
import { withScope } from '../lib/scope.js';

/** The defaults: an agent's end must not wait for the tick. */
const TIMINGS = { tickMs: 5_000, ttlMs: 30_000 } as const;
const WARM_UPS = 1;

export async function handoff(options: BenchOptions): Promise<Figure[]> {
  return withScope(async (scope) => {
    const redis = await startRedis();
    scope.defer('stop redis', () => redis.stop());
    const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 1, concurrency: 4, env: fleetTimings(TIMINGS) });
    const store = storeFor(redis.client, fleet);
    const dir = tempDir('bench-handoff');
    const seen: number[] = [];
    const handed: number[] = [];
    for (let i = 0; i < WARM_UPS + options.repeats; i += 1) {
      const mark = path.join(dir, `b-started-${i}`);
      const file = await writeHarness(
        dir,
        {
          name: 'bench-handoff',
          retry: { attempts: 1 },
          team: [
            { name: 'a', prompt: 'end', agent: { kind: 'command', argv: ['true'] } },
            { name: 'b', prompt: 'mark', depends_on: ['a'], agent: { kind: 'command', argv: markArgv(mark) } },
          ],
        },
        `handoff-${i}.yaml`,
      );
      const submitted = await fleet.reins(['submit', file]);
      if (submitted.exitCode !== 0) throw new Error(`reins submit exited ${submitted.exitCode}: ${submitted.stderr}`);
      const runId = submitted.stdout.trim();
      await waitForSucceeded(store, [runId], 60_000);
      const [a] = agentIntervals(fleet.dataDir, runId, 'a');
      const concluded = (await store.readAttempts(runId, 'a')).at(-1)?.endedAt;
      if (a?.stopMs === undefined || concluded === undefined) throw new Error(`no stop stamp or attempt record for ${runId}/a`);
      if (i < WARM_UPS) continue;
      seen.push(concluded - a.stopMs);
      handed.push((await waitFor(() => readMarkMs(mark), `the mark of ${runId}/b`)) - a.stopMs);
    }

    // Raw: a parent process told of its child's exit by the kernel (execa's exit event), the same `true`.
    const raw: number[] = [];
    for (let i = 0; i < WARM_UPS + options.repeats; i += 1) {
      const child = execa('sh', ['-c', 'true; date +%s%N'], { stdout: 'pipe' });
      const done = await child;
      const exitSeenAt = Date.now();
      if (i >= WARM_UPS) raw.push(exitSeenAt - Number(BigInt(String(done.stdout).trim()) / 1_000_000n));
    }

    const conditions = `idle fleet (1 scheduler, 1 worker), defaults: ${describeTimings(TIMINGS)}; ${WARM_UPS} warm-up not counted`;
    return [
      {
        name: 'handoff',
        title: "agent's process exit → its worker has concluded the attempt",
        unit: 'ms',
        samples: seen,
        baseline: { label: "raw: a parent's exit event for its child (execa)", samples: raw },
        conditions,
        note: "goal: seen within 20 ms (p50) without polling faster; from the launcher's stop stamp to the attempt record's endedAt, which also covers reading the rest of the output",
      },
      {
        name: 'handoff',
        title: "dependency hand-off: member A's process exit → member B's process running",
        unit: 'ms',
        samples: handed,
        baseline: { label: 'goal: p50 ≤ 100 ms, p99 ≤ 250 ms' },
        conditions,
        note: 'A is `true`; B writes the time as its first act; B is released by the scheduler when A succeeded',
      },
    ];
  });
}
