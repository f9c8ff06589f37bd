import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sharedDir } from '../paths.js';
import type { RedisConnection } from './connection.js';

/**
 * Every atomic multi-key step of reins is a Lua script in libs/shared/lua, named `<name>-<number of keys>.lua`
 * as BullMQ names its commands, and registered on a connection as the command `reins<Name>` (ioredis then
 * runs it with EVALSHA). The folder sits beside src/ and dist/, in the package, where the CLI's bundle finds it too.
 */
export const LUA_DIR = path.join(sharedDir, 'lua');

export interface ScriptDefinition {
  /** The ioredis command name, e.g. reinsMemberEvent for member-event-2.lua. */
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** The commands the scripts add, with their arguments: keys first, then ARGV, all as strings. */
export interface ReinsScripts {
  reinsMemberEvent(
    member: string,
    attempts: string,
    epoch: string,
    fromJson: string,
    setJson: string,
    delJson: string,
    bumpEpoch: string,
    recordJson: string,
    maxRecords: string,
    channel: string,
    message: string,
  ): Promise<[number, number, string]>;
  reinsFencedHash(member: string, target: string, epoch: string, setJson: string, delJson: string): Promise<number>;
  reinsClearHeartbeat(heartbeat: string, epoch: string): Promise<number>;
  reinsHookPing(member: string, heartbeat: string, epoch: string, now: string, ttlMs: string, inTool: string): Promise<number>;
  reinsAcquireSlot(semaphore: string, jobId: string, max: string, now: string, leaseMs: string): Promise<number>;
  reinsBudgetReserve(run: string, day: string, jobId: string, amount: string, runCap: string, dayCap: string, dayTtlMs: string): Promise<(number | string)[]>;
  reinsBudgetSettle(run: string, day: string, jobId: string, cost: string): Promise<number>;
  reinsBudgetTokens(run: string, day: string, member: string, round: string, tokens: string, dayTtlMs: string): Promise<[number, number, number]>;
  reinsTaskClaim(tasks: string, id: string, member: string, now: string): Promise<string>;
  reinsTaskDone(tasks: string, id: string, member: string, now: string, note: string): Promise<string>;
  reinsWorkerTick(registration: string, pools: string, json: string, instance: string, ttlMs: string, predecessor: string): Promise<(number | string)[]>;
  reinsWorkerRelease(registration: string, instance: string): Promise<number>;
}

const FILE_NAME = /^([a-z][a-z0-9-]*)-(\d+)\.lua$/;

/** Reads a folder of scripts. A file that is not named `<name>-<keys>.lua`, or two files for one command, is an error. */
export function loadScripts(dir: string = LUA_DIR): ScriptDefinition[] {
  const scripts = new Map<string, ScriptDefinition>();
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new Error(`Lua script ${JSON.stringify(file)} in ${dir} is not named <name>-<number of keys>.lua`);
    const name = `reins${match[1]!.replace(/(^|-)([a-z0-9])/g, (_, _dash: string, c: string) => c.toUpperCase())}`;
    const existing = scripts.get(name);
    if (existing) throw new Error(`Lua scripts ${JSON.stringify(file)} and the one for ${existing.name} (${existing.numberOfKeys} keys) both define the command ${name}`);
    scripts.set(name, { name, numberOfKeys: Number(match[2]), lua: readFileSync(`${dir}/${file}`, 'utf8') });
  }
  return [...scripts.values()];
}

let cached: ScriptDefinition[] | undefined;
const registered = new WeakSet<RedisConnection>();

/**
 * Registers reins' scripts on a connection (once per connection) and returns it typed with them. A command
 * name the connection already has for something else is refused rather than silently skipped.
 */
export function withScripts(redis: RedisConnection): RedisConnection & ReinsScripts {
  if (!registered.has(redis)) {
    cached ??= loadScripts();
    const target = redis as unknown as Record<string, unknown>;
    for (const script of cached) {
      if (typeof target[script.name] === 'function') throw new Error(`cannot register Lua script ${script.name}: the connection already has a command of that name`);
      redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    }
    registered.add(redis);
  }
  return redis as RedisConnection & ReinsScripts;
}
