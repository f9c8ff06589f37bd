import { AgentIdentityEnvSchema, UsageError } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const CHECKPOINT_HELP = `Usage: reins checkpoint --data '<json>'

Inside an agent: saves JSON of your own into your member's cursor. If this attempt is interrupted, the
next one starts with it (claude agents in their prompt, command agents in REINS_CURSOR). Each call
replaces the data saved before. Works through the REINS_* variables the worker sets.`;

/** What `reins checkpoint` needs of the identity the worker gave the agent (protocol/agent-identity.ts). */
const CheckpointIdentitySchema = AgentIdentityEnvSchema.pick({ REINS_RUN_ID: true, REINS_MEMBER: true, REINS_EPOCH: true }).extend({ REINS_ATTEMPT: AgentIdentityEnvSchema.shape.REINS_ATTEMPT.catch(0) });

/** Reads the identity the worker gave the agent; outside an agent this is a usage error. */
function agentIdentity(): { runId: string; member: string; epoch: number; attempt: number } {
  const parsed = CheckpointIdentitySchema.safeParse(process.env);
  if (!parsed.success) {
    throw new UsageError(`reins checkpoint: run it inside a reins agent (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')} not set as the worker sets them)`);
  }
  const e = parsed.data;
  return { runId: e.REINS_RUN_ID, member: e.REINS_MEMBER, epoch: e.REINS_EPOCH, attempt: e.REINS_ATTEMPT };
}

export async function checkpoint(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('checkpoint', argv, { data: { type: 'string' } }, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(CHECKPOINT_HELP);
  if (values.data === undefined) throw new UsageError(`reins checkpoint: expected --data '<json>'`);
  let data: unknown;
  try {
    data = JSON.parse(values.data);
  } catch (error) {
    throw new UsageError(`reins checkpoint: expected --data to be JSON, got ${JSON.stringify(values.data.slice(0, 80))} (${(error as Error).message})`);
  }
  const id = agentIdentity();
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    // Fenced by the attempt's epoch: a superseded agent cannot overwrite the newer attempt's cursor.
    await (await ctx.store()).writeCursor(id.runId, id.member, id.epoch, { data, at: Date.now(), attempt: id.attempt });
    console.error(`checkpoint saved for ${id.member}`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
