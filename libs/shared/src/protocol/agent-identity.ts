import { z } from 'zod';

/**
 * What reins tells every agent about itself, in its environment. The worker writes it; the heartbeat hook
 * and the in-agent `reins task|msg|checkpoint` commands read it back through this schema.
 */
export const AgentIdentityEnvSchema = z.object({
  REINS_RUN_ID: z.string().min(1),
  REINS_MEMBER: z.string().min(1),
  REINS_WORKSPACE: z.string().min(1),
  REINS_ATTEMPT: z.coerce.number().int().positive(),
  /** This attempt's fencing token: writes from a superseded attempt are refused. */
  REINS_EPOCH: z.coerce.number().int().positive(),
  REINS_JOB_ID: z.string().min(1),
  /** The attempt's socket to its worker (attempt/agent-socket.ts in the worker): the agent's only way to reins. */
  REINS_SOCKET: z.string().min(1),
  /** Proves to the worker that the caller is this attempt's agent. */
  REINS_TOKEN: z.string().min(1),
});
export type AgentIdentityEnv = z.infer<typeof AgentIdentityEnvSchema>;

export interface AgentIdentity {
  runId: string;
  member: string;
  workspace: string;
  attempt: number;
  epoch: number;
  jobId: string;
  socket: string;
  token: string;
}

export function identityEnv(id: AgentIdentity): Record<keyof AgentIdentityEnv, string> {
  return {
    REINS_RUN_ID: id.runId,
    REINS_MEMBER: id.member,
    REINS_WORKSPACE: id.workspace,
    REINS_ATTEMPT: String(id.attempt),
    REINS_EPOCH: String(id.epoch),
    REINS_JOB_ID: id.jobId,
    REINS_SOCKET: id.socket,
    REINS_TOKEN: id.token,
  };
}

/** The identity of the agent this process runs in, or undefined outside an agent (or with a damaged environment). */
export function readAgentIdentity(env: NodeJS.ProcessEnv): AgentIdentity | undefined {
  const parsed = AgentIdentityEnvSchema.safeParse(env);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  return {
    runId: e.REINS_RUN_ID,
    member: e.REINS_MEMBER,
    workspace: e.REINS_WORKSPACE,
    attempt: e.REINS_ATTEMPT,
    epoch: e.REINS_EPOCH,
    jobId: e.REINS_JOB_ID,
    socket: e.REINS_SOCKET,
    token: e.REINS_TOKEN,
  };
}
