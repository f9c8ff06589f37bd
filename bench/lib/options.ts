import { z } from 'zod';

/** The figures `BENCH_ONLY` can name; a suite runs when any of its figures is named. */
export const FIGURE_NAMES = [
  'submit-latency',
  'trivial-jobs',
  'dead-worker',
  'hung-agent',
  'crash-resume',
  'redis-commands',
  'worker-rss',
  'scale',
  'partition-fence',
  'partition-moved',
  'failover',
  'workspace',
  'workspace-push',
  'handoff',
  'output-flood',
  'account-move',
] as const;
export type FigureName = (typeof FIGURE_NAMES)[number];

const count = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const EnvSchema = z
  .object({
    /** Samples of the repeated figures (trivial jobs, dead worker, hung agent, crash resume). */
    BENCH_REPEATS: count(1, 100, 5),
    /** A comma list of figure names; empty: all. */
    BENCH_ONLY: z.string().optional(),
    /** Submissions timed for submit → running (two more are warm-ups). */
    BENCH_SUBMIT_SAMPLES: count(1, 1_000, 40),
    /** Trivial jobs per repeat, and the concurrency both reins and raw BullMQ get. */
    BENCH_TRIVIAL_JOBS: count(1, 10_000, 128),
    BENCH_TRIVIAL_CONCURRENCY: count(1, 512, 16),
    /** Agents held running while Redis commands and the worker's RSS are measured. */
    BENCH_FOOTPRINT_AGENTS: count(1, 512, 50),
    /** Each measuring window of the footprint figures (idle, then with agents). */
    BENCH_WINDOW_MS: count(1_000, 600_000, 30_000),
    /** Concurrent sleeping agents of the scale figure, spread over BENCH_SCALE_WORKERS worker processes. */
    BENCH_SCALE: count(1, 1_024, 200),
    BENCH_SCALE_WORKERS: count(1, 16, 2),
    /** The scale figure's tick; its heartbeat TTL is six ticks (the defaults: 5 s and 30 s). */
    BENCH_SCALE_TICK_MS: count(100, 60_000, 5_000),
    /** How long heartbeats are watched once all scale agents run (default: six ticks). */
    BENCH_SCALE_WINDOW_MS: z.coerce.number().int().min(1_000).max(600_000).optional(),
  })
  .superRefine((env, ctx) => {
    const only = (env.BENCH_ONLY ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const name of only) {
      if (!(FIGURE_NAMES as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['BENCH_ONLY'], message: `unknown figure "${name}" (expected a comma list of: ${FIGURE_NAMES.join(', ')})` });
      }
    }
  });

export interface BenchOptions {
  repeats: number;
  only: ReadonlySet<FigureName>;
  submitSamples: number;
  trivialJobs: number;
  trivialConcurrency: number;
  footprintAgents: number;
  windowMs: number;
  scaleAgents: number;
  scaleWorkers: number;
  scaleTickMs: number;
  scaleTtlMs: number;
  scaleWindowMs: number;
}

/** Reads the BENCH_* variables once; a bad one stops the bench with its name, value and what was expected. */
export function loadBenchOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const input: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (name.startsWith('BENCH_') && value !== undefined && value !== '') input[name] = value;
  const parsed = EnvSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `  ${name}=${JSON.stringify(input[name] ?? '')}: ${issue.message}`;
    });
    throw new Error(`invalid bench settings:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const only = new Set(
    (e.BENCH_ONLY ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean) as FigureName[],
  );
  return {
    repeats: e.BENCH_REPEATS,
    only,
    submitSamples: e.BENCH_SUBMIT_SAMPLES,
    trivialJobs: e.BENCH_TRIVIAL_JOBS,
    trivialConcurrency: e.BENCH_TRIVIAL_CONCURRENCY,
    footprintAgents: e.BENCH_FOOTPRINT_AGENTS,
    windowMs: e.BENCH_WINDOW_MS,
    scaleAgents: e.BENCH_SCALE,
    scaleWorkers: Math.min(e.BENCH_SCALE_WORKERS, e.BENCH_SCALE),
    scaleTickMs: e.BENCH_SCALE_TICK_MS,
    scaleTtlMs: 6 * e.BENCH_SCALE_TICK_MS,
    scaleWindowMs: e.BENCH_SCALE_WINDOW_MS ?? 6 * e.BENCH_SCALE_TICK_MS,
  };
}

/** Timings of the latency and safety-net figures (issue 3's): short, so a run takes seconds. */
export const SHORT_TIMINGS = { tickMs: 500, ttlMs: 2_000 } as const;

/** The environment of a fleet measured at the given tick and heartbeat TTL; every timing is explicit. */
export function fleetTimings({ tickMs, ttlMs }: { tickMs: number; ttlMs: number }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REINS_MONITOR_INTERVAL_MS: String(tickMs),
    REINS_HEARTBEAT_TTL_MS: String(ttlMs),
    // The scheduler sweeps at its default (2 s) unless the tick is shorter.
    REINS_RECONCILE_INTERVAL_MS: String(Math.min(2_000, tickMs)),
    REINS_CHECKPOINT_INTERVAL_MS: '30000',
    REINS_IDLE_TIMEOUT_MS: '600000',
    REINS_BACKOFF_BASE_MS: '5000',
    // A stopping worker hands its agents back at once: the bench never waits out the 120 s default.
    REINS_DRAIN_TIMEOUT_MS: '1000',
    REINS_LOG_LEVEL: 'info',
    ...extra,
  };
}

export const describeTimings = ({ tickMs, ttlMs }: { tickMs: number; ttlMs: number }): string => `tick ${tickMs} ms, TTL ${ttlMs} ms`;
