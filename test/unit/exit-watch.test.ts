import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitWatch } from '../../apps/worker/src/attempt/exit-watch.js';
import { tempDir } from '../helpers/test-root.js';

/** What the launcher does: the code into exit.tmp, then a rename to exit. */
function writeExit(dir: string): void {
  writeFileSync(path.join(dir, 'exit.tmp'), '0\n');
  renameSync(path.join(dir, 'exit.tmp'), path.join(dir, 'exit'));
}

// A sleep far longer than the test's own timeout: only the exit file can end it in time.
const LONG_MS = 10 * 60_000;

describe('ExitWatch', () => {
  it('ends a sleep when the launcher renames the exit file into place, long before the tick', async () => {
    const dir = tempDir('exit-watch');
    const watch = new ExitWatch(path.join(dir, 'exit'));
    try {
      const slept = watch.sleep(LONG_MS, new AbortController().signal);
      writeExit(dir);
      await expect(slept).resolves.toBeUndefined();
    } finally {
      watch.close();
    }
  });

  it('says the exit file is worth reading at first, then only after it appeared', async () => {
    const dir = tempDir('exit-watch-check');
    const watch = new ExitWatch(path.join(dir, 'exit'));
    try {
      // At first: an adopted agent may have exited before the watch began.
      expect(watch.mayHaveExited()).toBe(true);
      expect(watch.mayHaveExited()).toBe(false);
      const slept = watch.sleep(LONG_MS, new AbortController().signal);
      writeExit(dir);
      await slept;
      expect(watch.mayHaveExited()).toBe(true);
      expect(watch.mayHaveExited()).toBe(false);
    } finally {
      watch.close();
    }
  });

  it('says it is always worth reading without a watch (a folder that is not there)', () => {
    const watch = new ExitWatch(path.join(tempDir('exit-watch-none'), 'missing', 'exit'));
    expect(watch.mayHaveExited()).toBe(true);
    expect(watch.mayHaveExited()).toBe(true);
  });

  it('ends a sleep when its signal aborts (a stop by the worker)', async () => {
    const watch = new ExitWatch(path.join(tempDir('exit-watch-abort'), 'exit'));
    const stop = new AbortController();
    try {
      const slept = watch.sleep(LONG_MS, stop.signal);
      stop.abort('cancelled');
      await expect(slept).resolves.toBeUndefined();
    } finally {
      watch.close();
    }
  });
});
