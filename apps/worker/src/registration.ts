import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot, WorkerRegistrationSchema, withScripts, type Keys, type RedisConnection, type WorkerRegistration } from '@reins/shared';

/** The version workers register with, from the project's package.json. */
const REINS_VERSION = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** What a worker says about itself every tick (`<prefix>:worker:<id>`, with the heartbeat TTL). */
export const workerRegistration = (worker: Omit<WorkerRegistration, 'version' | 'pid'>): WorkerRegistration => ({ ...worker, pid: process.pid, version: REINS_VERSION });

/**
 * What one claim of the worker id found:
 * - refreshed: the registration was this instance's, and is renewed
 * - taken:     the key was free (never held, or expired), or a crashed predecessor's: this instance holds it now
 * - held:      another instance holds the id; nothing was written
 * The first two carry the pool queues in use, read in the same round trip.
 */
export type IdClaim = { kind: 'refreshed'; pools: string[] } | { kind: 'taken'; pools: string[] } | { kind: 'held'; raw: string; holder: WorkerRegistration | undefined };

/** Reads lua/worker-tick-2.lua's reply. */
export function readClaimReply(reply: readonly (number | string)[]): IdClaim {
  const [outcome, ...rest] = reply;
  const pools = rest.map(String);
  if (outcome === 1) return { kind: 'refreshed', pools };
  if (outcome === 2) return { kind: 'taken', pools };
  const raw = String(rest[0] ?? '');
  let holder: WorkerRegistration | undefined;
  try {
    const parsed = WorkerRegistrationSchema.safeParse(JSON.parse(raw));
    holder = parsed.success ? parsed.data : undefined;
  } catch {
    holder = undefined;
  }
  return { kind: 'held', raw, holder };
}

/** USER_HZ, the unit of a process's start time in /proc/<pid>/stat: 100 on the Linux kernels reins runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** /proc/stat's boot time is in whole seconds, so a start time read from /proc may be up to a second early. */
const PID_START_SLACK_MS = 1_000;

/** What this host knows of a pid: whether a process has it (EPERM: yes, another user's), and when that one started. */
export function readProcess(pid: number): { alive: boolean; startedAt?: number } {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return { alive: false };
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks since boot); the command name in field 2 may hold spaces and ")".
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return { alive: true };
    return { alive: true, startedAt: bootSeconds * 1000 + (startTicks * 1000) / CLOCK_TICKS_PER_SECOND };
  } catch {
    return { alive: true };
  }
}

/**
 * Whether the registration holding this worker's id is a crashed predecessor's, which a restarted worker
 * may take over at once instead of waiting out its TTL (a worker restarted after kill -9 adopts its
 * sessions within the lease): it was written on this host by a pid that is gone, or that another process
 * has taken since (it started after that worker did), or by this very pid (a container restarted: its
 * worker is pid 1 again). Another host's registration, or one of that live process here, is a live
 * worker. Two containers with one host name and their own pid namespaces would fool this: give each
 * worker its own id.
 */
export function isCrashedPredecessor(holder: WorkerRegistration | undefined, self: { host: string; pid: number }, processOf: (pid: number) => { alive: boolean; startedAt?: number } = readProcess): boolean {
  if (!holder || holder.host !== self.host) return false;
  if (holder.pid === self.pid) return true;
  const holderProcess = processOf(holder.pid);
  if (!holderProcess.alive) return true;
  return holderProcess.startedAt !== undefined && holderProcess.startedAt > holder.startedAt + PID_START_SLACK_MS;
}

/** A worker id that another live worker holds: this process must not run under it (exit 2). */
export class WorkerIdTakenError extends Error {
  override readonly name = 'WorkerIdTakenError';

  constructor(
    readonly workerId: string,
    readonly holder: WorkerRegistration | undefined,
    heartbeatTtlMs: number,
  ) {
    const who = holder ? `the worker on host ${holder.host} (pid ${holder.pid}, up since ${new Date(holder.startedAt).toISOString()})` : 'a registration this worker cannot read';
    super(
      `worker id ${JSON.stringify(workerId)} is held by ${who}: two workers with one id would take each other's agents. ` +
        `Give this worker its own id (--id, REINS_WORKER_ID), or stop that one first; a dead worker's registration expires ${heartbeatTtlMs} ms after its last tick (REINS_HEARTBEAT_TTL_MS).`,
    );
  }
}

export const isWorkerIdTakenError = (error: unknown): error is WorkerIdTakenError => error instanceof WorkerIdTakenError;

/**
 * A worker's claim on its id in Redis: the registration is taken with SET NX and the TTL, refreshed each
 * tick only while it still holds this instance's token, and deleted on the way out only if it is ours.
 * One command per tick (lua/worker-tick-2.lua also reads the pool queues in use).
 */
export class WorkerIdClaim {
  private readonly redis;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
    private readonly workerId: string,
    readonly instance: string,
    private readonly heartbeatTtlMs: number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Writes the registration if the id is free or ours (or exactly `predecessor`, a crashed one's as read). */
  async claim(registration: WorkerRegistration, predecessor = ''): Promise<IdClaim> {
    const json = JSON.stringify({ ...registration, instance: this.instance });
    return readClaimReply(await this.redis.reinsWorkerTick(this.keys.worker(this.workerId), this.keys.pools, json, this.instance, String(this.heartbeatTtlMs), predecessor));
  }

  /** Deletes the registration if it is still this instance's; returns whether it was. */
  async release(): Promise<boolean> {
    return (await this.redis.reinsWorkerRelease(this.keys.worker(this.workerId), this.instance)) === 1;
  }
}
