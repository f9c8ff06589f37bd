import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { REINS_GIT_IDENTITY } from '../../apps/worker/src/git/git.js';
import { freePortOn } from './netns.js';
import { scratchEnv, tempDir } from './test-root.js';

/**
 * A git remote the test hosts reach over the network only: `git daemon` serving bare repositories over
 * git://, pushes included, and the bare repositories it serves.
 *
 * The daemon runs on the machine's side, bound to the service address (as Redis is), not in the svc
 * namespace or on a test host: the service address is the one address every test host has a route to
 * (see netns.ts; the machine does not forward, so 10.77.S.2 and the hosts' own addresses are unreachable
 * from the other hosts). What keeps the hosts honest is the mount namespace: hide the daemon's base path
 * on every host (`createTestNetwork(n, { hide: [basePath] })`), and a host can reach the repositories only
 * through git://, as a machine sharing nothing but a git remote would.
 */

/**
 * The environment for every git a test runs, on the machine or on a host: built from scratch (scratchEnv),
 * no system or global config (HOME is `home`, a fresh folder; GIT_CONFIG_NOSYSTEM), never a prompt, and
 * the identity reins' own commits use.
 */
export function gitEnv(home: string = tempDir('git-home')): Record<string, string> {
  return { ...scratchEnv(home), ...REINS_GIT_IDENTITY, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
}

export interface BareRepository {
  /** The bare repository's folder: `<basePath>/<name>.git`. */
  gitDir: string;
  /** Its name in a git:// URL: `<name>.git`. */
  name: string;
  branch: string;
  /** The initial commit's id. */
  commit: string;
}

/**
 * A bare repository `<basePath>/<name>.git` with one commit on `branch` holding `files` (path → content),
 * made with real git in a scratch work tree that is removed afterwards.
 */
export async function createBareRepository(basePath: string, name: string, { files = { 'README.md': `# ${name}\n` }, branch = 'main' }: { files?: Record<string, string>; branch?: string } = {}): Promise<BareRepository> {
  const env = gitEnv();
  const git = async (args: readonly string[]) => (await execa('git', args, { env, extendEnv: false, stdin: 'ignore' })).stdout.trim();
  const gitDir = path.join(basePath, `${name}.git`);
  const work = tempDir(`seed-${name}`);
  await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, gitDir]);
  await git(['init', '--quiet', `--initial-branch=${branch}`, work]);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(work, file)), { recursive: true });
    await writeFile(path.join(work, file), content);
  }
  await git(['-C', work, 'add', '--all']);
  await git(['-C', work, 'commit', '--quiet', '-m', `${name}: initial commit`]);
  await git(['-C', work, 'push', '--quiet', gitDir, `HEAD:refs/heads/${branch}`]);
  const commit = await git(['--git-dir', gitDir, 'rev-parse', `refs/heads/${branch}`]);
  await execa('rm', ['-rf', work]);
  return { gitDir, name: `${name}.git`, branch, commit };
}

export interface GitDaemon {
  /** `git://<address>:<port>`; a repository's URL is `${baseUrl}/<name>.git` (see url()). */
  baseUrl: string;
  /** The URL of a repository under the base path, e.g. url('app.git'). */
  url(name: string): string;
  basePath: string;
  /** The daemon's --verbose log (connections, refusals). */
  logFile: string;
  /** SIGTERM and wait for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Whether `git daemon` is installed here (Debian ships it in the git package, some distributions apart). */
export function probeGitDaemon(): { ok: boolean; reason: string } {
  const execPath = spawnSync('git', ['--exec-path'], { encoding: 'utf8' });
  if (execPath.status !== 0) return { ok: false, reason: `\`git --exec-path\` failed: ${execPath.error?.message ?? execPath.stderr}` };
  const daemon = path.join(execPath.stdout.trim(), 'git-daemon');
  return existsSync(daemon) ? { ok: true, reason: '' } : { ok: false, reason: `no git daemon at ${daemon}` };
}

/** Whether something accepts TCP connections on address:port. */
async function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Serves every repository under `basePath` over git:// on `address` (the service address: see above),
 * pushes enabled, on a free port. Resolves once the daemon accepts connections; a daemon that exits
 * first (the port taken between picking and binding) is started again on another port.
 */
export async function startGitDaemonOn(address: string, basePath: string): Promise<GitDaemon> {
  const dir = tempDir('git-daemon');
  const logFile = path.join(dir, 'daemon.log');
  const env = gitEnv(path.join(dir, 'home'));
  await mkdir(env.HOME!, { recursive: true });
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePortOn(address);
    // `git daemon` is a dashed external: git would sit between us and the daemon. Start the daemon itself,
    // so SIGTERM reaches it.
    const program = path.join((await execa('git', ['--exec-path'], { env, extendEnv: false })).stdout.trim(), 'git-daemon');
    const args = ['--enable=receive-pack', '--export-all', `--base-path=${basePath}`, '--reuseaddr', '--informative-errors', '--verbose', `--listen=${address}`, `--port=${port}`, basePath];
    const child = spawn(program, args, { env, cwd: dir, stdio: ['ignore', 'ignore', openSync(logFile, 'a')] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ended = () => child.exitCode !== null || child.signalCode !== null;
    const stop = async () => {
      if (ended()) return;
      child.kill('SIGTERM');
      await exited;
    };
    let ready = false;
    const deadline = Date.now() + 30_000;
    while (!ended()) {
      if (await accepts(address, port)) {
        ready = true;
        break;
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`git daemon on ${address}:${port} did not listen within 30 s:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      await sleep(25);
    }
    if (ready) {
      const baseUrl = `git://${address}:${port}`;
      return { baseUrl, url: (name) => `${baseUrl}/${name}`, basePath, logFile, stop };
    }
    if (attempt >= 3) throw new Error(`git daemon on ${address}:${port} exited (${child.exitCode ?? child.signalCode}) before it listened:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
  }
}
