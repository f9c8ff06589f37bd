import { identityEnv as sharedIdentityEnv, type AgentIdentity as SharedIdentity } from '@reins/shared';

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

/** The variables that are an account's (accounts.ts): they come from the chosen account, never from the worker. */
const ACCOUNT_VARS = new Set(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN']);

/**
 * API settings a claude agent inherits from its worker: ANTHROPIC_*, CLAUDE_CODE_* and API_TIMEOUT_MS, except
 * the credentials, which are the chosen account's.
 */
export function claudePassthroughEnv(workerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(workerEnv)) {
    if (value === undefined || ACCOUNT_VARS.has(name)) continue;
    if (name.startsWith('ANTHROPIC_') || name.startsWith('CLAUDE_CODE_') || name === 'API_TIMEOUT_MS') env[name] = value;
  }
  return env;
}

/** What reins tells an agent about itself (see protocol/agent-identity.ts), and where its reins programs are. */
export interface AgentIdentity extends SharedIdentity {
  /** Holds `reins` and `reins-hook`; put first on the agent's PATH. */
  binDir: string;
}

export const identityEnv = (id: AgentIdentity): Record<string, string> => sharedIdentityEnv(id);

/** PATH with the reins bin folder first, so `reins checkpoint` works inside the agent. */
export function withBinDir(env: Record<string, string>, binDir: string): Record<string, string> {
  return { ...env, PATH: `${binDir}:${env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}` };
}
