import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/config-error.js';
import { issuesFromZod } from '../errors/issue.js';
import { projectRoot } from '../paths.js';
import type { BackoffPolicy } from '../jobs/backoff.js';
import { parseRedisUrl, RedisUrlError } from '../redis/redis-url.js';
import { smallestWorkingTtlMs, timingsWork } from './timings.js';

const durationMs = (defaultMs: number) => z.coerce.number({ error: 'expected a whole number of milliseconds' }).int('expected a whole number of milliseconds').min(1, 'expected at least 1 ms').default(defaultMs);
const count = (min: number, max: number, defaultValue: number) =>
  z.coerce
    .number({ error: `expected a whole number from ${min} to ${max}` })
    .int(`expected a whole number from ${min} to ${max}`)
    .min(min, `expected a whole number from ${min} to ${max}`)
    .max(max, `expected a whole number from ${min} to ${max}`)
    .default(defaultValue);

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * Every setting reins reads from the environment. Flags are mapped onto these names before parsing,
 * so a flag and its variable are checked by the same rule.
 */
const EnvSchema = z.object({
  REINS_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .superRefine((url, ctx) => {
      // The message names the part that is wrong with the password redacted; the value is not echoed.
      try {
        parseRedisUrl(url);
      } catch (error) {
        if (!(error instanceof RedisUrlError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message, params: { quotesValue: true } });
      }
    }),
  REINS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'expected 1 to 40 letters, digits, "_", "." or "-"')
    .default('reins'),
  REINS_DATA_DIR: z.string().min(1).default('.reins'),
  REINS_CLAUDE_BIN: z.string().min(1).optional(),
  REINS_SKILLS_DIR: z.string().min(1).default(path.join(projectRoot, 'skills')),
  REINS_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  REINS_WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1 to 64 letters, digits, "_", "." or "-"')
    .optional(),
  REINS_WORKER_CONCURRENCY: count(1, 512, 4),
  // Who a worker's agents run as: a worker running as root defaults to the user reins-agent; "root" on purpose.
  REINS_AGENT_USER: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'expected a user name: up to 32 letters, digits, "_", "." or "-", not starting with a digit')
    .optional(),
  // Instead: a group whose members each serve one running agent at a time (no two agents of a host share a user).
  REINS_AGENT_GROUP: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'expected a group name: up to 32 letters, digits, "_", "." or "-", not starting with a digit')
    .optional(),
  // A YAML file of the Claude accounts this worker holds (their secrets stay on this host): see docs/accounts.md.
  REINS_ACCOUNTS_FILE: z.string().min(1).optional(),
  REINS_ACCOUNT_WARN_UTILIZATION: z.coerce.number({ error: 'expected a fraction from 0 to 1' }).min(0, 'expected a fraction from 0 to 1').max(1, 'expected a fraction from 0 to 1').default(0.9),
  REINS_WORKER_LABELS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9_.=-]{1,64}$/, 'expected comma-separated labels of letters, digits, "_", ".", "=" or "-"'))),
  /** Fleet-wide caps on concurrent agents per key: "account-a=2,opus=4". */
  REINS_CONCURRENCY: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}=[1-9][0-9]{0,5}$/, 'expected comma-separated KEY=MAX pairs, like account-a=2')))
    .transform((pairs) => Object.fromEntries(pairs.map((p) => [p.split('=')[0]!, Number(p.split('=')[1])]))),
  REINS_MONITOR_INTERVAL_MS: durationMs(5_000),
  REINS_HEARTBEAT_TTL_MS: durationMs(30_000),
  REINS_RECONCILE_INTERVAL_MS: durationMs(2_000),
  REINS_IDLE_TIMEOUT_MS: durationMs(600_000),
  REINS_DRAIN_TIMEOUT_MS: durationMs(120_000),
  REINS_CHECKPOINT_INTERVAL_MS: durationMs(30_000),
  // Stored base64 in one Redis value (512 MB at most), so the cap stays well below that.
  REINS_TRANSCRIPT_MAX_BYTES: count(0, 128 * 1024 * 1024, 16 * 1024 * 1024),
  REINS_WORKTREE_RETENTION_MS: durationMs(7 * 24 * 3600 * 1000),
  // Skills and scratch members' work travel as gzipped tars in Redis values (512 MB at most); the caps
  // count the folder's file bytes before packing, so a folder over its cap is refused before any work.
  REINS_SKILL_MAX_BYTES: count(1, 64 * 1024 * 1024, 1024 * 1024),
  REINS_RUN_SKILLS_MAX_BYTES: count(1, 256 * 1024 * 1024, 8 * 1024 * 1024),
  REINS_ARTIFACT_MAX_BYTES: count(1, 256 * 1024 * 1024, 64 * 1024 * 1024),
  // An agent's stdout.jsonl and stderr.log on disk: past it, the oldest part is cut away (the newest kept).
  REINS_OUTPUT_MAX_BYTES: count(1024 * 1024, 2 ** 40, 64 * 1024 * 1024),
  // Below this much free space in its data dir a worker takes no jobs (degraded); 0 turns the check off.
  REINS_MIN_FREE_BYTES: z.coerce
    .number({ error: 'expected a whole number of bytes, 0 or more' })
    .int('expected a whole number of bytes, 0 or more')
    .min(0, 'expected a whole number of bytes, 0 or more')
    .max(Number.MAX_SAFE_INTEGER, 'expected a whole number of bytes, 0 or more')
    .default(1024 * 1024 * 1024),
  REINS_DAILY_BUDGET_USD: z.coerce.number({ error: 'expected an amount in US dollars' }).positive('expected an amount above 0').optional(),
  REINS_BUDGET_RESERVE_USD: z.coerce.number({ error: 'expected an amount in US dollars' }).positive('expected an amount above 0').default(1),
  REINS_DAILY_TOKENS: z.coerce
    .number({ error: 'expected a whole number of tokens, 1 or more' })
    .int('expected a whole number of tokens, 1 or more')
    .min(1, 'expected a whole number of tokens, 1 or more')
    .max(Number.MAX_SAFE_INTEGER, 'expected a whole number of tokens, 1 or more')
    .optional(),
  REINS_WEBHOOKS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'expected comma-separated http(s) URLs' }))),
  REINS_BACKOFF_BASE_MS: durationMs(5_000),
  REINS_BACKOFF_FACTOR: z.coerce.number({ error: 'expected a number of at least 1' }).min(1, 'expected a number of at least 1').default(2),
  REINS_BACKOFF_MAX_MS: durationMs(300_000),
  REINS_BACKOFF_JITTER: z.coerce.number({ error: 'expected a fraction from 0 to 1' }).min(0, 'expected a fraction from 0 to 1').max(1, 'expected a fraction from 0 to 1').default(0.2),
  REINS_DEFAULT_ATTEMPTS: count(1, 50, 5),
  REINS_BOARD_HOST: z.string().min(1).default('127.0.0.1'),
  REINS_BOARD_PORT: count(0, 65_535, 8700),
  // Secrets get no format rule here: a rejected value would be echoed in the error. The board checks them.
  REINS_BOARD_TOKEN: z.string().optional(),
  REINS_BOARD_USER: z.string().optional(),
  REINS_BOARD_PASSWORD: z.string().optional(),
  REINS_BOARD_READ_ONLY: z.enum(['0', '1', 'false', 'true'], { error: 'expected 1, 0, true or false' }).default('0'),
});

export type EnvName = keyof typeof EnvSchema.shape;
export const ENV_NAMES = Object.keys(EnvSchema.shape) as EnvName[];

export interface ReinsConfig {
  redisUrl: string;
  prefix: string;
  /** Absolute. Workspaces, agent homes, logs and tmux sockets live below it. */
  dataDir: string;
  /** As given; resolve with resolveClaudeBin(). */
  claudeBin: string | undefined;
  skillsDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  workerId: string | undefined;
  workerConcurrency: number;
  /** REINS_AGENT_USER as given; the worker resolves it (apps/worker/src/agent-user.ts). */
  agentUser: string | undefined;
  /** REINS_AGENT_GROUP as given: one of its members for each running agent. */
  agentGroup: string | undefined;
  /** What this worker offers; members that require labels run only on workers that have them all. */
  workerLabels: string[];
  /** The worker's accounts file; without one it holds one account, `default`, from its environment. */
  accountsFile: string | undefined;
  /** Above this utilization of a window an account takes no new agents while another has room. */
  accountWarnUtilization: number;
  /** Fleet-wide caps on concurrent agents per concurrency key. */
  concurrencyLimits: Record<string, number>;
  monitorIntervalMs: number;
  heartbeatTtlMs: number;
  reconcileIntervalMs: number;
  /** No stream event and no hook ping for this long: the agent is hung. */
  idleTimeoutMs: number;
  /** On SIGTERM, how long a worker waits for its agents before it checkpoints and hands their jobs back. */
  drainTimeoutMs: number;
  /** Least time between two automatic checkpoints of one agent. */
  checkpointIntervalMs: number;
  /** Largest compressed transcript a cursor carries; a larger one is left out (the cursor says so). */
  transcriptMaxBytes: number;
  /** Largest skill folder (its files' bytes) `reins submit` stores with a run. */
  skillMaxBytes: number;
  /** Largest total of a run's skill folders. */
  runSkillsMaxBytes: number;
  /** Largest workspace (its files' bytes) a scratch member may hand its dependants; a larger one fails it. */
  artifactMaxBytes: number;
  /** Largest an agent's stdout.jsonl (and stderr.log) grows on disk; past it the oldest bytes are cut away. */
  outputMaxBytes: number;
  /** Free space a worker's data dir must keep for it to take jobs; under it the worker is degraded. 0: no check. */
  minFreeBytes: number;
  /** The fleet's spending cap per UTC day, across all runs. */
  dailyBudgetUsd: number | undefined;
  /** What an agent without a cap of its own reserves before it starts. */
  budgetReserveUsd: number;
  /** The fleet's cap on tokens (input, output and cache) per UTC day, across all runs and accounts. */
  dailyTokens: number | undefined;
  /** Webhooks told of every run's events. */
  webhooks: string[];
  /** How long the worktrees of an ended run are kept before a worker removes them (their branches stay). */
  worktreeRetentionMs: number;
  backoff: BackoffPolicy;
  defaultAttempts: number;
  boardHost: string;
  boardPort: number;
  /** Bearer token (or `?token=` once, then a cookie) the board requires when set. */
  boardToken: string | undefined;
  /** Basic-auth credentials the board accepts when both are set. */
  boardUser: string | undefined;
  boardPassword: string | undefined;
  /** Hides and refuses Bull Board's retry, clean, delete and other changes. */
  boardReadOnly: boolean;
}

/**
 * Parses the environment once, at start-up. `overrides` carries flags, which win over the environment.
 * Throws ConfigError naming each bad variable, its value and what was expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<EnvName, string | undefined>> = {}): ReinsConfig {
  const input: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) {
    const value = overrides[name] ?? env[name];
    // An empty variable means "unset", as in most shells' `VAR= cmd`.
    if (value !== undefined && value !== '') input[name] = value;
  }
  const parsed = EnvSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new ConfigError(issuesFromZod(parsed.error, input));
  const e = parsed.data;
  return {
    redisUrl: e.REINS_REDIS_URL,
    prefix: e.REINS_PREFIX,
    dataDir: path.resolve(e.REINS_DATA_DIR),
    claudeBin: e.REINS_CLAUDE_BIN,
    skillsDir: path.resolve(e.REINS_SKILLS_DIR),
    logLevel: e.REINS_LOG_LEVEL,
    workerId: e.REINS_WORKER_ID,
    workerConcurrency: e.REINS_WORKER_CONCURRENCY,
    agentUser: e.REINS_AGENT_USER,
    agentGroup: e.REINS_AGENT_GROUP,
    workerLabels: e.REINS_WORKER_LABELS,
    accountsFile: e.REINS_ACCOUNTS_FILE === undefined ? undefined : path.resolve(e.REINS_ACCOUNTS_FILE),
    accountWarnUtilization: e.REINS_ACCOUNT_WARN_UTILIZATION,
    concurrencyLimits: e.REINS_CONCURRENCY,
    monitorIntervalMs: e.REINS_MONITOR_INTERVAL_MS,
    heartbeatTtlMs: e.REINS_HEARTBEAT_TTL_MS,
    reconcileIntervalMs: e.REINS_RECONCILE_INTERVAL_MS,
    idleTimeoutMs: e.REINS_IDLE_TIMEOUT_MS,
    drainTimeoutMs: e.REINS_DRAIN_TIMEOUT_MS,
    checkpointIntervalMs: e.REINS_CHECKPOINT_INTERVAL_MS,
    transcriptMaxBytes: e.REINS_TRANSCRIPT_MAX_BYTES,
    worktreeRetentionMs: e.REINS_WORKTREE_RETENTION_MS,
    skillMaxBytes: e.REINS_SKILL_MAX_BYTES,
    runSkillsMaxBytes: e.REINS_RUN_SKILLS_MAX_BYTES,
    artifactMaxBytes: e.REINS_ARTIFACT_MAX_BYTES,
    outputMaxBytes: e.REINS_OUTPUT_MAX_BYTES,
    minFreeBytes: e.REINS_MIN_FREE_BYTES,
    webhooks: e.REINS_WEBHOOKS,
    dailyBudgetUsd: e.REINS_DAILY_BUDGET_USD,
    budgetReserveUsd: e.REINS_BUDGET_RESERVE_USD,
    dailyTokens: e.REINS_DAILY_TOKENS,
    backoff: { baseMs: e.REINS_BACKOFF_BASE_MS, factor: e.REINS_BACKOFF_FACTOR, maxMs: e.REINS_BACKOFF_MAX_MS, jitter: e.REINS_BACKOFF_JITTER },
    defaultAttempts: e.REINS_DEFAULT_ATTEMPTS,
    boardHost: e.REINS_BOARD_HOST,
    boardPort: e.REINS_BOARD_PORT,
    boardToken: e.REINS_BOARD_TOKEN,
    boardUser: e.REINS_BOARD_USER,
    boardPassword: e.REINS_BOARD_PASSWORD,
    boardReadOnly: e.REINS_BOARD_READ_ONLY === '1' || e.REINS_BOARD_READ_ONLY === 'true',
  };
}

/** A worker id that is stable across restarts on one host unless two workers share the host. */
export function defaultWorkerId(): string {
  return (
    os
      .hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .slice(0, 64) || 'worker'
  );
}

/**
 * Refuses, at a worker's start, a heartbeat TTL whose lease cannot outlast one monitor tick: otherwise every
 * agent is stopped about a second after it starts, attempt after attempt (seen with a 4 s TTL and the default
 * 5 s tick). Only the worker holds leases, so only it checks: other commands run with the fleet's settings
 * (a short TTL, no tick of their own) must not be refused for it.
 */
export function assertWorkableTimings(config: Pick<ReinsConfig, 'heartbeatTtlMs' | 'monitorIntervalMs'>): void {
  if (timingsWork(config.heartbeatTtlMs, config.monitorIntervalMs)) return;
  throw new ConfigError([
    {
      path: 'REINS_HEARTBEAT_TTL_MS',
      message: `expected a heartbeat TTL of at least ${smallestWorkingTtlMs(config.monitorIntervalMs)} ms with REINS_MONITOR_INTERVAL_MS=${config.monitorIntervalMs}: an agent's lease must outlast one monitor tick, or every agent is stopped soon after it starts, got "${config.heartbeatTtlMs}"`,
    },
  ]);
}
