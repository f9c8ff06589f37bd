import type { CommandAgent } from '@reins/shared';
import { baselineEnv, identityEnv, type AgentIdentity } from './env.js';
import type { AgentInvocation } from './invocation.js';

export interface CommandInvocationInput {
  agent: CommandAgent;
  prompt: string;
  home: string;
  identity: AgentIdentity;
  workerEnv: NodeJS.ProcessEnv;
}

/** Any program, as argv. It learns its task from REINS_PROMPT; success is exit 0. */
export function commandInvocation(input: CommandInvocationInput): AgentInvocation {
  const env: Record<string, string> = {
    ...baselineEnv(input.workerEnv),
    ...input.agent.env,
    ...identityEnv(input.identity),
    HOME: input.home,
    REINS_PROMPT: input.prompt,
  };
  return { argv: [...input.agent.argv], env };
}
