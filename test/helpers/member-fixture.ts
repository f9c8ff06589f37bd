import type { Redis } from 'ioredis';
import type { Keys, RunStore } from '@reins/shared';

/**
 * Fixtures for tests that need a member in a given state without running an agent. Product code changes a
 * member's status only through the state machine (RunStore.apply); these helpers go through it too, except
 * `writeMemberFields`, which writes a hash as it stands, for states no sequence of events reaches cheaply.
 */
export async function startAttempt(store: RunStore, runId: string, member: string, fields: { workerId?: string; startedAt?: number } = {}): Promise<number> {
  const current = await store.getMember(runId, member);
  if (current?.status === 'pending') await store.apply(runId, member, { type: 'released', queue: 'agent' });
  const started = await store.apply(runId, member, {
    type: 'attempt_started',
    attempt: (current?.attempts ?? 0) + 1,
    at: fields.startedAt ?? Date.now(),
    workerId: fields.workerId ?? 'test-worker',
    host: 'test-host',
    tmuxSocket: '/nonexistent/tmux.sock',
    workspace: '/nonexistent/workspace',
  });
  if (!started.applied) throw new Error(started.reason);
  return started.epoch;
}

/** Writes member fields as they are (a fixture only: it bypasses the state machine on purpose). */
export async function writeMemberFields(redis: Redis, keys: Keys, runId: string, member: string, fields: Record<string, string | number>): Promise<void> {
  await redis.hset(keys.member(runId, member), Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)])));
}
