import { setTimeout as sleep } from 'node:timers/promises';
import { addJob, isFinalRunStatus, loadHarnessFile, newRunId, type RunView } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext, QUEUES } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { renderRun } from '../render.js';
import { lookupRun } from '../run-lookup.js';

export const SUBMIT_HELP = `Usage: reins submit FILE [--wait] [--json]

Validates a harness file and submits it; prints the run id.
  --wait   follow the run to its end; exit 0 if it succeeded, 1 if not
  --json   print the run as one JSON object`;

export async function submit(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('submit', argv, { wait: { type: 'boolean' }, json: { type: 'boolean' } }, { min: 1, max: 1, names: 'one harness FILE' });
  if (values.help) return help(SUBMIT_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    // Everything about the harness is checked before Redis is touched: a bad spec enqueues nothing.
    const harness = await loadHarnessFile(positionals[0]!, { skillsDirs: [ctx.config.skillsDir] });
    const runId = newRunId();
    await addJob(
      await ctx.queue(QUEUES.control),
      'run.submit',
      {
        runId,
        source: harness.source,
        spec: harness.spec,
        ...(harness.workdir ? { workdir: harness.workdir } : {}),
        skillDirs: harness.skillDirs,
        submittedAt: Date.now(),
      },
      { jobId: runId },
    );
    if (!values.wait) {
      if (values.json) {
        const view: RunView = { runId, status: 'queued', members: harness.spec.team.map((m) => ({ name: m.name, status: 'pending', attempts: 0, workspace: null })) };
        console.log(JSON.stringify(view));
      } else console.log(runId);
      return EXIT.ok;
    }
    if (!values.json) console.error(`submitted ${runId}; following it (Ctrl-C stops following, not the run)`);
    return await follow(ctx, runId, { json: Boolean(values.json) });
  } finally {
    await ctx.close();
  }
}

/** Polls the run until it ends, telling people about each member's change on stderr. */
export async function follow(ctx: CliContext, runId: string, options: { json: boolean; pollMs?: number }): Promise<ExitCode> {
  const seen = new Map<string, string>();
  for (;;) {
    const snapshot = await lookupRun(ctx, runId);
    if (!options.json) {
      for (const m of snapshot.view.members) {
        const line = `${m.status}${m.attempts > 1 ? ` (attempt ${m.attempts})` : ''}`;
        if (seen.get(m.name) !== line && !(m.status === 'pending' && !seen.has(m.name))) {
          console.error(`  ${m.name}: ${line}${m.error && m.status !== 'running' ? ` — ${m.error}` : ''}`);
        }
        seen.set(m.name, line);
      }
    }
    if (isFinalRunStatus(snapshot.view.status)) {
      if (options.json) console.log(JSON.stringify(snapshot.view));
      else if (snapshot.run) console.log(renderRun(snapshot.run, snapshot.members, snapshot.attempts));
      return snapshot.view.status === 'succeeded' ? EXIT.ok : EXIT.failed;
    }
    await sleep(options.pollMs ?? 300);
  }
}

export function help(text: string): ExitCode {
  console.log(text);
  return EXIT.ok;
}
