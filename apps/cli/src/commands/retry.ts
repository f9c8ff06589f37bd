import { access } from 'node:fs/promises';
import {
  Budgets,
  RetryRefusedError,
  RunSecrets,
  UsageError,
  escapeControlChars,
  limitChanges,
  loadHarnessFile,
  retryRun,
  secretNames,
  secretsForRetry,
  terminalJson,
  type Limits,
  type ResolvedHarness,
  type RunRecord,
} from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const RETRY_HELP = `Usage: reins retry RUN [MEMBER] [--run-budget-usd N] [--run-max-tokens N] [--json]

Retries a failed or cancelled run from where its members stopped: every member that failed, was
skipped or was cancelled goes back to pending, and the scheduler releases them as their dependencies
succeed. Each resumes from its cursor (its last checkpoint), with a fresh budget of attempts; attempt
history is kept. With MEMBER, only that member (failed or cancelled) and the dependants that never ran
because of it. Refused (exit 1) while the run is still running, or when it succeeded.
The harness file the run was submitted from is read again: its limits (budgets in dollars and tokens,
timeouts, turns) apply from now on, so raising limits.runMaxTokens there continues a run that ended
budget_exhausted (an invalid file is refused, exit 2; a file that is gone leaves the run's limits as they
were). A run's agent.env values are deleted when it ends: they are read again from that file too
(refused when it no longer sets them).
  --run-budget-usd N   set the run's budget in US dollars first (over the file's limits.runBudgetUsd)
  --run-max-tokens N   set the run's budget in tokens first (over the file's limits.runMaxTokens)
  --json               {runId, status, members: [names retried], limits? (when they changed)}`;

export async function retry(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('retry', argv, { json: { type: 'boolean' }, 'run-budget-usd': { type: 'string' }, 'run-max-tokens': { type: 'string' } }, { min: 1, max: 2, names: 'RUN [MEMBER]' });
  if (values.help) return help(RETRY_HELP);
  const [runId, member] = positionals as [string, string | undefined];
  const budgetUsd = flagNumber(values['run-budget-usd'], '--run-budget-usd', 'an amount in US dollars above 0', (n) => n > 0);
  const maxTokens = flagNumber(values['run-max-tokens'], '--run-max-tokens', 'a whole number of tokens, 1 or more', (n) => Number.isSafeInteger(n) && n >= 1);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const run = await (await ctx.store()).requireRun(runId);
    const harness = await harnessAgain(ctx, run);
    const limits: Limits = {
      ...(harness ? harness.spec.limits : run.spec.limits),
      ...(budgetUsd !== undefined ? { runBudgetUsd: budgetUsd } : {}),
      ...(maxTokens !== undefined ? { runMaxTokens: maxTokens } : {}),
    };
    // The run's dollar cap lives with its reservations (Budgets), where the first one set it.
    if (budgetUsd !== undefined || limits.runBudgetUsd !== run.spec.limits?.runBudgetUsd) await new Budgets(await ctx.redis(), ctx.keys).setRunCap(runId, limits.runBudgetUsd);
    const restored = await restoreSecrets(ctx, run, harness);
    const result = await retryRun(await ctx.redis(), ctx.keys, await ctx.agentQueues(), runId, member, { limits }).catch(async (error: unknown) => {
      // Values stored for a retry that did not happen would outlive the run they belong to.
      if (restored) await new RunSecrets(await ctx.redis(), ctx.keys).delete(runId);
      throw error;
    });
    if (values.json) console.log(terminalJson(result));
    else {
      console.log(escapeControlChars(`retrying ${result.members.join(', ')} of run ${runId} from their cursors; the run is ${result.status} again`));
      if (result.limits) console.log(escapeControlChars(`limits from now on: ${limitChanges(run.spec.limits ?? {}, result.limits).join(', ')}`));
      console.error(`follow it with: reins status ${runId} --watch`);
    }
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function flagNumber(raw: string | undefined, flag: string, expected: string, valid: (n: number) => boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || !valid(value)) throw new UsageError(`reins retry: expected ${flag} to be ${expected}, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * The run's harness file, read and checked again; undefined (said on stderr) when it is no longer there to
 * read, so the run keeps what it had. A file that is there but invalid is refused as `reins submit` would
 * (SpecError, exit 2): a limit someone raised and mistyped must not pass for the old one.
 */
async function harnessAgain(ctx: CliContext, run: RunRecord): Promise<ResolvedHarness | undefined> {
  const gone = await access(run.source).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => error.code ?? error.message,
  );
  if (gone !== undefined) {
    console.error(escapeControlChars(`reins retry: the harness file ${run.source} cannot be read (${gone}); the run keeps its limits`));
    return undefined;
  }
  return loadHarnessFile(run.source, { skillsDirs: [ctx.config.skillsDir] });
}

/**
 * A run's agent.env values are deleted when it ends (they live apart from its jobs, RunSecrets). A retry
 * reads them again from the harness file the run was submitted from, if every name is still there; it never
 * starts an agent with the placeholder. True when it stored them.
 */
async function restoreSecrets(ctx: CliContext, run: RunRecord, harness: ResolvedHarness | undefined): Promise<boolean> {
  const names = Object.values(secretNames(run.spec)).flat();
  const secrets = new RunSecrets(await ctx.redis(), ctx.keys);
  if (names.length === 0 || (await secrets.exists(run.runId))) return false;
  const refuse = (why: string) => new RetryRefusedError(`run ${run.runId}'s agent.env values (${[...new Set(names)].join(', ')}) were deleted when it ended, and ${why}: submit the harness again`);
  if (!harness) throw refuse('its harness file could not be read again');
  const { secrets: values, missing } = secretsForRetry(run.spec, harness.spec);
  if (missing.length > 0) throw refuse(`${run.source} no longer sets ${missing.join(', ')}`);
  await secrets.put(run.runId, values);
  return true;
}
