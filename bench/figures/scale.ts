import { beatIntervalMs } from '@reins/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/helpers/redis.js';
import type { Fleet } from '../../test/helpers/fleet.js';
import { tempDir } from '../../test/helpers/test-root.js';
import { summarize, type Figure } from '../lib/figure.js';
import { describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { cpuSeconds, rssMiB } from '../lib/probes.js';
import { startRawWorker } from '../lib/raw-baseline.js';
import { lastBeats, startBenchFleet, storeFor, submitAgents, waitForAgentsRunning, type SubmittedAgent } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

/** Redis's CPU seconds so far and its memory, from INFO. */
async function redisUsage(connection: Redis): Promise<{ cpuSeconds: number; usedMiB: number; rssMiB: number }> {
  const info = await connection.info();
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return { cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'), usedMiB: field('used_memory') / 2 ** 20, rssMiB: field('used_memory_rss') / 2 ** 20 };
}

/** Two readings of one beat differ by at most a few ms (two clocks' rounding); beats are a beat interval apart. */
const BEAT_JITTER_MS = 20;

interface HeartbeatWatch {
  /** Per agent, the distinct beatAt values seen, in order. */
  beats: number[][];
  /** Per sample, how many heartbeat keys were missing. */
  missing: number[];
  /** Session counts, read every few seconds. */
  sessions: number[];
  /** Per worker: RSS samples (MiB) and CPU share of one core over the window. */
  workers: { id: string; rssMiB: number[]; cpuPercent: number }[];
  samples: number;
  seconds: number;
}

/**
 * Reads when every agent's heartbeat was last refreshed (lastBeats: from its TTL left) more often than the
 * tick, for the whole window. Consecutive distinct values are consecutive beats, so their gaps are the real
 * beat intervals of each agent's monitor loop, whatever the polling jitter.
 */
async function watchHeartbeats(fleet: Fleet, connection: Redis, agents: readonly SubmittedAgent[], windowMs: number, pollMs: number): Promise<HeartbeatWatch> {
  const beats: number[][] = agents.map(() => []);
  const missing: number[] = [];
  const sessions: number[] = [];
  const rss: number[][] = fleet.workers.map(() => []);
  const cpuBefore = fleet.workers.map((w) => cpuSeconds(w.pid) ?? Number.NaN);
  const startedAt = Date.now();
  let lastSessionsAt = 0;
  let samples = 0;
  while (Date.now() - startedAt < windowMs) {
    const tickStart = Date.now();
    let gone = 0;
    (
      await lastBeats(
        connection,
        fleet.prefix,
        agents.map((a) => a.jobId),
      )
    ).forEach((beatAt, i) => {
      if (beatAt === undefined) {
        gone += 1;
        return;
      }
      // The same beat read twice differs by the clock's rounding; a new one is a beat interval later.
      const seen = beats[i]!;
      const last = seen.at(-1);
      if (last === undefined || Math.abs(beatAt - last) > BEAT_JITTER_MS) seen.push(beatAt);
    });
    missing.push(gone);
    samples += 1;
    if (Date.now() - lastSessionsAt >= 5_000) {
      lastSessionsAt = Date.now();
      sessions.push((await fleet.tmuxSessions()).length);
      fleet.workers.forEach((w, i) => {
        const value = rssMiB(w.pid);
        if (value !== undefined) rss[i]!.push(value);
      });
    }
    await sleep(Math.max(0, pollMs - (Date.now() - tickStart)));
  }
  const seconds = (Date.now() - startedAt) / 1_000;
  sessions.push((await fleet.tmuxSessions()).length);
  return {
    beats,
    missing,
    sessions,
    workers: fleet.workers.map((w, i) => ({ id: w.id, rssMiB: rss[i]!, cpuPercent: (100 * ((cpuSeconds(w.pid) ?? Number.NaN) - cpuBefore[i]!)) / seconds })),
    samples,
    seconds,
  };
}

/**
 * Scale: S sleeping command agents at once on this machine, each in its own tmux session with a heartbeat.
 * Measured: the time from submitting them to all running; then, over a window, each agent's heartbeat
 * intervals against the beat interval (a missed beat shows as an interval of two beat intervals or more), and
 * that every session and heartbeat stays. Baseline for the start-up: a bare BullMQ worker spawning
 * S `sleep`s with execa.
 */
export async function scale(options: BenchOptions): Promise<Figure[]> {
  const { scaleAgents: agents, scaleWorkers: workers, scaleTickMs: tickMs, scaleTtlMs: ttlMs, scaleWindowMs: windowMs } = options;
  const timings = { tickMs, ttlMs };
  const rampTimeoutMs = 60_000 + agents * 1_500;
  return withScope(async (scope) => {
    const redis = await startRedis();
    scope.defer('stop redis', () => redis.stop());
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    scope.defer('close the bench connection', () => connection.disconnect());
    // Bounded, so nothing outlives the bench by long even if every clean-up failed.
    const sleepS = String(Math.ceil((rampTimeoutMs + windowMs + 120_000) / 1_000));

    // The baseline first, on a quiet machine: the same number of `sleep`s through a bare BullMQ worker.
    const raw = await startRawWorker({ redisUrl: redis.url, concurrency: agents, lockDurationMs: ttlMs, stalledIntervalMs: beatIntervalMs(ttlMs, tickMs) });
    scope.defer('stop the raw worker', () => raw.stop());
    let rawRampMs: number;
    try {
      const rawStartedAt = Date.now();
      await raw.add(Array.from({ length: agents }, () => ['sleep', sleepS]));
      await raw.waitForActive(agents, rampTimeoutMs);
      rawRampMs = Date.now() - rawStartedAt;
    } finally {
      await raw.stop();
    }

    const concurrency = Math.ceil(agents / workers);
    const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers, concurrency, env: fleetTimings(timings) });

    const ramp: { atMs: number; sessions: number; heartbeats: number }[] = [];
    const submittedAt = Date.now();
    const submission = await submitAgents(fleet, connection, { dir: tempDir('bench-scale'), name: 'bench-scale', count: agents, argv: ['sleep', sleepS] });
    await waitForAgentsRunning(fleet, connection, submission.agents, rampTimeoutMs, ({ at, sessions, heartbeats }) => ramp.push({ atMs: at - submittedAt, sessions, heartbeats }));
    const rampMs = Date.now() - submittedAt;

    const redisBefore = await redisUsage(connection);
    const watch = await watchHeartbeats(fleet, connection, submission.agents, windowMs, Math.min(1_000, Math.floor(tickMs / 4)));
    const redisAfter = await redisUsage(connection);
    // Redis's own CPU (user + sys) over the window, as a share of one core, and its memory at the end.
    const redisCpuPercent = (100 * (redisAfter.cpuSeconds - redisBefore.cpuSeconds)) / watch.seconds;
    const store = storeFor(connection, fleet);
    const members = await Promise.all(submission.agents.map((a) => store.getMember(a.runId, a.member)));
    const notRunning = members.filter((m) => m?.status !== 'running').length;
    const retried = members.filter((m) => (m?.attempts ?? 0) > 1).length;

    const intervals = watch.beats.map((seen) => seen.slice(1).map((at, i) => at - seen[i]!));
    const maxPerAgent = intervals.map((gaps) => (gaps.length > 0 ? Math.max(...gaps) : Number.NaN));
    const allIntervals = intervals.flat();
    // An agent beats every beatMs (every other tick at the defaults: a beat each half lease); a missed beat shows
    // as a gap of two beat intervals or more.
    const beatMs = beatIntervalMs(ttlMs, tickMs);
    const missedBeats = allIntervals.filter((gap) => gap >= 2 * beatMs).length;
    const unseen = intervals.filter((gaps) => gaps.length === 0).length;
    const minHeartbeats = agents - Math.max(0, ...watch.missing);
    const minSessions = Math.min(...watch.sessions);

    const conditions = `${agents} agents on ${workers} worker process${workers > 1 ? 'es' : ''} × concurrency ${concurrency}, ${describeTimings(timings)}`;
    const machine = { workers: watch.workers, pollMs: Math.min(1_000, Math.floor(tickMs / 4)), windowS: watch.seconds, samples: watch.samples };
    return [
      {
        name: 'scale',
        title: `${agents} sleeping agents: submitted → all running (tmux session + heartbeat each)`,
        unit: 'ms',
        samples: [rampMs],
        baseline: { label: `raw BullMQ + execa, ${agents} \`sleep\` jobs → all active`, samples: [rawRampMs] },
        conditions,
        note: `${Math.ceil(agents / 8)} runs submitted at once`,
        extra: { ramp },
      },
      {
        name: 'scale',
        title: `${agents} agents: longest heartbeat interval per agent`,
        unit: 'ms',
        samples: maxPerAgent.filter(Number.isFinite),
        baseline: { label: `beat interval ${beatMs} ms (tick ${tickMs} ms); a missed beat ≥ ${2 * beatMs} ms` },
        conditions: `${conditions}; beatAt read every ${machine.pollMs} ms for ${Math.round(watch.seconds)} s`,
        note: unseen > 0 ? `${unseen} agents never beat twice in the window` : undefined,
        extra: { allIntervals: summarize(allIntervals), ...machine },
      },
      {
        name: 'scale',
        title: `${agents} agents: missed beats (heartbeat interval ≥ 2 beat intervals)`,
        unit: 'intervals',
        samples: [missedBeats],
        baseline: { label: `0 of ${allIntervals.length} intervals` },
        conditions,
      },
      {
        name: 'scale',
        title: `${agents} agents: Redis CPU over the window (share of one core)`,
        unit: '%',
        samples: [redisCpuPercent],
        baseline: { label: `Redis memory at the end: ${redisAfter.usedMiB.toFixed(1)} MiB used, ${redisAfter.rssMiB.toFixed(1)} MiB RSS` },
        conditions: `${conditions}; INFO cpu (used_cpu_user + used_cpu_sys) before and after the ${Math.round(watch.seconds)} s window, bench polling included`,
        extra: { redisBefore, redisAfter },
      },
      {
        name: 'scale',
        title: `${agents} agents: fewest alive at once during the window (heartbeat keys / tmux sessions)`,
        unit: 'agents',
        samples: [Math.min(minHeartbeats, minSessions)],
        baseline: { label: `${agents}` },
        conditions,
        note: `heartbeats ≥ ${minHeartbeats}, sessions ≥ ${minSessions}; after the window ${notRunning} members not running, ${retried} retried`,
        extra: { minHeartbeats, minSessions, notRunning, retried },
      },
    ];
  });
}
