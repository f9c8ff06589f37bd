import {
  FleetReader,
  PLANNER_MEMBER,
  RunFiles,
  RunSecrets,
  SECRETS_UNCLAIMED_TTL_MS,
  UsageError,
  addJob,
  escapeControlChars,
  isFinalRunStatus,
  loadHarnessFile,
  newRunId,
  packSkills,
  requireSubmission,
  submissionOf,
  terminalJson,
  type RunView,
} from '@reins/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { accountWarnings } from '../account-check.js';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext, QUEUES } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { watchRun } from '../run-watch.js';
import { renderTeam } from '../team-render.js';

export const SUBMIT_HELP = `Usage: reins submit FILE [--wait] [--json] [--plan-only]

Validates a harness file and submits it; prints the run id.
  --wait        follow the run to its end (a live table on a terminal); exit 0 if it succeeded, 1 if not
  --json        print the run as one JSON object
  --plan-only   with plan: auto, run only the planner through the fleet and print the team it proposes`;

export async function submit(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('submit', argv, { wait: { type: 'boolean' }, json: { type: 'boolean' }, 'plan-only': { type: 'boolean' } }, { min: 1, max: 1, names: 'one harness FILE' });
  if (values.help) return help(SUBMIT_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    // Everything about the harness is checked before Redis is touched: a bad spec enqueues nothing.
    const harness = await loadHarnessFile(positionals[0]!, { skillsDirs: [ctx.config.skillsDir] });
    const planOnly = Boolean(values['plan-only']);
    if (planOnly && harness.spec.plan !== 'auto') throw new UsageError(`reins submit --plan-only: ${positionals[0]} has an explicit team; planning needs plan: auto and a goal`);
    // Skills travel by value: measured and checked against their caps, then packed, still before Redis.
    const packedSkills = await packSkills(harness.source, harness.skills, ctx.config);
    const runId = newRunId();
    // agent.env values go apart from the job, which Bull Board shows: the job carries their names only.
    const { data, secrets } = submissionOf(harness, runId, { planOnly });
    // The scheduler checks every submission it takes with this same function; here it runs before Redis.
    const submission = await requireSubmission(harness.source, data, packedSkills, ctx.config);
    // The skills are in Redis before the run exists, so no worker can look for them too early.
    await new RunFiles(await ctx.redis(), ctx.keys).putSkills(runId, packedSkills);
    await new RunSecrets(await ctx.redis(), ctx.keys).put(runId, secrets, { unclaimedTtlMs: SECRETS_UNCLAIMED_TTL_MS });
    await addJob(await ctx.queue(QUEUES.control), 'run.submit', submission, { jobId: runId });
    // Submitted all the same: a worker holding the account may start later.
    for (const warning of accountWarnings(harness.spec, await new FleetReader(await ctx.redis(), ctx.keys).liveWorkers())) console.error(escapeControlChars(`reins submit: warning: ${warning}`));
    if (planOnly) return await printPlan(ctx, runId, Boolean(values.json));
    if (!values.wait) {
      if (values.json) {
        const view: RunView = { runId, status: 'queued', members: (harness.spec.team ?? [{ name: PLANNER_MEMBER }]).map((m) => ({ name: m.name, status: 'pending', attempts: 0, workspace: null })) };
        console.log(terminalJson(view));
      } else console.log(runId);
      return EXIT.ok;
    }
    if (!values.json) console.error(`submitted ${runId}; following it (Ctrl-C stops following, not the run)`);
    return await follow(ctx, runId, { json: Boolean(values.json) });
  } finally {
    await ctx.close();
  }
}

/** Waits for a plan-only run and prints the planner's team (YAML for people, or JSON). */
async function printPlan(ctx: CliContext, runId: string, json: boolean): Promise<ExitCode> {
  const store = await ctx.store();
  for (;;) {
    const run = await store.getRun(runId);
    if (run && isFinalRunStatus(run.status)) {
      const planner = await store.getMember(runId, PLANNER_MEMBER);
      if (run.status !== 'succeeded' || !planner?.plan) {
        console.error(escapeControlChars(`reins submit --plan-only: the planner ${run.status}${planner?.error ? `: ${planner.error}` : ''}`));
        return EXIT.failed;
      }
      const team = JSON.parse(planner.plan) as unknown;
      console.log(json ? terminalJson({ runId, team }) : renderTeam(team).trimEnd());
      return EXIT.ok;
    }
    await sleep(250);
  }
}

/**
 * Follows the run to its end. Progress goes to stderr: on a terminal, the live table (also with --json,
 * whose stdout stays one JSON object); elsewhere a line per member change, and nothing with --json.
 */
export async function follow(ctx: CliContext, runId: string, options: { json: boolean; pollMs?: number }): Promise<ExitCode> {
  const progress = options.json && !process.stderr.isTTY ? 'none' : process.stderr;
  return watchRun(ctx, runId, { progress, result: process.stdout, format: options.json ? 'json-final' : 'table', ...(options.pollMs ? { pollMs: options.pollMs } : {}) });
}

export function help(text: string): ExitCode {
  console.log(text);
  return EXIT.ok;
}
