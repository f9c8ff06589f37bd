import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Accounts, Budgets, FleetLimits, RunFiles, RunSecrets, appBin, type Keys, type Logger, type ReinsConfig, type RedisConnection, type RunStore } from '@reins/shared';
import { CREDENTIAL_VARS, loadAccounts, type HeldAccount } from './accounts.js';
import { AgentUsers } from './agent-users.js';
import type { AgentSockets } from './attempt/agent-socket.js';
import { attemptTimings, type AttemptDeps, type RunningAgent } from './attempt/deps.js';
import { Heartbeats } from './heartbeat.js';
import type { TmuxDriver } from './tmux/driver.js';
import { installBin } from './tmux/launcher.js';

/**
 * The heartbeat hook Claude Code starts on every tool call: the compiled hook.js beside this module, so no
 * wrapper adds to its start-up (the idle watchdog waits for its first ping); from sources (a worker run
 * in a test process), the one the package declares as its reins-hook bin.
 */
export function hookEntry(): string {
  const beside = fileURLToPath(new URL('./hook.js', import.meta.url));
  return existsSync(beside) ? beside : appBin('worker', 'reins-hook');
}

/** What the worker's lifecycle owns and lends to its attempts. */
export interface KitParts {
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
  worker: { workerId: string; host: string };
  /** The connection for state writes, and the one for the every-tick ones (heartbeats, slots, accounts). */
  main: RedisConnection;
  fast: RedisConnection;
  store: RunStore;
  sockets: AgentSockets;
  tmux: TmuxDriver;
  running: Map<string, RunningAgent>;
  workerEnv: NodeJS.ProcessEnv;
  /** The accounts main.ts loaded; by default loaded here. */
  accounts?: HeldAccount[] | undefined;
  agentUsers?: AgentUsers | undefined;
  redisAnswered: (at: number) => void;
  diskFull: () => void;
}

/**
 * Everything an attempt's steps use, made once at the worker's start: reins' programs installed in the data
 * dir, the accounts it holds announced to the fleet (those with a credential: `announced`, which its
 * registration names), and the fleet's stores over the worker's connections.
 */
export async function attemptKit(parts: KitParts): Promise<{ deps: AttemptDeps; announced: string[] }> {
  const { config, keys, main, fast } = parts;
  const held = parts.accounts ?? (await loadAccounts(config.accountsFile, parts.workerEnv));
  // An account of the worker's environment without a credential holds none: it is not announced.
  const announced = held.filter((a) => CREDENTIAL_VARS.some((name) => a.env[name] !== undefined));
  const accounts = new Accounts(fast, keys, config.heartbeatTtlMs);
  await accounts.announce(announced);
  const bin = await installBin(path.join(config.dataDir, 'bin'), { reinsCli: appBin('cli', 'reins'), hookScript: hookEntry() });
  // The agents' user runs `reins` and the hook from here.
  await chmod(path.join(config.dataDir, 'bin'), 0o755);
  const deps: AttemptDeps = {
    config,
    logger: parts.logger,
    worker: parts.worker,
    store: parts.store,
    files: new RunFiles(main, keys),
    secrets: new RunSecrets(main, keys),
    heartbeats: new Heartbeats(fast, keys, config.heartbeatTtlMs),
    sockets: parts.sockets,
    limits: new FleetLimits(fast, keys, config.heartbeatTtlMs),
    budgets: new Budgets(main, keys),
    accounts: { held, state: accounts },
    tmux: parts.tmux,
    bin,
    timings: attemptTimings(config),
    workerEnv: parts.workerEnv,
    now: Date.now,
    running: parts.running,
    redisAnswered: parts.redisAnswered,
    diskFull: parts.diskFull,
    agentUsers: parts.agentUsers ?? AgentUsers.none(),
    agentUser: undefined,
  };
  return { deps, announced: announced.map((a) => a.name) };
}
