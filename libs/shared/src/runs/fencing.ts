import type { Redis } from 'ioredis';
import { withScripts } from '../redis/scripts.js';

/**
 * Lua scripts that make writes from an attempt conditional on its epoch. Each attempt of a member takes
 * the next epoch (HINCRBY on the member record); a writer whose epoch is no longer the member's is stale
 * and its write is refused, atomically, so a worker that lost its job can never overwrite a newer one.
 */
const SCRIPTS = {
  /** KEYS: member. ARGV: HSET fields as JSON, HDEL fields as JSON. Returns the new epoch. */
  reinsBeginAttempt: {
    numberOfKeys: 1,
    lua: `
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
for k, v in pairs(cjson.decode(ARGV[1])) do redis.call('HSET', KEYS[1], k, v) end
for _, k in ipairs(cjson.decode(ARGV[2])) do redis.call('HDEL', KEYS[1], k) end
return epoch`,
  },
  /** KEYS: heartbeat. ARGV: epoch. Deletes the heartbeat only if it is this attempt's. */
  reinsClearHeartbeat: {
    numberOfKeys: 1,
    lua: `
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
  /** KEYS: member, target. ARGV: epoch, HSET fields as JSON, HDEL fields as JSON, channel, message. 1 if written, 0 if stale. */
  reinsFencedHash: {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
local set = cjson.decode(ARGV[2])
for k, v in pairs(set) do redis.call('HSET', KEYS[2], k, v) end
for _, k in ipairs(cjson.decode(ARGV[3])) do redis.call('HDEL', KEYS[2], k) end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1`,
  },
  /** KEYS: member, list. ARGV: epoch, item, max length. 1 if pushed, 0 if stale. */
  reinsFencedPush: {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
return 1`,
  },
  /**
   * A hook ping. KEYS: member, heartbeat. ARGV: epoch, now, ttl ms, in-tool flag ("1" before a tool, "0" after).
   * 1 refreshed; 0 no heartbeat to refresh (the worker has not written one yet); -1 superseded.
   */
  reinsHookPing: {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'lastHookAt', ARGV[2], 'inTool', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`,
  },
} as const;

export interface FencingCommands {
  reinsBeginAttempt(member: string, setJson: string, delJson: string): Promise<number>;
  reinsClearHeartbeat(heartbeat: string, epoch: string): Promise<number>;
  reinsFencedHash(member: string, target: string, epoch: string, setJson: string, delJson: string, channel: string, message: string): Promise<number>;
  reinsFencedPush(member: string, list: string, epoch: string, item: string, maxLength: string): Promise<number>;
  reinsHookPing(member: string, heartbeat: string, epoch: string, now: string, ttlMs: string, inTool: string): Promise<number>;
}

/** Registers the scripts on a connection (once) and returns it typed with them. */
export function withFencing(redis: Redis): Redis & FencingCommands {
  return withScripts<FencingCommands>(redis, SCRIPTS);
}
