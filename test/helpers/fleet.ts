import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { CONTROL_SESSION } from '../../apps/worker/src/tmux/control-client.js';
import { scratchEnv, tempDir } from './test-root.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const reinsBin = path.join(repoRoot, 'apps/cli/bin/reins.js');
const entries = {
  scheduler: path.join(repoRoot, 'apps/scheduler/dist/main.js'),
  worker: path.join(repoRoot, 'apps/worker/dist/main.js'),
  board: path.join(repoRoot, 'apps/board/dist/main.js'),
} as const;
export type RoleName = keyof typeof entries;

export interface RoleHandle {
  role: RoleName;
  id: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Where this process's lines start in logFile (a restarted role appends to the same file). */
  logOffset: number;
  /** This process's own log lines. */
  log(): string;
  exited: Promise<number | null>;
  /** SIGTERM and wait; SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a machine dying would. */
  kill9(): Promise<void>;
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface FleetOptions {
  redisUrl: string;
  /** Worker processes to start (default 1). */
  workers?: number;
  concurrency?: number;
  /** Start the scheduler (default true). */
  scheduler?: boolean;
  /** Extra environment for every role and CLI call (short intervals, API base URL, …). */
  env?: Record<string, string>;
}

export interface Fleet {
  env: Record<string, string>;
  dataDir: string;
  prefix: string;
  scheduler: RoleHandle | undefined;
  workers: RoleHandle[];
  board: RoleHandle | undefined;
  reins(args: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  startWorker(id?: string, env?: Record<string, string>): Promise<RoleHandle>;
  startScheduler(): Promise<RoleHandle>;
  /** Starts the board on a free port and returns its base URL. */
  startBoard(port: number): Promise<string>;
  /** Live tmux sessions across every worker socket of this fleet. */
  tmuxSessions(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Polls a log file for a line written after byte `fromOffset`; roles log "worker started" / "scheduler
 * started" when ready. A restarted role appends to its predecessor's log, hence the offset.
 */
export async function waitForLog(file: string, text: string, timeoutMs = 30_000, child?: ChildProcess, fromOffset = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let content = '';
    try {
      content = readFileSync(file).subarray(fromOffset).toString('utf8');
    } catch {
      // not yet
    }
    if (content.includes(text)) return;
    if (child && child.exitCode !== null) throw new Error(`${path.basename(file)}: process exited (${child.exitCode}) before "${text}":\n${content.slice(-2000)}`);
    await sleep(25);
  }
  throw new Error(`${file}: no "${text}" within ${timeoutMs} ms`);
}

/**
 * Spawns a role process (`file args`, e.g. node and a role's entry, maybe behind `ip netns exec`) with
 * exactly `env` as its environment (nothing of the test process's own), its output appended to logFile, and wraps it in a handle that can stop it gently or kill it as a crash would.
 */
export function spawnRoleProcess(role: RoleName, id: string, command: { file: string; args: readonly string[] }, env: Record<string, string>, logFile: string): RoleHandle {
  const fd = openSync(logFile, 'a');
  const logOffset = fstatSync(fd).size;
  const child = spawn(command.file, [...command.args], { env, stdio: ['ignore', fd, fd] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    role,
    id,
    child,
    pid: child.pid!,
    logFile,
    logOffset,
    log: () => readFileSync(logFile).subarray(logOffset).toString('utf8'),
    exited,
    stop: async (graceMs = 15_000) => {
      if (ended()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill9: async () => {
      if (ended()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

function spawnRole(role: RoleName, id: string, env: Record<string, string>, logDir: string): RoleHandle {
  return spawnRoleProcess(role, id, { file: process.execPath, args: [entries[role]] }, env, path.join(logDir, `${role}-${id}.log`));
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dataDir = tempDir('fleet');
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const logDir = path.join(dataDir, 'logs');
  // Built from scratch (see scratchEnv): the developer's own environment never reaches a role or an agent.
  const env: Record<string, string> = {
    ...scratchEnv(path.join(dataDir, 'home')),
    REINS_REDIS_URL: options.redisUrl,
    REINS_PREFIX: prefix,
    REINS_DATA_DIR: dataDir,
    REINS_MONITOR_INTERVAL_MS: '100',
    REINS_RECONCILE_INTERVAL_MS: '250',
    REINS_BACKOFF_BASE_MS: '100',
    REINS_WORKER_CONCURRENCY: String(options.concurrency ?? 4),
    REINS_LOG_LEVEL: 'debug',
    ...options.env,
  };
  await execa('mkdir', ['-p', logDir, env.HOME!]);
  const fleet: Fleet = {
    env,
    dataDir,
    prefix,
    scheduler: undefined,
    workers: [],
    board: undefined,
    reins: async (args, { env: extra = {}, timeoutMs = 60_000 } = {}) => {
      const result = await execa(process.execPath, [reinsBin, ...args], { env: { ...env, ...extra }, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore' });
      return { exitCode: result.exitCode ?? -1, stdout: result.stdout as string, stderr: result.stderr as string };
    },
    startWorker: async (id = `w${fleet.workers.length + 1}`, extra = {}) => {
      const handle = spawnRole('worker', id, { ...env, ...extra, REINS_WORKER_ID: id }, logDir);
      fleet.workers.push(handle);
      await waitForLog(handle.logFile, 'worker started', 30_000, handle.child, handle.logOffset);
      return handle;
    },
    startScheduler: async () => {
      const handle = spawnRole('scheduler', 's1', env, logDir);
      fleet.scheduler = handle;
      await waitForLog(handle.logFile, 'scheduler started', 30_000, handle.child);
      return handle;
    },
    startBoard: async (port) => {
      const handle = spawnRole('board', 'b1', { ...env, REINS_BOARD_PORT: String(port) }, logDir);
      fleet.board = handle;
      await waitForLog(handle.logFile, 'board listening', 30_000, handle.child);
      return `http://127.0.0.1:${port}`;
    },
    tmuxSessions: async () => {
      const sessions: string[] = [];
      const socketDir = path.join(dataDir, 'tmux');
      let sockets: string[] = [];
      try {
        sockets = readdirSync(socketDir).filter((f) => f.endsWith('.sock'));
      } catch {
        return [];
      }
      for (const socket of sockets) {
        const r = await execa('tmux', ['-S', path.join(socketDir, socket), 'list-sessions', '-F', '#{session_name}'], { reject: false });
        // The worker's control client sits in a session of its own, which is not an agent's.
        if (r.exitCode === 0) sessions.push(...(r.stdout as string).split('\n').filter((name) => name && name !== CONTROL_SESSION));
      }
      return sessions;
    },
    stop: async () => {
      const roles = [...fleet.workers, fleet.scheduler, fleet.board].filter((r): r is RoleHandle => r !== undefined);
      await Promise.all(roles.map((r) => r.stop()));
      const left = await fleet.tmuxSessions();
      const socketDir = path.join(dataDir, 'tmux');
      for (const socket of (() => {
        try {
          return readdirSync(socketDir);
        } catch {
          return [];
        }
      })()) {
        await execa('tmux', ['-S', path.join(socketDir, socket), 'kill-server'], { reject: false });
      }
      if (left.length > 0) throw new Error(`fleet left tmux sessions behind: ${left.join(', ')}`);
    },
  };
  if (options.scheduler ?? true) await fleet.startScheduler();
  for (let i = 0; i < (options.workers ?? 1); i += 1) await fleet.startWorker();
  return fleet;
}

/** Runs a story against a fresh fleet and always stops it. A story's own failure wins over a teardown failure. */
export async function withFleet<T>(options: FleetOptions, story: (fleet: Fleet) => Promise<T>): Promise<T> {
  const fleet = await startFleet(options);
  let result: T;
  try {
    result = await story(fleet);
  } catch (error) {
    await fleet.stop().catch((stopError: unknown) => {
      (error as Error).message += `\n(and then, stopping the fleet: ${(stopError as Error).message})`;
    });
    throw error;
  }
  await fleet.stop();
  return result;
}

/** Writes a harness file (JSON is valid YAML) into a folder and returns its path. */
export async function writeHarness(dir: string, harness: unknown, name = 'harness.yaml'): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(harness, null, 2));
  return file;
}
