import { statfs } from 'node:fs/promises';
import { formatBytes } from '@reins/shared';

/** Free space in a folder's file system, as an unprivileged process may use it. */
export interface DiskSpace {
  freeBytes: number;
  /** Free inodes, where the file system counts them (0 total means it does not: btrfs, some FUSE). */
  freeInodes: number | undefined;
}

export async function measureDisk(dir: string): Promise<DiskSpace> {
  const stats = await statfs(dir);
  return { freeBytes: stats.bavail * stats.bsize, freeInodes: stats.files > 0 ? stats.ffree : undefined };
}

/**
 * Why a worker with this much room in its data dir takes no jobs, or undefined when it may. Pure. Under
 * the floor, every job it took would fail while preparing its workspace or writing its attempt files
 * (measured: a full disk burned all of each job's attempts in seconds). A floor of 0 turns the check off.
 */
export function lowDiskReason(space: DiskSpace, minFreeBytes: number, dataDir: string): string | undefined {
  if (minFreeBytes <= 0) return undefined;
  if (space.freeBytes < minFreeBytes) return `the data dir ${dataDir} has ${formatBytes(space.freeBytes)} free, under REINS_MIN_FREE_BYTES (${formatBytes(minFreeBytes)})`;
  if (space.freeInodes === 0) return `the file system of the data dir ${dataDir} has no free inodes`;
  return undefined;
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** What git and other programs print when a write found no room; their errors carry it in the message. */
const DISK_FULL_TEXT = /No space left on device|Disk quota exceeded/;

/** Whether an error (or one of its causes) is a write that found no room: ENOSPC, or a quota. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && DISK_FULL_CODES.has(code)) return true;
    if (typeof message === 'string' && DISK_FULL_TEXT.test(message)) return true;
  }
  return false;
}

/**
 * How a worker's state moves with its disk: a running worker under the floor degrades (it takes no jobs),
 * a degraded one with room again runs; every other state (draining, closing) stays as it is. Pure.
 */
export function diskMove(state: string, lowReason: string | undefined): 'degrade' | 'recover' | 'stay' {
  if (lowReason !== undefined && state === 'running') return 'degrade';
  if (lowReason === undefined && state === 'degraded') return 'recover';
  return 'stay';
}

/** The worker's data dir, measured at most once per `minIntervalMs` (statfs is cheap; a 100 ms tick need not ask ten times a second). */
export class DiskWatch {
  private measuredAt = Number.NEGATIVE_INFINITY;
  private last: DiskSpace | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly minFreeBytes: number,
    private readonly minIntervalMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last measurement, and why it leaves the worker no room (undefined: it has room). `force` measures now. */
  async check(force = false): Promise<{ space: DiskSpace; lowReason: string | undefined }> {
    const now = this.now();
    if (force || !this.last || now - this.measuredAt >= this.minIntervalMs) {
      this.last = await measureDisk(this.dataDir);
      this.measuredAt = now;
    }
    return { space: this.last, lowReason: lowDiskReason(this.last, this.minFreeBytes, this.dataDir) };
  }
}
