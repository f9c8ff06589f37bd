import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The run's root folder (see global-setup.ts); everything a test makes goes below it. */
export function testRoot(): string {
  const root = process.env.REINS_TEST_ROOT ?? path.join(os.tmpdir(), `reins-test-${process.pid}`);
  process.env.REINS_TEST_ROOT = root;
  mkdirSync(root, { recursive: true });
  return root;
}

/** A fresh folder under the test root. */
export function tempDir(label: string): string {
  return mkdtempSync(path.join(testRoot(), `${label.replace(/[^A-Za-z0-9_-]/g, '-')}-`));
}
