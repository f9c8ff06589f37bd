import path from 'node:path';
import type { Redis } from 'ioredis';
import type { RedisConnection } from '@reins/shared';
import { QUEUES, RunStore, addJob, agentJobId, createKeys, isFinalRunStatus, loadHarnessFile, newRunId, openQueue, type MemberRecord } from '@reins/shared';
import { MAX_TEAM_SIZE } from '../../libs/shared/src/spec/harness.js';
import { startFleet, writeHarness, repoRoot, type Fleet, type FleetOptions } from '../../test/helpers/fleet.js';
import { waitFor } from '../../test/helpers/chaos.js';
import type { Scope } from './scope.js';

/** A fleet of real role processes (scheduler + workers) that the scope stops, with its tmux servers. */
export async function startBenchFleet(scope: Scope, options: FleetOptions): Promise<Fleet> {
  const fleet = await startFleet(options);
  scope.defer('stop the fleet', () => fleet.stop());
  return fleet;
}

export interface SubmittedAgent {
  runId: string;
  member: string;
  jobId: string;
}

export interface Submission {
  runIds: string[];
  agents: SubmittedAgent[];
}

/**
 * Submits `count` command agents as runs of up to eight independent members (a harness holds at most
 * eight), all at once. Each run goes in as `reins submit` sends it (the harness checked by
 * loadHarnessFile, then a run.submit job on the control queue), but from this process: timing a hundred
 * CLI start-ups on two cores would measure Node's start-up, not reins.
 */
export async function submitAgents(fleet: Fleet, connection: Redis, options: { dir: string; name: string; count: number; argv: readonly string[]; attempts?: number }): Promise<Submission> {
  const sizes: number[] = [];
  for (let left = options.count; left > 0; left -= MAX_TEAM_SIZE) sizes.push(Math.min(MAX_TEAM_SIZE, left));
  const harnessOf = new Map<number, Awaited<ReturnType<typeof loadHarnessFile>>>();
  for (const size of new Set(sizes)) {
    const file = await writeHarness(
      options.dir,
      {
        name: options.name,
        agent: { kind: 'command', argv: options.argv },
        retry: { attempts: options.attempts ?? 1 },
        team: Array.from({ length: size }, (_, i) => ({ name: `a${i + 1}`, prompt: 'bench' })),
      },
      `${options.name}-${size}.yaml`,
    );
    harnessOf.set(size, await loadHarnessFile(file, { skillsDirs: [path.join(repoRoot, 'skills')] }));
  }
  const control = openQueue(QUEUES.control, connection, createKeys(fleet.prefix));
  try {
    const runs = sizes.map((size) => ({ runId: newRunId(), harness: harnessOf.get(size)! }));
    await Promise.all(
      runs.map(({ runId, harness }) =>
        addJob(
          control,
          'run.submit',
          { runId, source: harness.source, spec: harness.spec, skills: Object.fromEntries(Object.values(harness.skills).map((s) => [s.name, s.description])), submittedAt: Date.now() },
          { jobId: runId },
        ),
      ),
    );
    return {
      runIds: runs.map((r) => r.runId),
      agents: runs.flatMap(({ runId, harness }) => (harness.spec.team ?? []).map((m) => ({ runId, member: m.name, jobId: agentJobId(runId, m.name) }))),
    };
  } finally {
    await control.close().catch(() => undefined);
  }
}

export function storeFor(connection: Redis, fleet: Fleet): RunStore {
  return new RunStore(connection, createKeys(fleet.prefix));
}

/** Waits for every run to end and returns their members; throws, naming the member, if any did not succeed. */
export async function waitForSucceeded(store: RunStore, runIds: readonly string[], timeoutMs: number): Promise<MemberRecord[]> {
  const runs = await waitFor(
    async () => {
      const all = await Promise.all(runIds.map((id) => store.getRun(id)));
      return all.every((run) => run && isFinalRunStatus(run.status)) ? all.map((run) => run!) : undefined;
    },
    `${runIds.length} runs to end`,
    timeoutMs,
    100,
  );
  const members = (await Promise.all(runs.map((run) => store.getMembers(run)))).flat();
  const failed = members.find((m) => m.status !== 'succeeded');
  if (failed) throw new Error(`member ${failed.runId}/${failed.name} ended ${failed.status}: ${failed.error ?? 'no error recorded'}`);
  return members;
}

/** How many of the agents have a live heartbeat key (their worker beat within the TTL). */
export async function countHeartbeats(connection: Redis, fleet: Fleet, agents: readonly SubmittedAgent[]): Promise<number> {
  const keys = createKeys(fleet.prefix);
  const pipeline = connection.pipeline();
  for (const agent of agents) pipeline.exists(keys.heartbeat(agent.jobId));
  const replies = (await pipeline.exec()) ?? [];
  return replies.filter(([error, value]) => !error && value === 1).length;
}

/**
 * When each heartbeat was last refreshed (undefined: no live heartbeat). A tick only pushes the key's TTL
 * back to its full length (field ttlMs), so the beat is the read time minus the TTL already used.
 */
export async function lastBeats(connection: RedisConnection, prefix: string, jobIds: readonly string[]): Promise<(number | undefined)[]> {
  const keys = createKeys(prefix);
  const pipeline = connection.pipeline();
  for (const jobId of jobIds) pipeline.hget(keys.heartbeat(jobId), 'ttlMs').pttl(keys.heartbeat(jobId));
  const replies = (await pipeline.exec()) ?? [];
  const now = Date.now();
  return jobIds.map((_, i) => {
    const [ttlMs, left] = [Number(replies[2 * i]?.[1]), Number(replies[2 * i + 1]?.[1])];
    return Number.isFinite(ttlMs) && left > 0 ? now - (ttlMs - left) : undefined;
  });
}

/**
 * Waits until every agent runs: a tmux session each and a heartbeat each. Calls onSample with each
 * count it reads (for a ramp curve). On timeout, says which members are not running and why.
 */
export async function waitForAgentsRunning(
  fleet: Fleet,
  connection: Redis,
  agents: readonly SubmittedAgent[],
  timeoutMs: number,
  onSample: (sample: { at: number; sessions: number; heartbeats: number }) => void = () => undefined,
): Promise<void> {
  try {
    await waitFor(
      async () => {
        const heartbeats = await countHeartbeats(connection, fleet, agents);
        const sessions = (await fleet.tmuxSessions()).length;
        onSample({ at: Date.now(), sessions, heartbeats });
        return sessions >= agents.length && heartbeats >= agents.length;
      },
      `${agents.length} agents running`,
      timeoutMs,
      250,
    );
  } catch (error) {
    const store = storeFor(connection, fleet);
    const members = await Promise.all(agents.map((a) => store.getMember(a.runId, a.member).catch(() => undefined)));
    const byStatus = new Map<string, number>();
    for (const m of members) byStatus.set(m?.status ?? 'missing', (byStatus.get(m?.status ?? 'missing') ?? 0) + 1);
    const failed = members.find((m) => m?.error);
    (error as Error).message += ` (members: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')}${failed ? `; e.g. ${failed.runId}/${failed.name}: ${failed.error}` : ''})`;
    throw error;
  }
}

/** The errors BullMQ kept for an agent job's failed attempts (also those that failed before an agent started). */
export async function agentJobErrors(fleet: Fleet, connection: Redis, jobId: string): Promise<string[]> {
  const agentQueue = openQueue(QUEUES.agent, connection, createKeys(fleet.prefix), { readOnly: true });
  try {
    const job = await agentQueue.getJob(jobId);
    return (job?.stacktrace ?? []).map(
      (trace) =>
        trace
          .split('\n')
          .filter((line) => line.trim() && !/^\s+at /.test(line))
          .at(-1)
          ?.trim() ?? trace,
    );
  } finally {
    await agentQueue.close().catch(() => undefined);
  }
}
