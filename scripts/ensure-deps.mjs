#!/usr/bin/env node
// Makes sure the system programs reins needs are here: redis-server, tmux and git. Where one is
// missing it installs it with apt-get when running as root, and otherwise says exactly what to
// install. With --npm it also runs `npm install` when the project's packages are missing. For the
// tests (--test, or whenever npm runs it from the `test` script) it also wants Debian's chromium,
// which the board's browser test drives: playwright-core never downloads a browser of its own,
// iproute2 and util-linux for the multi-host test's network namespaces (`ip netns`, `unshare --uts`)
// and systemd for `systemd-analyze verify` of the deploy units.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NEEDED = { 'redis-server': 'redis-server', tmux: 'tmux', git: 'git' };
const forTests = process.argv.includes('--test') || process.env.npm_lifecycle_event === 'test';
if (forTests) Object.assign(NEEDED, { chromium: 'chromium', ip: 'iproute2', unshare: 'util-linux', hostname: 'hostname', 'systemd-analyze': 'systemd' });

const onPath = (command) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;

const missing = Object.entries(NEEDED)
  .filter(([command]) => !onPath(command))
  .map(([, pkg]) => pkg);
if (missing.length > 0) {
  const isRoot = process.getuid?.() === 0;
  if (isRoot && onPath('apt-get')) {
    console.error(`reins: installing ${missing.join(', ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  } else {
    console.error(`reins: missing ${missing.join(', ')}. Install with:\n  sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
}

if (process.argv.includes('--npm') && !existsSync(path.join(root, 'node_modules', '.bin', 'reins'))) {
  console.error('reins: installing npm packages');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
