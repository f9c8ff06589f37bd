import type { AgentQueues } from '../jobs/pools.js';
import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { isFinalMemberStatus } from './status.js';
import { encodeControlMessage } from '../protocol/control-message.js';
import type { MemberRecord } from './records.js';
import type { RunStore } from './store.js';

/**
 * Cancels the members of a cancelled run that no agent is running: their queued jobs are removed and
 * they are marked cancelled. Members whose job is active are left to their worker, which is told by
 * the control channel. Returns the names still running.
 */
export async function cancelIdleMembers(store: RunStore, queues: AgentQueues, runId: string, members: readonly MemberRecord[]): Promise<string[]> {
  const stillRunning: string[] = [];
  for (const member of members) {
    if (isFinalMemberStatus(member.status)) continue;
    const job = await queues.forMember(member).getJob(member.jobId);
    const state = job ? await job.getState() : 'missing';
    if (state === 'active') {
      stillRunning.push(member.name);
      continue;
    }
    if (job && state !== 'completed' && state !== 'failed') await job.remove().catch(() => undefined);
    await store.apply(runId, member.name, { type: 'cancelled', at: Date.now() });
  }
  return stillRunning;
}

/** Tells every worker to stop the agents of a run. */
export async function broadcastCancel(redis: RedisConnection, keys: Keys, runId: string): Promise<void> {
  await redis.publish(keys.controlChannel, encodeControlMessage({ type: 'cancel', runId }));
}
