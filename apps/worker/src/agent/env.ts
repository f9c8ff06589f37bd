/** Variables every agent gets from the worker's environment: enough to find programs and read text. */
const BASELINE = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'] as const;

/** The worker's baseline variables; nothing else of its environment reaches an agent. */
export function baselineEnv(workerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BASELINE) {
    const value = workerEnv[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return env;
}

/** API settings a claude agent inherits from its worker: ANTHROPIC_*, CLAUDE_CODE_* and API_TIMEOUT_MS. */
export function claudePassthroughEnv(workerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(workerEnv)) {
    if (value === undefined) continue;
    if (name.startsWith('ANTHROPIC_') || name.startsWith('CLAUDE_CODE_') || name === 'API_TIMEOUT_MS') env[name] = value;
  }
  return env;
}

/** What reins tells every agent about itself; `reins checkpoint` and the heartbeat hook read these. */
export interface AgentIdentity {
  runId: string;
  member: string;
  workspace: string;
  attempt: number;
  /** This attempt's fencing token: writes from a superseded attempt are refused. */
  epoch: number;
  jobId: string;
  redisUrl: string;
  prefix: string;
  heartbeatTtlMs: number;
  /** Holds `reins` and `reins-hook`; put first on the agent's PATH. */
  binDir: string;
}

export function identityEnv(id: AgentIdentity): Record<string, string> {
  return {
    REINS_RUN_ID: id.runId,
    REINS_MEMBER: id.member,
    REINS_WORKSPACE: id.workspace,
    REINS_ATTEMPT: String(id.attempt),
    REINS_EPOCH: String(id.epoch),
    REINS_JOB_ID: id.jobId,
    REINS_REDIS_URL: id.redisUrl,
    REINS_PREFIX: id.prefix,
    REINS_HEARTBEAT_TTL_MS: String(id.heartbeatTtlMs),
  };
}

/** PATH with the reins bin folder first, so `reins checkpoint` works inside the agent. */
export function withBinDir(env: Record<string, string>, binDir: string): Record<string, string> {
  return { ...env, PATH: `${binDir}:${env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}` };
}
