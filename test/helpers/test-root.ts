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

/**
 * The environment every role, CLI call and server a test starts begins with, built from scratch: a few
 * harmless variables of the test process (PATH to find programs, LANG and TZ to read and print text)
 * and a HOME of its own. Nothing else of the developer's shell gets through: no ANTHROPIC_API_KEY,
 * ANTHROPIC_MODEL or CLAUDE_CODE_USE_BEDROCK reaching the real CLI, no ~/.gitconfig, no ~/.claude.
 * What a test needs on top it passes itself.
 */
export function scratchEnv(home = tempDir('home')): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, REINS_TEST_ROOT: testRoot() };
  // A worker started as root runs its agents as reins-agent unless told otherwise; most stories run them as
  // the test's own user on purpose (their fixtures live in the test's folders). test/integration/agent-user.test.ts
  // runs them as reins-agent.
  if (process.getuid?.() === 0) env.REINS_AGENT_USER = 'root';
  for (const name of ['LANG', 'TZ'] as const) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
