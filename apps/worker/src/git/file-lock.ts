import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/**
 * Runs `work` holding an exclusive flock(2) on `file`, across every process on the host (two workers may
 * share a data dir). The lock is held by a `flock` child whose stdin is ours: when the work ends, or this
 * process dies, its stdin closes and the kernel releases the lock; a crash never leaves a stale one.
 */
export async function withFileLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true });
  // The command is a constant; the file goes to flock as an argument, never through the shell.
  const holder = execa('flock', ['--exclusive', file, 'sh', '-c', 'echo locked && exec cat >/dev/null'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`flock ${file} exited with ${code} before taking the lock`)));
      holder.once('error', reject);
    });
    return await work();
  } finally {
    holder.stdin!.end();
    await holder;
  }
}
