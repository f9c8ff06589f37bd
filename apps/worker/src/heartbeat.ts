import { rename, writeFile } from 'node:fs/promises';
import { withScripts, type Keys, type ReinsScripts, type RedisConnection } from '@reins/shared';

/** What a heartbeat says about a live agent. */
export interface HeartbeatValue {
  workerId: string;
  host: string;
  attempt: number;
  epoch: number;
  /** The agent's pid (its process group). */
  pid: number | undefined;
  /** The last stream event the worker read (epoch ms). */
  lastEventAt: number;
}

/**
 * `<prefix>:hb:<job>` is a hash with a TTL: the worker refreshes it every tick while the agent lives,
 * and Claude Code's tool hooks refresh it between ticks (field lastHookAt). When it expires, the job is
 * presumed stalled.
 */
export class Heartbeats {
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
    readonly ttlMs: number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Refreshes one agent's heartbeat; returns what the hooks said: the last ping, and whether a tool is running. */
  async beat(jobId: string, value: HeartbeatValue): Promise<{ lastHookAt: number | undefined; inTool: boolean }> {
    const key = this.keys.heartbeat(jobId);
    const fields: Record<string, string> = {
      workerId: value.workerId,
      host: value.host,
      attempt: String(value.attempt),
      epoch: String(value.epoch),
      lastEventAt: String(value.lastEventAt),
      beatAt: String(Date.now()),
    };
    if (value.pid !== undefined) fields.pid = String(value.pid);
    const replies = await this.redis.multi().hset(key, fields).pexpire(key, this.ttlMs).hmget(key, 'lastHookAt', 'inTool').exec();
    const [lastHookAt, inTool] = (replies?.[2]?.[1] ?? []) as (string | null)[];
    return { lastHookAt: lastHookAt ? Number(lastHookAt) : undefined, inTool: inTool === '1' };
  }

  async read(jobId: string): Promise<Record<string, string> | undefined> {
    const h = await this.redis.hgetall(this.keys.heartbeat(jobId));
    return Object.keys(h).length > 0 ? h : undefined;
  }

  /** Removes the heartbeat if it is still this attempt's, so the next attempt need not wait for it to expire. */
  async clear(jobId: string, epoch: number): Promise<void> {
    await this.redis.reinsClearHeartbeat(this.keys.heartbeat(jobId), String(epoch));
  }
}

/**
 * Pushes the launcher's lease deadline forward (see tmux/launcher.ts). Written to a temporary file and
 * renamed, so the launcher never reads a half-written (empty) deadline and stops a healthy agent.
 */
export async function renewLease(leaseFile: string, deadline: number): Promise<void> {
  const tmp = `${leaseFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${deadline}\n`);
  await rename(tmp, leaseFile);
}
