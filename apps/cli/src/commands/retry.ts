import { Budgets, RetryRefusedError, RunSecrets, UsageError, escapeControlChars, loadHarnessFile, retryRun, secretNames, secretsForRetry, terminalJson } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const RETRY_HELP = `Usage: reins retry RUN [MEMBER] [--run-budget-usd N] [--json]

Retries a failed or cancelled run from where its members stopped: every member that failed, was
skipped or was cancelled goes back to pending, and the scheduler releases them as their dependencies
succeed. Each resumes from its cursor (its last checkpoint), with a fresh budget of attempts; attempt
history is kept. With MEMBER, only that member (failed or cancelled) and the dependants that never ran
because of it. Refused (exit 1) while the run is still running, or when it succeeded. A run's agent.env
values are deleted when it ends: they are read again from the harness file it was submitted from
(refused when that file no longer sets them).
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
    const restored = await restoreSecrets(ctx, runId);
    const result = await retryRun(await ctx.redis(), ctx.keys, await ctx.agentQueues(), runId, member).catch(async (error: unknown) => {
      // Values stored for a retry that did not happen would outlive the run they belong to.
      if (restored) await new RunSecrets(await ctx.redis(), ctx.keys).delete(runId);
      throw error;
    });
    if (values.json) console.log(terminalJson(result));
    else {
      console.log(escapeControlChars(`retrying ${result.members.join(', ')} of run ${runId} from their cursors; the run is ${result.status} again`));
      console.error(`follow it with: reins status ${runId} --watch`);
    }
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

/**
 * A run's agent.env values are deleted when it ends (they live apart from its jobs, RunSecrets). A retry
 * reads them again from the harness file the run was submitted from, if every name is still there; it never
 * starts an agent with the placeholder. True when it stored them.
 */
async function restoreSecrets(ctx: CliContext, runId: string): Promise<boolean> {
  const run = await (await ctx.store()).requireRun(runId);
  const names = Object.values(secretNames(run.spec)).flat();
  const secrets = new RunSecrets(await ctx.redis(), ctx.keys);
  if (names.length === 0 || (await secrets.exists(runId))) return false;
  const refuse = (why: string) => new RetryRefusedError(`run ${runId}'s agent.env values (${[...new Set(names)].join(', ')}) were deleted when it ended, and ${why}: submit the harness again`);
  const harness = await loadHarnessFile(run.source, { skillsDirs: [ctx.config.skillsDir] }).catch((error: unknown) => {
    throw refuse(`its harness file could not be read again (${(error as Error).message.split('\n')[0]})`);
  });
  const { secrets: values, missing } = secretsForRetry(run.spec, harness.spec);
  if (missing.length > 0) throw refuse(`${run.source} no longer sets ${missing.join(', ')}`);
  await secrets.put(runId, values);
  return true;
}
