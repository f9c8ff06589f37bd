import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { withScripts, type ReinsScripts } from '../redis/scripts.js';

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

/** A refused claim or finish: the message says which task and who holds it. */
export class TaskError extends Error {
  override readonly name = 'TaskError';
}

/** The shared task list of one run, in Redis, so members on different hosts see one list. */
export class TaskList {
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
    private readonly runId: string,
  ) {
    this.redis = withScripts(redis);
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
