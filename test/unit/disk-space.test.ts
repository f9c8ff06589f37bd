import { describe, expect, it } from 'vitest';
import { DiskWatch, isDiskFull, lowDiskReason } from '../../apps/worker/src/disk-space.js';

const MiB = 1024 * 1024;

describe('disk space', () => {
  it('is low under the floor, or with no inode left; a floor of 0 turns the check off', () => {
    expect(lowDiskReason({ freeBytes: 3 * MiB, freeInodes: 10 }, 2 * MiB, '/data')).toBeUndefined();
    expect(lowDiskReason({ freeBytes: MiB, freeInodes: 10 }, 2 * MiB, '/data')).toBe('the data dir /data has 1 MiB free, under REINS_MIN_FREE_BYTES (2 MiB)');
    expect(lowDiskReason({ freeBytes: 3 * MiB, freeInodes: 0 }, 2 * MiB, '/data')).toBe('the file system of the data dir /data has no free inodes');
    expect(lowDiskReason({ freeBytes: 3 * MiB, freeInodes: undefined }, 2 * MiB, '/data')).toBeUndefined();
    expect(lowDiskReason({ freeBytes: 0, freeInodes: 0 }, 0, '/data')).toBeUndefined();
  });

  it('knows a write that found no room by its code, a cause, or what git printed', () => {
    expect(isDiskFull(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFull(new Error('prepare failed', { cause: Object.assign(new Error('quota'), { code: 'EDQUOT' }) }))).toBe(true);
    expect(isDiskFull(new Error('Command failed with exit code 128: git worktree add\nfatal: write error: No space left on device'))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))).toBe(false);
    expect(isDiskFull(undefined)).toBe(false);
  });

  it('measures the real data dir at most once per interval, unless forced', async () => {
    let now = 0;
    const watch = new DiskWatch(process.cwd(), 1, 1_000, () => now);
    const first = await watch.check();
    expect(first.space.freeBytes).toBeGreaterThan(0);
    expect(first.lowReason).toBeUndefined();
    now = 500;
    expect((await watch.check()).space).toBe(first.space);
    expect((await watch.check(true)).space).not.toBe(first.space);
  });
});
