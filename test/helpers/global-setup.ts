import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, type Stats, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTROL_SESSION } from '../../apps/worker/src/tmux/control-client.js';
import { staleBuilds } from './stale-build.js';

/**
 * One root folder per test run. Every helper puts its redis data, fleet data dirs and tmux sockets
 * below it, and every process a test starts carries REINS_TEST_ROOT in its environment, so teardown
 * can find what a test leaked and fail the run for it.
 */
export default function setup(): () => void {
  const stale = staleBuilds(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'));
  if (stale.length > 0) throw new Error(`dist/ is older than src/; run \`npm run build\` first (\`npm test\` builds by itself):\n${stale.map((s) => `  - ${s}`).join('\n')}`);
  const root = path.join(os.tmpdir(), `reins-test-${process.pid}`);
  mkdirSync(root, { recursive: true });
  process.env.REINS_TEST_ROOT = root;
  return () => {
    const leaks = [...leakedTmuxSessions(root), ...leakedProcesses(root)];
    if (leaks.length === 0 && !process.env.REINS_KEEP_TEST_ROOT) rmSync(root, { recursive: true, force: true });
    if (leaks.length > 0) throw new Error(`tests leaked:\n${leaks.map((l) => `  - ${l}`).join('\n')}`);
  };
}

/** tmux sessions still alive on any socket under the root; they are killed, then reported. */
export function leakedTmuxSessions(root: string): string[] {
  const leaks: string[] = [];
  for (const socket of findSockets(root)) {
    let sessions: string[] = [];
    try {
      sessions = execFileSync('tmux', ['-S', socket, 'list-sessions', '-F', '#{session_name}'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .filter(Boolean);
    } catch {
      continue; // no server on that socket
    }
    // A server left with only a worker's control session (a worker killed with -9) is killed, not a leak.
    const agents = sessions.filter((name) => name !== CONTROL_SESSION);
    if (agents.length > 0) leaks.push(`tmux sessions on ${socket}: ${agents.join(', ')}`);
    if (sessions.length > 0) {
      try {
        execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
  return leaks;
}

/** Processes whose environment names this root: workers, schedulers, agents. They are killed, then reported. */
export function leakedProcesses(root: string): string[] {
  const marker = `REINS_TEST_ROOT=${root}`;
  const leaks: string[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!environ.split('\0').includes(marker)) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      if (cmdline.includes('vitest')) continue; // the test runner's own workers
      leaks.push(`process ${pid}: ${cmdline.slice(0, 160)}`);
      process.kill(pid, 'SIGKILL');
    } catch {
      // the process ended while we looked
    }
  }
  return leaks;
}

function findSockets(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6 || !existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      let info: Stats;
      try {
        info = statSync(full);
      } catch {
        continue;
      }
      // Agents' sockets to their workers (<data dir>/sockets) are not tmux servers.
      if (info.isSocket() && path.basename(dir) !== 'sockets') found.push(full);
      else if (info.isDirectory()) walk(full, depth + 1);
    }
  };
  walk(root, 0);
  return found;
}
