import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { scratchEnv, tempDir } from '../helpers/test-root.js';

const WORKER = path.resolve('apps/worker/bin/reins-worker.js');

/** Starts a worker with this accounts file; it must refuse before it touches Redis (none is running on that port). */
async function startWith(text: string) {
  const dir = tempDir('accounts-file');
  const file = path.join(dir, 'accounts.yaml');
  writeFileSync(file, text);
  const env = { ...scratchEnv(path.join(dir, 'home')), REINS_DATA_DIR: path.join(dir, 'data'), REINS_REDIS_URL: 'redis://127.0.0.1:1', REINS_ACCOUNTS_FILE: file };
  return { file, result: await execa(process.execPath, [WORKER], { env, extendEnv: false, reject: false, timeout: 30_000 }) };
}

describe('a worker with a bad accounts file', () => {
  it.each([
    ['an unknown field', 'accounts:\n  - name: team-a\n    env: {CLAUDE_CODE_OAUTH_TOKEN: sk-hidden-1}\n    region: eu\n', 'accounts[0] (team-a): unknown field "region"'],
    ['a duplicate name', 'accounts:\n  - {name: a, env: {ANTHROPIC_API_KEY: sk-hidden-1}}\n  - {name: a, env: {ANTHROPIC_API_KEY: sk-hidden-2}}\n', 'accounts[1].name: expected a name of its own'],
    ['an empty secret', 'accounts:\n  - {name: a, env: {ANTHROPIC_API_KEY: sk-hidden-1}}\n  - {name: b, env: {CLAUDE_CODE_OAUTH_TOKEN: ""}}\n', 'accounts[1] (b).env.CLAUDE_CODE_OAUTH_TOKEN: expected a non-empty secret'],
  ])('refuses to start on %s: exit 2, naming the file, the entry and the field, never a secret', async (_what, text, expected) => {
    const { file, result } = await startWith(text);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`REINS_ACCOUNTS_FILE (${file}) ${expected}`);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/sk-hidden/);
  });
});
