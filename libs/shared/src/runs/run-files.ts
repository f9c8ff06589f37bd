import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';

/**
 * The folders a run carries in Redis, so hosts that share nothing else can work on it: its skills, packed
 * by `reins submit`, and the work of its scratch members, packed by the worker when each succeeds. Kept
 * beside the run, not in job data: Bull Board shows job data, and these are megabytes.
 */
export class RunFiles {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
  ) {}

  /** Stores every skill of a run in one command: all of them or, if it fails, none. */
  async putSkills(runId: string, skills: ReadonlyMap<string, Buffer>): Promise<void> {
    if (skills.size === 0) return;
    await this.redis.hset(this.keys.skills(runId), Object.fromEntries(skills));
  }

  /** A skill's gzipped tar, or undefined when the run has none of that name. */
  async skill(runId: string, name: string): Promise<Buffer | undefined> {
    return (await this.redis.hgetBuffer(this.keys.skills(runId), name)) ?? undefined;
  }

  /** Every skill stored for a run, by name. */
  async skills(runId: string): Promise<Map<string, Buffer>> {
    return new Map(Object.entries(await this.redis.hgetallBuffer(this.keys.skills(runId))));
  }

  async putArtifact(runId: string, member: string, archive: Buffer): Promise<void> {
    await this.redis.hset(this.keys.artifacts(runId), member, archive);
  }

  /** A scratch member's packed workspace, or undefined when it published none. */
  async artifact(runId: string, member: string): Promise<Buffer | undefined> {
    return (await this.redis.hgetBuffer(this.keys.artifacts(runId), member)) ?? undefined;
  }
}
