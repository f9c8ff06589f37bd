import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { withScripts } from '../redis/scripts.js';

/** A task on a run's shared list. open → claimed (by one member) → done. */
export interface Task {
  id: number;
  title: string;
  status: 'open' | 'claimed' | 'done';
  createdBy: string;
  createdAt: number;
  claimedBy?: string;
  claimedAt?: number;
  doneAt?: number;
  note?: string;
}

/**
 * Claims atomically, in Lua, so two agents on two hosts can never hold one task. KEYS: tasks hash.
 * ARGV: id ('' for the first open task, lowest id first), member, now. Returns the task JSON, or an
 * error string starting with "!".
 */
const CLAIM = `
local function claim(id, raw)
  local task = cjson.decode(raw)
  if task.status ~= 'open' then return nil end
  task.status = 'claimed'
  task.claimedBy = ARGV[2]
  task.claimedAt = tonumber(ARGV[3])
  local out = cjson.encode(task)
  redis.call('HSET', KEYS[1], id, out)
  return out
end
if ARGV[1] ~= '' then
  local raw = redis.call('HGET', KEYS[1], ARGV[1])
  if not raw then return '!no task ' .. ARGV[1] end
  local out = claim(ARGV[1], raw)
  if out then return out end
  local task = cjson.decode(raw)
  return '!task ' .. ARGV[1] .. ' is ' .. task.status .. (task.claimedBy and (' by ' .. task.claimedBy) or '')
end
local all = redis.call('HGETALL', KEYS[1])
local best = nil
for i = 1, #all, 2 do
  local task = cjson.decode(all[i + 1])
  if task.status == 'open' and (best == nil or tonumber(all[i]) < tonumber(best)) then best = all[i] end
end
if best == nil then return '!no open task' end
return claim(best, redis.call('HGET', KEYS[1], best))
`;

/** KEYS: tasks hash. ARGV: id, member, now, note. Only the member holding the task may finish it. */
const DONE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return '!no task ' .. ARGV[1] end
local task = cjson.decode(raw)
if task.status ~= 'claimed' or task.claimedBy ~= ARGV[2] then
  return '!task ' .. ARGV[1] .. ' is ' .. task.status .. (task.claimedBy and (' by ' .. task.claimedBy) or '') .. ', not claimed by ' .. ARGV[2]
end
task.status = 'done'
task.doneAt = tonumber(ARGV[3])
if ARGV[4] ~= '' then task.note = ARGV[4] end
local out = cjson.encode(task)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out
`;

/** A refused claim or finish: the message says which task and who holds it. */
export class TaskError extends Error {
  override readonly name = 'TaskError';
}

type TaskCommands = { reinsTaskClaim(key: string, id: string, member: string, now: string): Promise<string>; reinsTaskDone(key: string, id: string, member: string, now: string, note: string): Promise<string> };

/** The shared task list of one run, in Redis, so members on different hosts see one list. */
export class TaskList {
  private readonly redis: Redis & TaskCommands;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly runId: string,
  ) {
    this.redis = withScripts<TaskCommands>(redis, { reinsTaskClaim: { numberOfKeys: 1, lua: CLAIM }, reinsTaskDone: { numberOfKeys: 1, lua: DONE } });
  }

  async add(title: string, by: string): Promise<Task> {
    const id = await this.redis.incr(this.keys.taskSeq(this.runId));
    const task: Task = { id, title, status: 'open', createdBy: by, createdAt: Date.now() };
    await this.redis.hset(this.keys.tasks(this.runId), String(id), JSON.stringify(task));
    return task;
  }

  async list(): Promise<Task[]> {
    const all = await this.redis.hvals(this.keys.tasks(this.runId));
    return all.map((raw) => JSON.parse(raw) as Task).sort((a, b) => a.id - b.id);
  }

  /** Claims the given task, or the first open one. Throws TaskError when it cannot. */
  async claim(by: string, id?: number): Promise<Task> {
    return this.parse(await this.redis.reinsTaskClaim(this.keys.tasks(this.runId), id === undefined ? '' : String(id), by, String(Date.now())));
  }

  async done(id: number, by: string, note = ''): Promise<Task> {
    return this.parse(await this.redis.reinsTaskDone(this.keys.tasks(this.runId), String(id), by, String(Date.now()), note));
  }

  private parse(reply: string): Task {
    if (reply.startsWith('!')) throw new TaskError(reply.slice(1));
    return JSON.parse(reply) as Task;
  }
}
