import path from 'node:path';
import {
  beatIntervalMs,
  fenceAfterMs,
  stopGraceMs,
  type Accounts,
  type AgentJobData,
  type AttemptMeta,
  type Budgets,
  type FleetLimits,
  type Logger,
  type ReinsConfig,
  type RunFiles,
  type RunSecrets,
  type RunStore,
  type TokenCaps,
} from '@reins/shared';
import type { HeldAccount } from '../accounts.js';
import type { AgentUser } from '../agent-user.js';
import type { AgentUsers } from '../agent-users.js';
import type { Heartbeats } from '../heartbeat.js';
import type { AgentSockets } from './agent-socket.js';
import type { TmuxDriver } from '../tmux/driver.js';
import type { AttemptFiles, InstalledBin } from '../tmux/launcher.js';

/** What the monitor has seen of one agent so far. */
export interface AgentActivity {
  startedAt: number;
  lastEventAt: number;
  /** The last ping of Claude Code's tool hooks (0: none yet). */
  lastHookAt: number;
  /** A tool is between its PreToolUse and PostToolUse pings. */
  inTool: boolean;
}

/** An agent this worker watches: the lifecycle stops it on a cancel, a kill request, a drain or self-fencing. */
export interface RunningAgent {
  meta: AttemptMeta;
  /** Aborting stops the agent; the reason is a StopReason. */
  stop: AbortController;
  files: AttemptFiles;
  /** What the monitor has seen; the agent's socket adds what the tool hooks say. */
  activity: AgentActivity;
}

/** The safety nets' timings for this worker (config/timings.ts derives them from the TTL and the tick). */
export interface AttemptTimings {
  heartbeatTtlMs: number;
  monitorIntervalMs: number;
  /** Between SIGTERM and SIGKILL for a stopped agent. */
  stopGraceMs: number;
  /** How long an agent may live after a heartbeat without another (the launcher's lease). */
  fenceAfterMs: number;
  /** How often the heartbeat and the lease are refreshed (config/timings.ts): a whole number of ticks. */
  beatIntervalMs: number;
}

/**
 * Everything an attempt's steps use, handed to them explicitly: the functions in attempt/ read nothing
 * else (no `this`, no module state), so a test can give them a fake clock or store, and a reader can see
 * what each step touches from its arguments.
 */
export interface AttemptDeps {
  config: ReinsConfig;
  logger: Logger;
  /** Who this worker is, as attempt records and heartbeats name it. */
  worker: { workerId: string; host: string };
  store: RunStore;
  /** The run's skills and its scratch members' published work. */
  files: RunFiles;
  /** The run's agent.env values, read when an agent's env is built. */
  secrets: RunSecrets;
  heartbeats: Heartbeats;
  /** The agents' sockets to this worker (the in-agent reins commands and the tool hooks). */
  sockets: AgentSockets;
  limits: FleetLimits;
  budgets: Budgets;
  /** The Claude accounts this worker holds (their secrets) and the fleet's state of every account. */
  accounts: { held: HeldAccount[]; state: Accounts };
  tmux: TmuxDriver;
  /** The launcher, `reins` and the hook, installed in the data dir at start-up. */
  bin: InstalledBin;
  timings: AttemptTimings;
  /** The environment agents and checks take their baseline (PATH, locale, ANTHROPIC_*) from: the worker's own. */
  workerEnv: NodeJS.ProcessEnv;
  now: () => number;
  /** The agents being watched, by job id; the lifecycle reads it to stop them. */
  running: Map<string, RunningAgent>;
  /** Told whenever Redis answered a heartbeat: self-fencing counts the silence from there. */
  redisAnswered: (at: number) => void;
  /** Told when a step found no room in the data dir (ENOSPC): the lifecycle measures the disk at once. */
  diskFull: () => void;
  /** Who the worker's agents run as (agent-users.ts). */
  agentUsers: AgentUsers;
  /**
   * Who this attempt's agent runs as, and who runs git and checks in its workspace (agent-user.ts); undefined:
   * the worker's own user. Set on the attempt's copy of the deps (run.ts, adoption.ts), undefined on the worker's.
   */
  agentUser: AgentUser | undefined;
}

export function attemptTimings(config: Pick<ReinsConfig, 'heartbeatTtlMs' | 'monitorIntervalMs'>): AttemptTimings {
  return {
    heartbeatTtlMs: config.heartbeatTtlMs,
    monitorIntervalMs: config.monitorIntervalMs,
    stopGraceMs: stopGraceMs(config.heartbeatTtlMs),
    fenceAfterMs: fenceAfterMs(config.heartbeatTtlMs, config.monitorIntervalMs),
    beatIntervalMs: beatIntervalMs(config.heartbeatTtlMs, config.monitorIntervalMs),
  };
}

/** Session name → attempt folder, one small file per live session, so a restarted worker can adopt them. */
export const sessionIndexDir = (deps: Pick<AttemptDeps, 'config' | 'worker'>): string => path.join(deps.config.dataDir, 'tmux', `${deps.worker.workerId}.sessions`);

/** The concurrency key a job runs under, and its effective cap (the harness's or the fleet's, the lower). */
export function limitFor(config: Pick<ReinsConfig, 'concurrencyLimits'>, data: Pick<AgentJobData, 'concurrency'>): { key: string; max: number | undefined } | undefined {
  if (!data.concurrency) return undefined;
  const caps = [data.concurrency.max, config.concurrencyLimits[data.concurrency.key]].filter((n): n is number => n !== undefined);
  return { key: data.concurrency.key, max: caps.length > 0 ? Math.min(...caps) : undefined };
}

/** The token caps a job's agent runs under: its member's and its run's (the harness's limits), the fleet's for the day. */
export function tokenCaps(config: Pick<ReinsConfig, 'dailyTokens'>, data: Pick<AgentJobData, 'limits'>): TokenCaps {
  return { member: data.limits.maxTokens, run: data.limits.runMaxTokens, day: config.dailyTokens };
}
