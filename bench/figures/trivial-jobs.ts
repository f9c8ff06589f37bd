import { Redis } from 'ioredis';
import { startRedis } from '../../test/helpers/redis.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import { SHORT_TIMINGS, describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { startRawWorker } from '../lib/raw-baseline.js';
import { agentJobErrors, startBenchFleet, storeFor, submitAgents, waitForSucceeded } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

const TRUE_ARGV = ['true'];

/**
 * N command agents running `true`, through reins (runs of eight members, submitted at once) and through
 * a bare BullMQ worker spawning `true` with execa, at the same concurrency. Each total runs from the
 * first submission to the last job's end (the member's endedAt; the raw job's finishedOn).
 */
export async function trivialJobs(options: BenchOptions): Promise<Figure[]> {
  const { trivialJobs: jobs, trivialConcurrency: concurrency } = options;
  return withScope(async (scope) => {
    const redis = await startRedis();
    scope.defer('stop redis', () => redis.stop());
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    scope.defer('close the bench connection', () => connection.disconnect());
    const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 1, concurrency, env: fleetTimings(SHORT_TIMINGS, { REINS_BACKOFF_BASE_MS: '100', REINS_BACKOFF_JITTER: '0' }) });
    const raw = await startRawWorker({ redisUrl: redis.url, concurrency });
    scope.defer('stop the raw worker', () => raw.stop());
    const store = storeFor(connection, fleet);
    const dir = tempDir('bench-trivial');
    const timeoutMs = 120_000 + jobs * 2_000;

    // Agents that end at once can meet tmux's server exiting with its last session ("server exited
    // unexpectedly" on new-session); they get a second attempt, which the time includes, and are counted.
    const retried: string[] = [];
    const throughReins = async (count: number) => {
      const startedAt = Date.now();
      const { runIds } = await submitAgents(fleet, connection, { dir, name: 'bench-true', count, argv: TRUE_ARGV, attempts: 3 });
      const members = await waitForSucceeded(store, runIds, timeoutMs);
      for (const m of members.filter((m) => m.attempts > 1)) {
        retried.push(`${m.runId}/${m.name}: ${(await agentJobErrors(fleet, connection, m.jobId)).join('; ')}`);
      }
      return Math.max(...members.map((m) => m.endedAt ?? Number.NaN)) - startedAt;
    };
    const throughRaw = async (count: number) => {
      const startedAt = Date.now();
      const added = await raw.add(Array.from({ length: count }, () => TRUE_ARGV));
      return (await raw.waitForFinished(added, timeoutMs)) - startedAt;
    };

    // One round of each to warm up caches and JIT, not counted.
    const warmUpJobs = Math.min(jobs, 8);
    await throughReins(warmUpJobs);
    await throughRaw(warmUpJobs);

    const reinsMs: number[] = [];
    const rawMs: number[] = [];
    for (let i = 0; i < options.repeats; i += 1) {
      reinsMs.push(await throughReins(jobs));
      rawMs.push(await throughRaw(jobs));
    }
    const ratios = reinsMs.map((ms, i) => ms / rawMs[i]!);
    const conditions = `${jobs} jobs, concurrency ${concurrency} on both, 1 worker process each, ${describeTimings(SHORT_TIMINGS)}`;
    return [
      {
        name: 'trivial-jobs',
        title: `${jobs} trivial agent jobs (\`true\`): total time through reins`,
        unit: 'ms',
        samples: reinsMs,
        baseline: { label: 'raw BullMQ + execa', samples: rawMs },
        conditions,
        note: `reins sees an agent end when it ends (the exit watch); ${retried.length} of ${warmUpJobs + jobs * options.repeats} jobs (warm-up included) needed a second attempt (backoff 100 ms)`,
        extra: {
          retried,
          reinsJobsPerS: reinsMs.map((ms) => (1_000 * jobs) / ms),
          rawJobsPerS: rawMs.map((ms) => (1_000 * jobs) / ms),
        },
      },
      {
        name: 'trivial-jobs',
        title: 'trivial agent jobs: ratio reins ÷ raw (total time)',
        unit: '×',
        samples: ratios,
        baseline: { label: 'raw BullMQ + execa = 1' },
        conditions,
      },
    ];
  });
}
