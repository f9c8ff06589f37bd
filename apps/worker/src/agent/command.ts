import type { CommandAgent } from '@reins/shared';
import { baselineEnv, identityEnv, withBinDir, type AgentIdentity } from './env.js';
import type { AgentInvocation } from './invocation.js';

export interface CommandInvocationInput {
  agent: CommandAgent;
  prompt: string;
  home: string;
  identity: AgentIdentity;
  workerEnv: NodeJS.ProcessEnv;
  /** The member's last checkpoint, as JSON, for REINS_CURSOR. */
  cursorJson: string | undefined;
}

/**
 * Any program, as argv. It learns its task from REINS_PROMPT and, on a later attempt, where the last one
 * got to from REINS_CURSOR; success is exit 0.
 */
export function commandInvocation(input: CommandInvocationInput): AgentInvocation {
  const env: Record<string, string> = withBinDir(
    {
      ...baselineEnv(input.workerEnv),
      ...input.agent.env,
      ...identityEnv(input.identity),
      HOME: input.home,
      REINS_PROMPT: input.prompt,
    },
    input.identity.binDir,
  );
  if (input.cursorJson !== undefined) env.REINS_CURSOR = input.cursorJson;
  return { argv: [...input.agent.argv], env };
}
