import { UsageError, readAgentIdentity } from '@reins/shared';
import { RefusedByWorker, askOwnWorker } from '../agent-identity.js';
import { parseCommandArgs } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const CHECKPOINT_HELP = `Usage: reins checkpoint --data '<json>'

Inside an agent: saves JSON of your own into your member's cursor. If this attempt is interrupted, the
next one starts with it (claude agents in their prompt, command agents in REINS_CURSOR). Each call
replaces the data saved before. It asks the agent's worker, through the REINS_* variables the worker sets.`;

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
  const agent = readAgentIdentity(process.env);
  if (!agent) throw new UsageError('reins checkpoint: run it inside a reins agent (REINS_SOCKET and the other REINS_* variables are set by the worker)');
  try {
    // The worker fences it by the attempt's epoch: a superseded agent cannot overwrite the newer attempt's cursor.
    await askOwnWorker('checkpoint', { via: 'worker', socket: agent.socket, token: agent.token, runId: agent.runId, member: agent.member }, { op: 'checkpoint', data });
    console.error(`checkpoint saved for ${agent.member}`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof RefusedByWorker)) throw error;
    console.error(error.message);
    return EXIT.failed;
  }
}
