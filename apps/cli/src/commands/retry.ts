import { Budgets, UsageError, retryRun } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const RETRY_HELP = `Usage: reins retry RUN [MEMBER] [--run-budget-usd N] [--json]

Retries a failed or cancelled run from where its members stopped: every member that failed, was
skipped or was cancelled goes back to pending, and the scheduler releases them as their dependencies
succeed. Each resumes from its cursor (its last checkpoint), with a fresh budget of attempts; attempt
history is kept. With MEMBER, only that member (failed or cancelled) and the dependants that never ran
because of it. Refused (exit 1) while the run is still running, or when it succeeded.
  --run-budget-usd N   raise the run's budget first (a run that ended budget_exhausted continues)
  --json               {runId, status, members: [names retried]}`;

export async function retry(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('retry', argv, { json: { type: 'boolean' }, 'run-budget-usd': { type: 'string' } }, { min: 1, max: 2, names: 'RUN [MEMBER]' });
  if (values.help) return help(RETRY_HELP);
  const [runId, member] = positionals as [string, string | undefined];
  const raise = values['run-budget-usd'];
  const budgetUsd = raise === undefined ? undefined : Number(raise);
  if (budgetUsd !== undefined && !(Number.isFinite(budgetUsd) && budgetUsd > 0)) {
    throw new UsageError(`reins retry: expected --run-budget-usd to be an amount in US dollars above 0, got ${JSON.stringify(raise)}`);
  }
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    if (budgetUsd !== undefined) {
      await (await ctx.store()).requireRun(runId);
      await new Budgets(await ctx.redis(), ctx.keys).setRunCap(runId, budgetUsd);
    }
    const result = await retryRun(await ctx.redis(), ctx.keys, await ctx.agentQueues(), runId, member);
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`retrying ${result.members.join(', ')} of run ${runId} from their cursors; the run is ${result.status} again`);
      console.error(`follow it with: reins status ${runId} --watch`);
    }
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
