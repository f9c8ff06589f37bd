// What one agent's output flood costs its worker and the agents beside it (issue 11), at the defaults (5 s
// tick, 30 s TTL, REINS_OUTPUT_MAX_BYTES 64 MiB): one worker runs a quiet neighbour and a second agent,
// first quiet too (the baseline), then, BENCH_REPEATS times, one that prints 200 MB of stream-json lines as
// fast as it can.
// - the worker's peak RSS (VmHWM) after each phase;
// - the neighbour's heartbeat intervals (its last beat, from the TTL left, read every 100 ms: consecutive
//   distinct values are consecutive ticks of its monitor loop) over each phase.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentJobId, createKeys } from '@reins/shared';
import { waitFor } from '../../test/helpers/chaos.js';
import { writeHarness } from '../../test/helpers/fleet.js';
import { floodAgent, peakRssMiB, quietAgent } from '../../test/helpers/flood.js';
import { openGate } from '../../test/helpers/gate.js';
import { startRedis } from '../../test/helpers/redis.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import { describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { cpuSeconds } from '../lib/probes.js';
import { lastBeats, startBenchFleet, storeFor, waitForSucceeded } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

const TIMINGS = { tickMs: 5_000, ttlMs: 30_000 } as const;
const FLOOD_BYTES = 200 * 1_000_000;
const POLL_MS = 100;
/** Neighbour ticks watched after the other agent ended (the flood's tail: its last reads and reports). */
const TICKS_AFTER = 2;
/** Neighbour ticks watched in the quiet phase. */
const QUIET_TICKS = 6;

interface Phase {
  /** The neighbour's heartbeat intervals, ms. */
  intervals: number[];
  /** The worker's peak RSS since it started, read once the phase is over. */
  peakRssMiB: number;
  /** The worker's share of one core over the phase. */
  cpuPercent: number;
  seconds: number;
}

export async function outputFlood(options: BenchOptions): Promise<Figure[]> {
  return withScope(async (scope) => {
    const redis = await startRedis();
    scope.defer('stop redis', () => redis.stop());
    const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 1, concurrency: 2, env: fleetTimings(TIMINGS) });
    const store = storeFor(redis.client, fleet);
    const keys = createKeys(fleet.prefix);
    const worker = fleet.workers[0]!;
    const dir = tempDir('bench-output-flood');

    /** Runs the neighbour beside `other` and watches the neighbour's heartbeat until `done` says the phase is over. */
    const phase = async (label: string, other: (neighbourStarted: string, gate: string) => { kind: 'command'; argv: string[] }, done: (runId: string) => Promise<boolean>): Promise<Phase> => {
      const started = path.join(dir, `${label}-neighbour-started`);
      const gate = path.join(dir, `${label}-gate`);
      const file = await writeHarness(
        dir,
        {
          name: `bench-${label}`,
          retry: { attempts: 1 },
          team: [
            { name: 'neighbour', prompt: 'wait', agent: quietAgent(started, gate) },
            { name: 'other', prompt: label, agent: other(started, gate) },
          ],
        },
        `${label}.yaml`,
      );
      const submitted = await fleet.reins(['submit', file]);
      if (submitted.exitCode !== 0) throw new Error(`reins submit exited ${submitted.exitCode}: ${submitted.stderr}`);
      const runId = submitted.stdout.trim();
      const heartbeat = keys.heartbeat(agentJobId(runId, 'neighbour'));
      await waitFor(() => existsSync(started) && redis.client.exists(heartbeat).then((n) => n === 1), `the ${label} neighbour running`, 60_000);
      const cpuBefore = cpuSeconds(worker.pid) ?? Number.NaN;
      const startedAt = Date.now();
      const beats: number[] = [];
      let endsAt = Number.POSITIVE_INFINITY;
      while (Date.now() < endsAt) {
        const [beatAt] = await lastBeats(redis.client, fleet.prefix, [agentJobId(runId, 'neighbour')]);
        if (beatAt === undefined) throw new Error(`the ${label} neighbour's heartbeat is gone (${heartbeat})`);
        // Two readings of one beat differ by the clocks' rounding; the next beat is a tick later.
        const last = beats.at(-1);
        if (last === undefined || Math.abs(beatAt - last) > 20) beats.push(beatAt);
        if (endsAt === Number.POSITIVE_INFINITY && (await done(runId))) endsAt = Date.now() + TICKS_AFTER * TIMINGS.tickMs + POLL_MS;
        await sleep(POLL_MS);
      }
      const seconds = (Date.now() - startedAt) / 1_000;
      const cpuPercent = (100 * ((cpuSeconds(worker.pid) ?? Number.NaN) - cpuBefore)) / seconds;
      openGate(gate);
      await waitForSucceeded(store, [runId], 120_000);
      const peak = peakRssMiB(worker.pid);
      if (peak === undefined) throw new Error(`the worker is gone after the ${label} phase:\n${worker.log().slice(-2_000)}`);
      return { intervals: beats.slice(1).map((at, i) => at - beats[i]!), peakRssMiB: peak, cpuPercent, seconds };
    };

    const quietStartedAt = Date.now();
    const quiet = await phase(
      'quiet',
      (_started, gate) => quietAgent(path.join(dir, 'quiet-other-started'), gate),
      async () => Date.now() - quietStartedAt >= QUIET_TICKS * TIMINGS.tickMs,
    );
    // One flood is over within a tick or two: BENCH_REPEATS of them, one after another, for more intervals.
    const floods: Phase[] = [];
    for (let i = 0; i < options.repeats; i += 1) {
      floods.push(
        await phase(
          `flood-${i + 1}`,
          (started) => floodAgent(FLOOD_BYTES, { startGate: started }),
          async (runId) => (await store.getMember(runId, 'other'))?.status === 'succeeded',
        ),
      );
    }
    const flood: Phase = {
      intervals: floods.flatMap((f) => f.intervals),
      peakRssMiB: Math.max(...floods.map((f) => f.peakRssMiB)),
      cpuPercent: floods.reduce((sum, f) => sum + f.cpuPercent * f.seconds, 0) / floods.reduce((sum, f) => sum + f.seconds, 0),
      seconds: floods.reduce((sum, f) => sum + f.seconds, 0),
    };

    const conditions = `1 worker, 2 agents; ${options.repeats} floods one after another; defaults: ${describeTimings(TIMINGS)}, REINS_OUTPUT_MAX_BYTES 64 MiB`;
    const extra = { quiet: { cpuPercent: quiet.cpuPercent, seconds: quiet.seconds }, flood: { cpuPercent: flood.cpuPercent, seconds: flood.seconds } };
    return [
      {
        name: 'output-flood',
        title: "worker's peak RSS under 200 MB stream-json floods from one of its agents",
        unit: 'MiB',
        samples: [flood.peakRssMiB],
        baseline: { label: 'the same worker before, with a quiet agent in its place', samples: [quiet.peakRssMiB] },
        conditions,
        note: 'VmHWM; goal: under 150 MiB (main: 4.4 GB, then the V8 heap limit killed the worker)',
        extra,
      },
      {
        name: 'output-flood',
        title: "a neighbour agent's heartbeat interval on the flooded worker",
        unit: 'ms',
        samples: flood.intervals,
        baseline: { label: 'the same neighbour beside a quiet agent', samples: quiet.intervals },
        conditions: `${conditions}; from each flood's start to ${TICKS_AFTER} ticks after its member succeeded`,
        note: "the neighbour's last beat (from its heartbeat's TTL left) read every 100 ms; goal: the tick's cadence",
        extra,
      },
    ];
  });
}
