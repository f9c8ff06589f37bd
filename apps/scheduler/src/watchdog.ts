import { encodeControlMessage, type Keys, type Logger, type MemberRecord, type RedisConnection } from '@reins/shared';

/** Running members old enough that a missing heartbeat means something: started over a TTL ago. */
export function heartbeatSuspects(members: readonly MemberRecord[], now: number, heartbeatTtlMs: number): MemberRecord[] {
  return members.filter((m) => m.status === 'running' && m.startedAt !== undefined && now - m.startedAt > heartbeatTtlMs);
}

/**
 * Remembers when a kill was last asked for per job, so a missing heartbeat is acted on once per TTL and
 * not on every pass while the worker is still stopping the agent. Entries older than a TTL are dropped.
 */
export class KillMemory {
  private readonly requestedAt = new Map<string, number>();

  constructor(private readonly heartbeatTtlMs: number) {}

  /** True, and remembered, when no kill of this job was asked for within the last TTL. */
  claim(jobId: string, now: number): boolean {
    for (const [id, at] of this.requestedAt) if (now - at >= this.heartbeatTtlMs) this.requestedAt.delete(id);
    if (this.requestedAt.has(jobId)) return false;
    this.requestedAt.set(jobId, now);
    return true;
  }
}

/**
 * The scheduler's watch over heartbeats. A running member whose heartbeat key is gone is presumed
 * stalled: its worker is asked, over the control channel, to kill the session, and the attempt ends as
 * "stalled" and is retried. If that worker is dead too, its lock expires and BullMQ hands the job to
 * another worker, which records the stall.
 */
export class Watchdog {
  private readonly kills: KillMemory;

  constructor(private readonly deps: { redis: RedisConnection; keys: Keys; heartbeatTtlMs: number; logger: Logger }) {
    this.kills = new KillMemory(deps.heartbeatTtlMs);
  }

  /** Names of the suspects whose heartbeat key still exists (one pipelined round trip). */
  async liveHeartbeats(members: readonly MemberRecord[], now: number): Promise<Set<string>> {
    const suspects = heartbeatSuspects(members, now, this.deps.heartbeatTtlMs);
    const live = new Set<string>();
    if (suspects.length === 0) return live;
    const pipeline = this.deps.redis.pipeline();
    for (const m of suspects) pipeline.exists(this.deps.keys.heartbeat(m.jobId));
    const replies = (await pipeline.exec()) ?? [];
    suspects.forEach((m, i) => {
      if (replies[i]?.[1] === 1) live.add(m.name);
    });
    return live;
  }

  /** Asks the member's worker to kill its agent, unless that was asked within the last TTL. */
  async requestKill(kill: { runId: string; member: string; jobId: string; workerId?: string }, now: number): Promise<boolean> {
    if (!this.kills.claim(kill.jobId, now)) return false;
    this.deps.logger.warn({ runId: kill.runId, member: kill.member, workerId: kill.workerId }, 'heartbeat missing: presuming the agent stalled and asking its worker to kill it');
    await this.deps.redis.publish(this.deps.keys.controlChannel, encodeControlMessage({ type: 'kill', jobId: kill.jobId, reason: 'heartbeat missing' }));
    return true;
  }
}
