import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

/**
 * Wakes the monitor loop the moment the launcher renames the exit file into place, instead of at the next
 * tick: an inotify watch on the attempt folder (fs.watch), one per running agent. Chosen over a FIFO or a
 * unix socket because the exit file stays the one source of truth (the launcher changes nothing, an adopted
 * agent is watched the same way after a restart) and a watch that fails or misses an event costs a tick,
 * never an outcome.
 */
export class ExitWatch {
  private fired = false;
  /** An event since the last mayHaveExited(), or none looked at yet (an adopted agent may have exited before). */
  private unchecked = true;
  private wake: (() => void) | undefined;
  private watcher: FSWatcher | undefined;

  constructor(exitFile: string) {
    const name = path.basename(exitFile);
    try {
      this.watcher = watch(path.dirname(exitFile), (_event, file) => {
        if (file !== name) return;
        this.fired = true;
        this.unchecked = true;
        this.wake?.();
      });
      this.watcher.on('error', () => this.close());
    } catch {
      // No watch (no inotify, the folder gone): the tick still reads the exit file.
    }
  }

  /** Waits `ms`, or until the exit file appeared, or the signal aborted, whichever is first. */
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (!this.fired && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
    this.fired = false;
  }

  /**
   * Whether the exit file is worth reading: the watch saw it appear, or has not been asked yet, or there is
   * no watch. A quiet agent's tick then reads no exit file. A missed event (a full inotify queue) costs no
   * outcome: the launcher writes the file just before its session ends, and a session gone is looked up.
   */
  mayHaveExited(): boolean {
    const answer = this.unchecked || this.watcher === undefined;
    this.unchecked = false;
    return answer;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
