import { beatIntervalMs } from '@reins/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/helpers/redis.js';
import { waitFor } from '../../test/helpers/chaos.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import { describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { measureWindow, type CommandDelta, type WindowReading } from '../lib/probes.js';
import { startRawWorker } from '../lib/raw-baseline.js';
import { countHeartbeats, startBenchFleet, submitAgents, waitForAgentsRunning } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

/** Sizing figures are stated for the defaults a production fleet runs with. */
const DEFAULT_TIMINGS = { tickMs: 5_000, ttlMs: 30_000 } as const;

const perSecond = (delta: CommandDelta, seconds: number) => delta.calls / seconds;

/** Per command, what one agent adds per second: (busy − idle) / agents. */
function perAgentBreakdown(idle: WindowReading, busy: WindowReading, server: number, agents: number): Record<string, number> {
  const rows: [string, number][] = [];
  const busyBy = busy.redis[server]!.byCommand;
  const idleBy = idle.redis[server]!.byCommand;
  for (const name of new Set([...Object.keys(busyBy), ...Object.keys(idleBy)])) {
    const value = ((busyBy[name] ?? 0) / busy.seconds - (idleBy[name] ?? 0) / idle.seconds) / agents;
    if (Math.abs(value) >= 0.005) rows.push([name, Math.round(value * 1_000) / 1_000]);
  }
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]));
}

/**
 * One fleet, watched twice for the same window: idle, then with K sleeping command agents running and
 * nothing else happening. Beside it, on a Redis of its own, a bare BullMQ worker process holds K jobs
 * (each an execa'd `sleep`) with reins' lock and stall settings. From the two windows: Redis commands
 * per running agent per second (INFO commandstats deltas, idle subtracted), and the worker's RSS.
 */
export async function footprint(options: BenchOptions): Promise<Figure[]> {
  const { footprintAgents: agents, windowMs } = options;
  return withScope(async (scope) => {
    const reinsRedis = await startRedis();
    scope.defer('stop the reins redis', () => reinsRedis.stop());
    const rawRedis = await startRedis();
    scope.defer('stop the raw redis', () => rawRedis.stop());
    const connection = new Redis(reinsRedis.url, { maxRetriesPerRequest: null });
    scope.defer('close the bench connection', () => connection.disconnect());

    const fleet = await startBenchFleet(scope, { redisUrl: reinsRedis.url, workers: 1, concurrency: agents, env: fleetTimings(DEFAULT_TIMINGS) });
    const raw = await startRawWorker({ redisUrl: rawRedis.url, concurrency: agents, lockDurationMs: DEFAULT_TIMINGS.ttlMs, stalledIntervalMs: beatIntervalMs(DEFAULT_TIMINGS.ttlMs, DEFAULT_TIMINGS.tickMs) });
    scope.defer('stop the raw worker', () => raw.stop());
    const worker = fleet.workers[0]!;
    const servers = [reinsRedis.client, rawRedis.client];
    const pids = [worker.pid, raw.pid];

    // Past start-up (registration, first sweeps, BullMQ's first stall check, start-up garbage), then idle.
    await sleep(3 * DEFAULT_TIMINGS.tickMs);
    const idle = await measureWindow({ servers, pids, windowMs });

    // Long enough to outlast the window; the scope's fleet stop ends them sooner.
    const sleepS = String(Math.ceil((3 * windowMs + 300_000) / 1_000));
    const submission = await submitAgents(fleet, connection, { dir: tempDir('bench-footprint'), name: 'bench-sleep', count: agents, argv: ['sleep', sleepS] });
    await raw.add(Array.from({ length: agents }, () => ['sleep', sleepS]));
    await waitForAgentsRunning(fleet, connection, submission.agents, 120_000 + agents * 1_000);
    await raw.waitForActive(agents, 60_000);
    // Past the start-up burst (workspace, records, first events): one more tick, then the window.
    await sleep(DEFAULT_TIMINGS.tickMs + 1_000);
    const busy = await measureWindow({ servers, pids, windowMs });
    const heartbeatsAfter = await countHeartbeats(connection, fleet, submission.agents);
    const sessionsAfter = (await fleet.tmuxSessions()).length;
    if (heartbeatsAfter < agents || sessionsAfter < agents) {
      throw new Error(`agents ended during the window: ${sessionsAfter} sessions and ${heartbeatsAfter} heartbeats of ${agents}`);
    }
    await waitFor(async () => (await raw.queue.getActiveCount()) >= agents, 'the raw jobs still active', 5_000);

    const reinsPerAgent = (perSecond(busy.redis[0]!, busy.seconds) - perSecond(idle.redis[0]!, idle.seconds)) / agents;
    const rawPerJob = (perSecond(busy.redis[1]!, busy.seconds) - perSecond(idle.redis[1]!, idle.seconds)) / agents;
    const usecPerAgent = (busy.redis[0]!.usec / busy.seconds - idle.redis[0]!.usec / idle.seconds) / agents;
    const timings = describeTimings(DEFAULT_TIMINGS);
    const [workerIdle, rawIdle] = idle.processes;
    const [workerBusy, rawBusy] = busy.processes;
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

    return [
      {
        name: 'redis-commands',
        title: `Redis commands per running agent per second (${agents} sleeping agents)`,
        unit: 'cmd/s',
        samples: [reinsPerAgent],
        baseline: { label: 'raw BullMQ worker holding the same jobs (same lock and stall settings), per job', samples: [rawPerJob] },
        conditions: `${timings}, reconcile 2000 ms; ${Math.round(busy.seconds)} s windows, idle fleet subtracted`,
        note: 'INFO commandstats: every command, including those run inside Lua scripts',
        extra: {
          agents,
          windowS: { idle: idle.seconds, busy: busy.seconds },
          reins: { idlePerS: perSecond(idle.redis[0]!, idle.seconds), busyPerS: perSecond(busy.redis[0]!, busy.seconds), redisUsecPerAgentPerS: usecPerAgent, perAgentByCommand: perAgentBreakdown(idle, busy, 0, agents) },
          raw: { idlePerS: perSecond(idle.redis[1]!, idle.seconds), busyPerS: perSecond(busy.redis[1]!, busy.seconds), perJobByCommand: perAgentBreakdown(idle, busy, 1, agents) },
        },
      },
      {
        name: 'worker-rss',
        title: 'worker RSS, idle',
        unit: 'MiB',
        samples: workerIdle!.rssMiB,
        baseline: { label: 'raw BullMQ + execa worker process, idle', samples: rawIdle!.rssMiB },
        conditions: `VmRSS sampled each second over ${Math.round(idle.seconds)} s; ${timings}`,
        extra: { workerCpuPercent: workerIdle!.cpuPercent, rawCpuPercent: rawIdle!.cpuPercent },
      },
      {
        name: 'worker-rss',
        title: `worker RSS, ${agents} monitored agents`,
        unit: 'MiB',
        samples: workerBusy!.rssMiB,
        baseline: { label: `raw BullMQ + execa worker process, ${agents} jobs`, samples: rawBusy!.rssMiB },
        conditions: `VmRSS sampled each second over ${Math.round(busy.seconds)} s; ${timings}`,
        extra: {
          workerMiBPerAgent: (median(workerBusy!.rssMiB) - median(workerIdle!.rssMiB)) / agents,
          rawMiBPerJob: (median(rawBusy!.rssMiB) - median(rawIdle!.rssMiB)) / agents,
          workerCpuPercent: workerBusy!.cpuPercent,
          rawCpuPercent: rawBusy!.cpuPercent,
        },
      },
    ];
  });
}
