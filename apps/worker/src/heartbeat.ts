import { open, rename, rm, writeFile } from 'node:fs/promises';
import { withScripts, type Keys, type ReinsScripts, type RedisConnection } from '@reins/shared';
import { isDiskFull } from './disk-space.js';

/** What a heartbeat says about a live agent. */
export interface HeartbeatValue {
  workerId: string;
  host: string;
  attempt: number;
  epoch: number;
  /** The agent's pid (its process group), once the launcher wrote it. */
  pid: number | undefined;
}

/**
 * `<prefix>:hb:<job>` is a hash with a TTL: the worker refreshes it every tick while the agent lives, and
 * Claude Code's tool hooks refresh it between ticks (fields lastHookAt, inTool). When it expires, the job is
 * presumed stalled. A tick is one PEXPIRE: the fields are written only when they change (a new attempt, the
 * pid once known) or when the key was gone; readers tell the last beat from the TTL left (field ttlMs).
 */
export class Heartbeats {
  private readonly redis: RedisConnection & ReinsScripts;
  /** The fields last written, by job: a tick that would write the same ones only pushes the TTL. */
  private readonly written = new Map<string, string>();

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
    readonly ttlMs: number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Refreshes one agent's heartbeat. */
  async beat(jobId: string, value: HeartbeatValue): Promise<void> {
    const key = this.keys.heartbeat(jobId);
    const fields: Record<string, string> = { workerId: value.workerId, host: value.host, attempt: String(value.attempt), epoch: String(value.epoch), ttlMs: String(this.ttlMs) };
    if (value.pid !== undefined) fields.pid = String(value.pid);
    const signature = JSON.stringify(fields);
    if (this.written.get(jobId) === signature && (await this.redis.pexpire(key, this.ttlMs)) === 1) return;
    await this.redis.multi().hset(key, fields).pexpire(key, this.ttlMs).exec();
    this.written.set(jobId, signature);
  }

  async read(jobId: string): Promise<Record<string, string> | undefined> {
    const h = await this.redis.hgetall(this.keys.heartbeat(jobId));
    return Object.keys(h).length > 0 ? h : undefined;
  }

  /** Removes the heartbeat if it is still this attempt's, so the next attempt need not wait for it to expire. */
  async clear(jobId: string, epoch: number): Promise<void> {
    this.written.delete(jobId);
    await this.redis.reinsClearHeartbeat(this.keys.heartbeat(jobId), String(epoch));
  }
}

/**
 * Pushes the launcher's lease deadline forward (see tmux/launcher.ts). Written to a temporary file and
 * renamed, so the launcher never reads a half-written (empty) deadline and stops a healthy agent. On a
 * full disk the temporary file gets no room, and an agent whose lease is not renewed is stopped (it would
 * use an attempt): the deadline is then written over the old one in place, in the block the file already
 * has, without truncating it (the text is as long: 13 digits until the year 2286; the launcher reads an
 * unreadable deadline again, never as expired).
 */
export async function renewLease(leaseFile: string, deadline: number): Promise<void> {
  const tmp = `${leaseFile}.${process.pid}.tmp`;
  const text = `${deadline}\n`;
  try {
    await writeFile(tmp, text);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (!isDiskFull(error) || !(await overwriteInPlace(leaseFile, text))) throw error;
    return;
  }
  await rename(tmp, leaseFile);
}

/** Writes `text` over a file of the same length, from its start, without truncating it; false when it cannot. */
async function overwriteInPlace(file: string, text: string): Promise<boolean> {
  try {
    const handle = await open(file, 'r+');
    try {
      if ((await handle.stat()).size !== Buffer.byteLength(text)) return false;
      await handle.write(text, 0);
      return true;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}
