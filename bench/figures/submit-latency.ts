import path from 'node:path';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis } from '../../test/helpers/redis.js';
import { writeHarness } from '../../test/helpers/fleet.js';
import { waitFor } from '../../test/helpers/chaos.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import { SHORT_TIMINGS, describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { startRawWorker } from '../lib/raw-baseline.js';
import { startBenchFleet, storeFor, waitForSucceeded } from '../lib/reins.js';
import { markArgv, readMarkMs } from '../lib/mark.js';
import { withScope } from '../lib/scope.js';

/** The first submissions pay for cold caches and JIT in every process; they are run but not counted. */
const WARM_UPS = 2;

/**
 * Submit → agent process running, on an idle fleet: one `reins submit` at a time, each run waited out
 * before the next. Baseline: a bare BullMQ worker process that spawns the same command with execa, from
 * queue.add().
 */
export async function submitLatency(options: BenchOptions): Promise<Figure[]> {
  return withScope(async (scope) => {
    const redis = await startRedis();
    scope.defer('stop redis', () => redis.stop());
    const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 1, concurrency: 4, env: fleetTimings(SHORT_TIMINGS) });
    const store = storeFor(redis.client, fleet);
    const dir = tempDir('bench-submit');

    const fromCall: number[] = [];
    const fromReturn: number[] = [];
    const cliMs: number[] = [];
    for (let i = 0; i < WARM_UPS + options.submitSamples; i += 1) {
      const mark = path.join(dir, `mark-${i}`);
      const file = await writeHarness(dir, { name: 'bench-submit', agent: { kind: 'command', argv: markArgv(mark) }, retry: { attempts: 1 }, team: [{ name: 'solo', prompt: 'mark' }] }, `submit-${i}.yaml`);
      const calledAt = Date.now();
      const submitted = await fleet.reins(['submit', file]);
      const returnedAt = Date.now();
      if (submitted.exitCode !== 0) throw new Error(`reins submit exited ${submitted.exitCode}: ${submitted.stderr}`);
      const runId = submitted.stdout.trim();
      const ranAt = await waitFor(() => readMarkMs(mark), `the agent of ${runId} to run`, 30_000, 20);
      // Idle again before the next submission: the run has ended and its session is gone.
      await waitForSucceeded(store, [runId], 30_000);
      if (i < WARM_UPS) continue;
      fromCall.push(ranAt - calledAt);
      fromReturn.push(ranAt - returnedAt);
      cliMs.push(returnedAt - calledAt);
    }

    const raw = await startRawWorker({ redisUrl: redis.url, concurrency: 4 });
    scope.defer('stop the raw worker', () => raw.stop());
    const rawFromCall: number[] = [];
    const rawFromReturn: number[] = [];
    for (let i = 0; i < WARM_UPS + options.submitSamples; i += 1) {
      const mark = path.join(dir, `raw-mark-${i}`);
      const calledAt = Date.now();
      const jobs = await raw.add([markArgv(mark)]);
      const returnedAt = Date.now();
      const ranAt = await waitFor(() => readMarkMs(mark), 'the raw job to run', 30_000, 20);
      await raw.waitForFinished(jobs, 30_000);
      await sleep(20);
      if (i < WARM_UPS) continue;
      rawFromCall.push(ranAt - calledAt);
      rawFromReturn.push(ranAt - returnedAt);
    }

    // The floor under any CLI on this machine at this moment: Node starting and exiting (this VM's varies 2×).
    const nodeMs: number[] = [];
    for (let i = 0; i < options.submitSamples; i += 1) {
      const startedAt = performance.now();
      await execa(process.execPath, ['-e', '0'], { stdin: 'ignore' });
      nodeMs.push(performance.now() - startedAt);
    }
    const nodeP50 = [...nodeMs].sort((a, b) => a - b)[Math.floor(nodeMs.length / 2)]!;

    const conditions = `idle fleet (1 scheduler, 1 worker), one submission at a time, ${describeTimings(SHORT_TIMINGS)}; ${WARM_UPS} warm-ups not counted`;
    return [
      {
        name: 'submit-latency',
        title: '`reins submit` called → agent process running',
        unit: 'ms',
        samples: fromCall,
        baseline: { label: 'raw BullMQ + execa, queue.add() called → process running', samples: rawFromCall },
        conditions,
        note: `includes the CLI's own start (Node, config, harness checks); Node's own start and exit here (\`node -e 0\`): p50 ${nodeP50.toFixed(0)} ms`,
        extra: { cliProcessMs: cliMs, nodeStartMs: nodeMs },
      },
      {
        name: 'submit-latency',
        title: '`reins submit` returned → agent process running',
        unit: 'ms',
        samples: fromReturn,
        baseline: { label: 'raw BullMQ + execa, queue.add() returned → process running', samples: rawFromReturn },
        conditions,
        note: 'the CLI exits after its connections close, so a few ms of the pipeline fall before "returned"',
      },
    ];
  });
}
