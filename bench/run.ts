// npm run bench: reins' figures, each measured in one run beside its baseline, on real processes
// (redis-server on free ports, never 6379; tmux; the Claude Code CLI against the test Messages API).
// Prints a markdown table and writes bench/results/bench-<time>.json.
//
//   BENCH_REPEATS=5          samples of the repeated figures
//   BENCH_ONLY=a,b           only these figures (see FIGURE_NAMES in lib/options.ts)
//   BENCH_SCALE=200          agents of the scale figure; sizes and windows: lib/options.ts
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../test/helpers/fleet.js';
import { testRoot } from '../test/helpers/test-root.js';
import { renderTable, toJson, type Figure } from './lib/figure.js';
import { loadBenchOptions, type BenchOptions, type FigureName } from './lib/options.js';
import { closeOpenScopes } from './lib/scope.js';
import { footprint } from './figures/footprint.js';
import { crashResume, deadWorker, hungAgent } from './figures/safety-nets.js';
import { partition } from './figures/partition.js';
import { failover } from './figures/failover.js';
import { scale } from './figures/scale.js';
import { submitLatency } from './figures/submit-latency.js';
import { trivialJobs } from './figures/trivial-jobs.js';
import { workspace } from './figures/workspace.js';
import { handoff } from './figures/handoff.js';
import { outputFlood } from './figures/output-flood.js';
import { accountMove } from './figures/account-move.js';

interface Suite {
  /** The figures it measures; it runs when BENCH_ONLY names any of them (or is empty). */
  figures: FigureName[];
  run: (options: BenchOptions) => Promise<Figure[]>;
}

/** In the order; the footprint suite measures figures 4 and 5 on one fleet. */
const SUITES: Suite[] = [
  { figures: ['submit-latency'], run: submitLatency },
  { figures: ['trivial-jobs'], run: trivialJobs },
  { figures: ['dead-worker'], run: deadWorker },
  { figures: ['hung-agent'], run: hungAgent },
  { figures: ['redis-commands', 'worker-rss'], run: footprint },
  { figures: ['scale'], run: scale },
  { figures: ['crash-resume'], run: crashResume },
  { figures: ['partition-fence', 'partition-moved'], run: partition },
  { figures: ['failover'], run: failover },
  { figures: ['workspace', 'workspace-push'], run: workspace },
  { figures: ['handoff'], run: handoff },
  { figures: ['output-flood'], run: outputFlood },
  { figures: ['account-move'], run: accountMove },
];

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = loadBenchOptions();
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  // Everything the bench makes (data dirs, sockets, harness files) goes below one folder, removed at the end.
  process.env.REINS_TEST_ROOT ??= path.join(os.tmpdir(), `reins-bench-${process.pid}`);
  const root = testRoot();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping fleets and servers (again to force)`);
    void closeOpenScopes().finally(() => {
      rmSync(root, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const selected = SUITES.filter((s) => options.only.size === 0 || s.figures.some((f) => options.only.has(f)));
  const figures: Figure[] = [];
  const failures: { suite: string; error: string }[] = [];
  const durations: Record<string, number> = {};
  log(`${selected.map((s) => s.figures.join('+')).join(', ')}; load average ${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  try {
    for (const suite of selected) {
      const label = suite.figures.join('+');
      const suiteStart = Date.now();
      log(`${label}…`);
      try {
        const measured = await suite.run(options);
        figures.push(...measured.filter((f) => options.only.size === 0 || options.only.has(f.name)));
      } catch (error) {
        failures.push({ suite: label, error: (error as Error).stack ?? String(error) });
        log(`${label} failed: ${(error as Error).message}`);
      }
      durations[label] = Date.now() - suiteStart;
      log(`${label} took ${Math.round(durations[label] / 1_000)} s`);
    }
  } finally {
    await closeOpenScopes();
    rmSync(root, { recursive: true, force: true });
  }

  log(`done in ${Math.round((Date.now() - startedAt.getTime()) / 1_000)} s`);
  console.log(`\nreins benchmarks, ${startedAt.toISOString()}, ${os.cpus().length} cores (BENCH_REPEATS=${options.repeats})\n`);
  console.log(renderTable(figures, failures));
  const out = path.join(repoRoot, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMiB: Math.round(os.totalmem() / 2 ** 20), loadAverageAtStart, node: process.version };
  writeFileSync(file, `${JSON.stringify({ startedAt, machine, options: { ...options, only: [...options.only] }, durationsMs: durations, figures: figures.map(toJson), failures }, null, 2)}\n`);
  console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
  return failures.length > 0 ? 1 : 0;
}

// Leftover handles (queue connections of failed stories) must not keep the bench alive once it is done.
process.exit(await main());
