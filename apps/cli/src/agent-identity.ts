import { NotFoundError, UsageError, WorkerUnreachableError, askWorker, readAgentIdentity, type AgentRequest } from '@reins/shared';

/**
 * Who is speaking. Inside an agent (no --run, --as), its worker: the agent's socket and token, which the
 * worker set in its environment, and through which the worker knows the run and member. A person gives
 * --run and --as instead, and reins goes to Redis as for any other command.
 */
export type Speaker = { via: 'worker'; socket: string; token: string; runId: string; member: string } | { via: 'redis'; runId: string; member: string };

export function speaker(command: string, values: { run?: string | undefined; as?: string | undefined }): Speaker {
  const agent = values.run === undefined && values.as === undefined ? readAgentIdentity(process.env) : undefined;
  if (agent) return { via: 'worker', socket: agent.socket, token: agent.token, runId: agent.runId, member: agent.member };
  if (!values.run || !values.as) {
    throw new UsageError(`reins ${command}: say which run and member: run it inside a reins agent, or pass --run RUN --as MEMBER`);
  }
  return { via: 'redis', runId: values.run, member: values.as };
}

/** A request the worker refused for a reason that is not bad input: a task conflict, a superseded attempt. */
export class RefusedByWorker extends Error {
  override readonly name = 'RefusedByWorker';
}

/** Asks the agent's worker; a refusal becomes the error the same refusal from Redis would have been. */
export async function askOwnWorker(command: string, agent: Extract<Speaker, { via: 'worker' }>, request: AgentRequest): Promise<unknown> {
  let reply: Awaited<ReturnType<typeof askWorker>>;
  try {
    reply = await askWorker(agent.socket, agent.token, request);
  } catch (error) {
    if (error instanceof WorkerUnreachableError) throw new RefusedByWorker(`reins ${command}: ${error.message}`);
    throw error;
  }
  if (reply.ok) return reply.result;
  if (reply.kind === 'bad_request') throw new UsageError(`reins ${command}: ${reply.error}`);
  if (reply.kind === 'not_found') throw new NotFoundError(reply.error);
  throw new RefusedByWorker(`reins ${command}: ${reply.error}`);
}
