import { RUN_STATUSES, UsageError, escapeControlChars, formatAge, formatCostUsd, formatDuration, terminalJson, totalCostUsd, type RunStatus } from '@reins/shared';
import { flagOverrides, intFlag, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { paint, table } from '../render.js';
import { listRuns } from '../run-list.js';
import { help } from './submit.js';

export const RUNS_HELP = `Usage: reins runs [--status S] [--limit N] [--json]

Lists recent runs, newest first: status, members succeeded, cost, age and duration; under them, each
refused submission's first issue.
  --status S   only runs with this status: ${RUN_STATUSES.join(', ')}
  --limit N    at most N runs (default 20, at most 1000)
  --json       one JSON object: {runs: [{runId, name, status, createdAt, startedAt?, endedAt?, costUsd, refusal?, members: [{name, status, attempts}]}]}`;

/** A refusal's first issue, and how many lines more it has. */
function firstLine(refusal: string): string {
  const lines = refusal.split('\n');
  return lines.length > 1 ? `${lines[0]} (+${lines.length - 1} more)` : lines[0]!;
}

export async function runs(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('runs', argv, { status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(RUNS_HELP);
  const status = values.status;
  if (status !== undefined && !RUN_STATUSES.includes(status as RunStatus)) {
    throw new UsageError(`reins runs: expected --status to be one of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  }
  const limit = intFlag('runs', 'limit', values.limit, { min: 1, max: 1_000, default: 20 });
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const listed = await listRuns(ctx, { limit, ...(status ? { status: status as RunStatus } : {}) });
    const now = Date.now();
    if (values.json) {
      const rows = listed.map(({ head, members }) => ({
        runId: head.runId,
        name: head.name,
        status: head.status,
        createdAt: head.createdAt,
        ...(head.startedAt !== undefined ? { startedAt: head.startedAt } : {}),
        ...(head.endedAt !== undefined ? { endedAt: head.endedAt } : {}),
        costUsd: totalCostUsd(members) ?? 0,
        ...(head.refusal !== undefined ? { refusal: head.refusal } : {}),
        members: members.map((m) => ({ name: m.name, status: m.status, attempts: m.attempts })),
      }));
      console.log(terminalJson({ runs: rows }));
      return EXIT.ok;
    }
    if (listed.length === 0) {
      console.error(status ? `no ${status} runs` : 'no runs yet; submit one with `reins submit FILE`');
      return EXIT.ok;
    }
    console.log(
      table([
        ['RUN', 'NAME', 'STATUS', 'SUCCEEDED', 'COST', 'CREATED', 'TIME'],
        ...listed.map(({ head, members }) => [
          escapeControlChars(head.runId),
          escapeControlChars(head.name),
          paint(head.status),
          head.refusal !== undefined ? '-' : `${members.filter((m) => m.status === 'succeeded').length}/${members.length}`,
          formatCostUsd(totalCostUsd(members)),
          formatAge(now - head.createdAt),
          head.startedAt ? formatDuration((head.endedAt ?? now) - head.startedAt) : '-',
        ]),
      ]),
    );
    const refused = listed.filter(({ head }) => head.refusal !== undefined);
    if (refused.length > 0)
      console.log(['', 'refused (`reins status RUN` shows every issue):', ...refused.map(({ head }) => `  ${escapeControlChars(head.runId)}  ${escapeControlChars(firstLine(head.refusal!))}`)].join('\n'));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
