import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { reinsBin, repoRoot } from '../helpers/fleet.js';
import { scratchEnv } from '../helpers/test-root.js';

const bundleDir = path.join(repoRoot, 'apps/cli/dist/bundle');
const entry = JSON.parse(readFileSync(path.join(bundleDir, 'entry.json'), 'utf8')) as { file: string; hash: string };
const cacheOf = (command: string) => path.join(bundleDir, `reins-${entry.hash}.${command}.v8cache`);
const reins = (...argv: string[]) => execa(process.execPath, [reinsBin, ...argv], { env: scratchEnv(), extendEnv: false, reject: false, stdin: 'ignore' });

// bin/reins.js runs the bundle apps/cli/build.mjs makes, with a V8 code cache per command beside it.
describe('the reins command and its bundle', () => {
  it('keeps a code cache per command, keyed by the bundle, and uses it: V8 accepts it, so it is not written again', async () => {
    const first = await reins('help');
    expect(first.exitCode).toBe(0);
    const written = statSync(cacheOf('help'));
    expect(written.size).toBeGreaterThan(0);
    const second = await reins('help');
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // Rewritten only when missing or rejected; a rewrite is a rename, which gives the file a new inode.
    expect(statSync(cacheOf('help')).ino).toBe(written.ino);
  });

  it('runs a command whose cache V8 rejects (another Node, a damaged file) and writes the cache again', async () => {
    const expected = await reins('validate', '--help');
    writeFileSync(cacheOf('validate'), 'not a code cache');
    const run = await reins('validate', '--help');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(expected.stdout);
    expect(readFileSync(cacheOf('validate')).toString('latin1')).not.toBe('not a code cache');
  });

  it('names no cache file after an argument that is not a plain command name', async () => {
    const run = await reins('../../escape');
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('unknown command');
    for (const dir of [bundleDir, path.dirname(bundleDir), path.dirname(path.dirname(bundleDir))]) expect(readdirSync(dir).filter((name) => name.includes('escape'))).toEqual([]);
  });
});
