import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './test-root.js';

/** A small file system of the test's own: a disk that can be filled to the last byte without touching the machine's. */
export interface SmallDisk {
  dir: string;
  /** Bytes an unprivileged writer may still use. */
  freeBytes(): number;
  /** Writes a file until the disk refuses (ENOSPC), leaving `leaveBytes` or less free; returns the file. */
  fill(leaveBytes?: number): string;
  /** Removes what fill() wrote. */
  free(): void;
}

export interface TmpfsSupport {
  ok: boolean;
  reason: string;
}

const run = (argv: readonly string[]): { ok: boolean; out: string } => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
};

/** Whether this process may mount a tmpfs (root, and a kernel and container that allow it). Mounts one and takes it down. */
export function probeTmpfs(): TmpfsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `tmpfs mounts need Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `mount needs root, running as uid ${process.getuid?.()}` };
  const dir = tempDir('tmpfs-probe');
  const mounted = run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'reins-test-probe', dir]);
  if (mounted.ok) run(['umount', dir]);
  rmSync(dir, { recursive: true, force: true });
  return mounted.ok ? { ok: true, reason: '' } : { ok: false, reason: `\`mount -t tmpfs\` failed: ${mounted.out}` };
}

/**
 * Mounts a tmpfs of `sizeBytes` on a fresh folder for the story and always unmounts it, lazily when a
 * process still holds it (the story must have stopped what it started there; a lazy unmount still frees it).
 */
export async function withTmpfs<T>(sizeBytes: number, story: (disk: SmallDisk) => Promise<T>): Promise<T> {
  const dir = tempDir('small-disk');
  const mounted = run(['mount', '-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'reins-test-disk', dir]);
  if (!mounted.ok) throw new Error(`could not mount a tmpfs on ${dir}: ${mounted.out}`);
  const filler = path.join(dir, 'filler');
  const freeBytes = () => {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  };
  const disk: SmallDisk = {
    dir,
    freeBytes,
    fill: (leaveBytes = 0) => {
      const fd = openSync(filler, 'a');
      try {
        // Big writes first, then a page at a time: tmpfs hands out whole pages, so the last refusal is the last page.
        for (const chunk of [64 * 1024, 4096]) {
          const buffer = Buffer.alloc(chunk);
          while (freeBytes() > leaveBytes) {
            try {
              writeSync(fd, buffer, 0, Math.min(chunk, Math.max(1, freeBytes() - leaveBytes)));
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return filler;
    },
    free: () => unlinkSync(filler),
  };
  try {
    return await story(disk);
  } finally {
    if (!run(['umount', dir]).ok) run(['umount', '-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
