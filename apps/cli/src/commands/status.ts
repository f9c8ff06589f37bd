import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { renderRun } from '../render.js';
import { lookupRun } from '../run-lookup.js';
import { help } from './submit.js';

export const STATUS_HELP = `Usage: reins status RUN [--json]

Shows a run and its members; exit 1 if the run failed or was cancelled.`;

export async function status(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('status', argv, { json: { type: 'boolean' } }, { min: 1, max: 1, names: 'one RUN id' });
  if (values.help) return help(STATUS_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const snapshot = await lookupRun(ctx, positionals[0]!);
    if (values.json) console.log(JSON.stringify(snapshot.view));
    else if (snapshot.run) console.log(renderRun(snapshot.run, snapshot.members, snapshot.attempts));
    else console.log(`run ${snapshot.view.runId}: queued (waiting for the scheduler)`);
    return snapshot.view.status === 'failed' || snapshot.view.status === 'cancelled' ? EXIT.failed : EXIT.ok;
  } finally {
    await ctx.close();
  }
}
