import { UsageError } from '@reins/shared';

/**
 * Who is speaking: inside an agent the worker sets REINS_RUN_ID and REINS_MEMBER; a person gives
 * --run and --as instead (flags win).
 */
export function speaker(command: string, values: { run?: string | undefined; as?: string | undefined }): { runId: string; member: string } {
  const runId = values.run ?? process.env.REINS_RUN_ID;
  const member = values.as ?? process.env.REINS_MEMBER;
  if (!runId || !member) {
    throw new UsageError(`reins ${command}: say which run and member: run it inside a reins agent, or pass --run RUN --as MEMBER`);
  }
  return { runId, member };
}
