import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES, RunStore, agentJobId, createKeys, isFinalRunStatus, openQueue, type RedisConnection, type RunView } from '@reins/shared';
import type { Fleet } from './fleet.js';

/**
 * Short timings for chaos stories (through config, never by editing defaults): a 2 s heartbeat TTL and
 * 0.25 s ticks, as the figures in issue 3 are stated for.
 */
export const CHAOS_ENV: Record<string, string> = {
  REINS_HEARTBEAT_TTL_MS: '2000',
  REINS_MONITOR_INTERVAL_MS: '250',
  REINS_RECONCILE_INTERVAL_MS: '250',
  REINS_BACKOFF_BASE_MS: '200',
  REINS_BACKOFF_MAX_MS: '1000',
  REINS_CHECKPOINT_INTERVAL_MS: '200',
  REINS_DRAIN_TIMEOUT_MS: '500',
  REINS_IDLE_TIMEOUT_MS: '60000',
};

/** Polls a condition on real state (Redis, tmux, files) until it holds (not undefined, null or false); fails with the label. */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, label: string, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
}

export function storeOf(redis: RedisConnection, fleet: Fleet): RunStore {
  return new RunStore(redis, createKeys(fleet.prefix));
}

/** Waits for a run to end and returns its view. */
export async function waitForRunEnd(store: RunStore, runId: string, timeoutMs = 60_000): Promise<RunView> {
  return waitFor(
    async () => {
      const view = await store.view(runId).catch(() => undefined);
      return view && isFinalRunStatus(view.status) ? view : undefined;
    },
    `run ${runId} to end`,
    timeoutMs,
    100,
  );
}

/**
 * A member's agent job as BullMQ itself reports it (through its Queue API, never a hand-typed key, so a
 * renamed key fails here instead of reading as nothing). Throws when the job does not exist.
 */
export async function readAgentJob(redis: RedisConnection, fleet: Fleet, runId: string, member: string): Promise<{ state: string; attemptsMade: number; finishedOn: number | undefined; returnvalue: unknown }> {
  const queue = openQueue(QUEUES.agent, redis, createKeys(fleet.prefix), { readOnly: true });
  try {
    const job = await queue.getJob(agentJobId(runId, member));
    if (!job) throw new Error(`no agent job ${agentJobId(runId, member)} in the agent queue`);
    return { state: await job.getState(), attemptsMade: job.attemptsMade, finishedOn: job.finishedOn, returnvalue: job.returnvalue };
  } finally {
    await queue.close();
  }
}
