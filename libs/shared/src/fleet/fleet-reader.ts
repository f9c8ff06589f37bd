import { keyspaceNodes, type RedisConnection } from '../redis/connection.js';
import { z } from 'zod';
import type { Keys } from '../redis/keys.js';
import { RUN_HEAD_FIELDS, decodeRunHead, type AgentEvent, type RunHead } from '../runs/records.js';
import { WorkerRegistrationSchema, type WorkerRegistration } from '../protocol/worker-registration.js';

/** A live agent's heartbeat. It exists only while its worker (or its tool hooks) keeps refreshing it. */
export interface HeartbeatInfo {
  workerId: string | undefined;
  host: string | undefined;
  /** Last refresh (epoch ms), from the TTL left: a tick only pushes the TTL back to its full length. */
  beatAt: number | undefined;
  /** Last ping from a Claude Code tool hook (epoch ms). */
  lastHookAt: number | undefined;
  /** A tool call is running, as the hooks report it. */
  inTool: boolean;
}

const HeartbeatHashSchema = z.object({
  workerId: z.string().optional(),
  host: z.string().optional(),
  ttlMs: z.coerce.number().finite().optional(),
  lastHookAt: z.coerce.number().finite().optional(),
  inTool: z.string().optional(),
});

export type { RunHead } from '../runs/records.js';

/** SCAN batch size: large enough for few round trips, small enough not to stall Redis on a big keyspace. */
const SCAN_COUNT = 500;

/**
 * Read-only queries over the fleet's live state that RunStore does not serve: heartbeats, worker
 * registrations, checkpoint times and the tail of an agent's events. It never writes, so a viewer
 * (the board, a status command) cannot disturb what it watches.
 */
export class FleetReader {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
  ) {}

  /**
   * The heads of the given runs, in the same order; runs that no longer exist are left out. Reads a few
   * fields per run instead of the whole record, whose harness can hold 800 KB of prompts.
   */
  async runHeads(runIds: readonly string[]): Promise<RunHead[]> {
    if (runIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const runId of runIds) pipeline.hmget(this.keys.run(runId), ...RUN_HEAD_FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    const heads: RunHead[] = [];
    for (const [error, reply] of replies) {
      if (error) throw error;
      // A damaged record still shows up (without members, say); only a run that is gone is left out.
      const head = decodeRunHead(reply as (string | null)[]);
      if (head) heads.push(head);
    }
    return heads;
  }

  /** Heartbeats of the given agent jobs, by job id; a job without a live heartbeat is absent. */
  async heartbeats(jobIds: readonly string[]): Promise<Map<string, HeartbeatInfo>> {
    const found = new Map<string, HeartbeatInfo>();
    if (jobIds.length === 0) return found;
    const pipeline = this.redis.pipeline();
    for (const jobId of jobIds) pipeline.hgetall(this.keys.heartbeat(jobId)).pttl(this.keys.heartbeat(jobId));
    const replies = (await pipeline.exec()) ?? [];
    const now = Date.now();
    jobIds.forEach((jobId, i) => {
      const [[error, hash], [ttlError, pttl]] = [replies[2 * i] ?? [null, {}], replies[2 * i + 1] ?? [null, -2]];
      if (error) throw error;
      if (ttlError) throw ttlError;
      const parsed = HeartbeatHashSchema.safeParse(hash);
      if (!parsed.success || Object.keys(hash as object).length === 0) return;
      const h = parsed.data;
      const left = Number(pttl);
      const beatAt = h.ttlMs !== undefined && left > 0 ? now - Math.max(0, h.ttlMs - left) : undefined;
      found.set(jobId, { workerId: h.workerId, host: h.host, beatAt, lastHookAt: h.lastHookAt, inTool: h.inTool === '1' });
    });
    return found;
  }

  /**
   * Every registered worker, sorted by id. Registrations are found with SCAN (workers keep no index);
   * worker ids allow no glob characters, and Redis globs treat the `{…}` hash tag literally. A
   * registration that does not parse is skipped rather than failing the whole view.
   */
  async liveWorkers(): Promise<WorkerRegistration[]> {
    const pattern = this.keys.worker('*');
    const keys = new Set<string>();
    // Every key sits in the prefix's one slot, but a Cluster may be moving that slot: ask every master.
    for (const node of keyspaceNodes(this.redis)) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        for (const key of batch) keys.add(key);
        cursor = next;
      } while (cursor !== '0');
    }
    if (keys.size === 0) return [];
    const values = await this.redis.mget(...keys);
    const workers: WorkerRegistration[] = [];
    for (const value of values) {
      if (value === null) continue; // expired between SCAN and MGET
      let json: unknown;
      try {
        json = JSON.parse(value);
      } catch {
        continue;
      }
      const parsed = WorkerRegistrationSchema.safeParse(json);
      if (parsed.success) workers.push(parsed.data);
    }
    return workers.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  /**
   * When each member was last checkpointed (epoch ms), by member name. Reads one field, not the cursor:
   * a cursor can carry megabytes of transcript.
   */
  async checkpointTimes(runId: string, members: readonly string[]): Promise<Map<string, number>> {
    const times = new Map<string, number>();
    if (members.length === 0) return times;
    const pipeline = this.redis.pipeline();
    for (const member of members) pipeline.hget(this.keys.cursor(runId, member), 'at');
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, at], i) => {
      if (error) throw error;
      const value = Number(at);
      if (at !== null && Number.isFinite(value)) times.set(members[i]!, value);
    });
    return times;
  }

  /** The newest `count` readable events of a member, oldest first. */
  async latestEvents(runId: string, member: string, count: number): Promise<AgentEvent[]> {
    const entries = await this.redis.xrevrange(this.keys.events(runId, member), '+', '-', 'COUNT', count);
    return entries.reverse().map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { id, at: Number(f.at), kind: f.kind ?? 'text', text: f.text ?? '' };
    });
  }
}
