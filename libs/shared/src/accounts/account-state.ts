import { z } from 'zod';
import type { RateLimitInfo } from '../agent/stream-json.js';
import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { withScripts, type ReinsScripts } from '../redis/scripts.js';

/** One usage window of an account (five_hour, seven_day, …), as Claude Code last reported it. */
const WindowSchema = z.object({
  status: z.string(),
  utilization: z.number().optional(),
  /** Epoch ms. */
  resetsAt: z.number().optional(),
  /** When it was reported (epoch ms). */
  at: z.number(),
});
export type AccountWindow = z.infer<typeof WindowSchema>;

const BrokenSchema = z.object({ message: z.string(), at: z.number(), fingerprint: z.string() });

/** What the fleet knows of one account: its windows, a pause until a reset, or that its credentials failed. */
export interface AccountState {
  name: string;
  windows: Record<string, AccountWindow>;
  /** Agents wait until then (epoch ms): a window was rejected (a usage limit) or the API said 429. */
  pausedUntil?: number;
  pausedWhy?: string;
  /** Its credentials were refused (auth): no agent starts under it until a worker brings other ones. */
  broken?: z.infer<typeof BrokenSchema>;
}

export interface AccountUsage {
  tokens: number;
  costUsd: number;
  attempts: number;
}

/** The UTC day usage counts against. */
export const usageDay = (now = Date.now()): string => new Date(now).toISOString().slice(0, 10);

const TWO_DAYS_MS = 2 * 24 * 3600 * 1000;
const json = (value: string | undefined): unknown => {
  try {
    return value === undefined ? undefined : JSON.parse(value);
  } catch {
    return undefined;
  }
};

/** A Redis hash of an account as its state. */
export function parseAccount(name: string, hash: Record<string, string>): AccountState {
  const windows: Record<string, AccountWindow> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith('w:')) continue;
    const parsed = WindowSchema.safeParse(json(value));
    if (parsed.success) windows[field.slice(2)] = parsed.data;
  }
  const broken = BrokenSchema.safeParse(json(hash.broken));
  const pausedUntil = Number(hash.pausedUntil);
  return {
    name,
    windows,
    ...(Number.isFinite(pausedUntil) && pausedUntil > 0 ? { pausedUntil, ...(hash.pausedWhy ? { pausedWhy: hash.pausedWhy } : {}) } : {}),
    ...(broken.success ? { broken: broken.data } : {}),
  };
}

/** The windows a rate_limit_event reports: each of its unified windows, or the one it names. Times in ms. */
export function windowsOf(info: RateLimitInfo, at: number): Record<string, AccountWindow> {
  const windows: Record<string, AccountWindow> = {};
  const toMs = (s: number | undefined) => (s === undefined ? undefined : s < 1e11 ? s * 1000 : s);
  for (const [type, w] of Object.entries(info.unifiedWindows ?? {})) {
    if (typeof w?.status !== 'string') continue;
    const resetsAt = toMs(w.resetsAt);
    windows[type] = { status: w.status, ...(w.utilization !== undefined ? { utilization: w.utilization } : {}), ...(resetsAt !== undefined ? { resetsAt } : {}), at };
  }
  const type = info.rateLimitType ?? 'unified';
  const resetsAt = toMs(info.resetsAt);
  windows[type] = { status: info.status, ...(info.utilization !== undefined ? { utilization: info.utilization } : {}), ...(resetsAt !== undefined ? { resetsAt } : {}), at };
  return windows;
}

/**
 * Claude accounts, fleet-wide. Redis holds only names and state, never a secret: each account's windows
 * (from Claude Code's rate_limit_event lines), a pause until a rejected window resets, a broken mark after
 * an auth failure, the agents running under it (a semaphore of leases, as concurrency keys have), and its
 * usage per UTC day.
 */
export class Accounts {
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
    private readonly leaseMs: number,
  ) {
    this.redis = withScripts(redis);
  }

  /**
   * A worker's accounts, at its start: their names join the fleet's list, and a broken mark made with other
   * credentials than this worker's (its fingerprint differs) is taken back: someone fixed them.
   */
  async announce(held: readonly { name: string; fingerprint: string }[]): Promise<void> {
    if (held.length === 0) return;
    await this.redis.sadd(this.keys.accounts, ...held.map((a) => a.name));
    for (const { name, fingerprint } of held) {
      const broken = BrokenSchema.safeParse(json((await this.redis.hget(this.keys.account(name), 'broken')) ?? undefined));
      if (broken.success && broken.data.fingerprint !== fingerprint) await this.redis.hdel(this.keys.account(name), 'broken');
    }
  }

  /** Every account any worker has announced. */
  async names(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.accounts)).sort();
  }

  async states(names: readonly string[]): Promise<AccountState[]> {
    const hashes = await Promise.all(names.map((name) => this.redis.hgetall(this.keys.account(name))));
    return names.map((name, i) => parseAccount(name, hashes[i] ?? {}));
  }

  /** Records the windows a rate_limit_event reported; a rejected one pauses the account until it resets. */
  async observe(name: string, info: RateLimitInfo, now = Date.now()): Promise<void> {
    const windows = windowsOf(info, now);
    const fields = Object.entries(windows).flatMap(([type, w]) => [`w:${type}`, JSON.stringify(w)]);
    await this.redis.hset(this.keys.account(name), ...fields);
    for (const [type, w] of Object.entries(windows)) {
      if (w.status === 'rejected' && w.resetsAt !== undefined) await this.pause(name, w.resetsAt, `the ${type} window was rejected`, now);
    }
  }

  /** Holds back every agent under the account until `until` (epoch ms); a later pause wins over an earlier one. */
  async pause(name: string, until: number, why: string, now = Date.now()): Promise<void> {
    const key = this.keys.account(name);
    const current = Number((await this.redis.hget(key, 'pausedUntil')) ?? 0);
    if (until > current && until > now) await this.redis.hset(key, 'pausedUntil', String(until), 'pausedWhy', why);
  }

  /** Its credentials were refused: no agent starts under it until a worker with other credentials announces it. */
  async markBroken(name: string, message: string, fingerprint: string, now = Date.now()): Promise<void> {
    await this.redis.hset(this.keys.account(name), 'broken', JSON.stringify({ message: message.slice(0, 500), at: now, fingerprint }));
  }

  /** Takes or renews a place under the account (lua/acquire-slot-1.lua); false when its `max` agents run. */
  async acquire(name: string, jobId: string, max: number | undefined, now = Date.now()): Promise<boolean> {
    return (await this.redis.reinsAcquireSlot(this.keys.accountAgents(name), jobId, String(max ?? Number.MAX_SAFE_INTEGER), String(now), String(this.leaseMs))) === 1;
  }

  async release(name: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.keys.accountAgents(name), jobId);
  }

  /** Agents running under each account now. */
  async running(names: readonly string[], now = Date.now()): Promise<number[]> {
    return Promise.all(names.map((name) => this.redis.zcount(this.keys.accountAgents(name), now, '+inf')));
  }

  /** Adds an attempt's tokens and cost to the account's day. */
  async addUsage(name: string, usage: { tokens: number; costUsd: number }, now = Date.now()): Promise<void> {
    const key = this.keys.accountUsage(name, usageDay(now));
    await this.redis.multi().hincrby(key, 'tokens', Math.round(usage.tokens)).hincrbyfloat(key, 'costUsd', usage.costUsd).hincrby(key, 'attempts', 1).pexpire(key, TWO_DAYS_MS).exec();
  }

  async usage(name: string, now = Date.now()): Promise<AccountUsage> {
    const hash = await this.redis.hgetall(this.keys.accountUsage(name, usageDay(now)));
    return { tokens: Number(hash.tokens ?? 0), costUsd: Number(hash.costUsd ?? 0), attempts: Number(hash.attempts ?? 0) };
  }
}

/** One account as `reins accounts`, `reins doctor`, the board and /metrics show it. */
export interface AccountOverview extends AccountState {
  /** Agents running under it now, fleet-wide. */
  agents: number;
  /** Today's (UTC) tokens, cost and attempts under it. */
  today: AccountUsage;
  /** The live workers that hold credentials for it. */
  workers: string[];
}

/** Every account the fleet knows (announced, or held by a live worker), with what it is doing now. */
export async function accountOverview(accounts: Accounts, liveWorkers: readonly { workerId: string; accounts?: string[] | undefined }[], now = Date.now()): Promise<AccountOverview[]> {
  const names = [...new Set([...(await accounts.names()), ...liveWorkers.flatMap((w) => w.accounts ?? [])])].sort();
  const [states, agents, usage] = await Promise.all([accounts.states(names), accounts.running(names, now), Promise.all(names.map((n) => accounts.usage(n, now)))]);
  return states.map((state, i) => ({
    ...state,
    agents: agents[i]!,
    today: usage[i]!,
    workers: liveWorkers.filter((w) => w.accounts?.includes(state.name)).map((w) => w.workerId),
  }));
}
