import { terminalJson } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { renderRun } from '../render.js';
import { lookupRun } from '../run-lookup.js';
import { watchRun } from '../run-watch.js';
import { help } from './submit.js';

export const STATUS_HELP = `Usage: reins status RUN [--watch] [--json]

Shows a run and its members; exit 1 if the run failed, was cancelled or was refused. When members depend on each
other, the team comes first as a tree: each member under its first dependency, "(also after …)" for
the others, and "◀" with why on the running and waiting ones. Colours only on a terminal, and never
with NO_COLOR.
  --watch   follow the run until it ends, then exit as above. On a terminal: a live table (state, attempt,
            heartbeat age, cost, last event per member) redrawn in place, replaced by the final status at
            the end. Elsewhere: a line per member change, then the final status.
  --json    the run as one JSON object; with --watch, one object per line each time it changes (the
            last line is the final state)`;

const FAILED_STATUSES: ReadonlySet<string> = new Set(['failed', 'cancelled', 'budget_exhausted', 'refused']);

export async function status(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('status', argv, { json: { type: 'boolean' }, watch: { type: 'boolean', short: 'w' } }, { min: 1, max: 1, names: 'one RUN id' });
  if (values.help) return help(STATUS_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    if (values.watch) {
      return await watchRun(ctx, positionals[0]!, values.json ? { progress: 'none', result: process.stdout, format: 'json-lines' } : { progress: process.stdout, result: process.stdout, format: 'table' });
    }
    const snapshot = await lookupRun(ctx, positionals[0]!);
    if (values.json) console.log(terminalJson(snapshot.view));
    else if (snapshot.run) console.log(renderRun(snapshot.run, snapshot.members, snapshot.attempts));
    else console.log(`run ${snapshot.view.runId}: queued (waiting for the scheduler)`);
    return FAILED_STATUSES.has(snapshot.view.status) ? EXIT.failed : EXIT.ok;
  } finally {
    await ctx.close();
  }
}
