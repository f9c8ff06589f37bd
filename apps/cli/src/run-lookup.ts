import { NotFoundError, PLANNER_MEMBER, toRunView, type AttemptRecord, type MemberRecord, type RunRecord, type RunView } from '@reins/shared';
import type { CliContext } from './context.js';
import { QUEUES } from './context.js';

export interface RunSnapshot {
  view: RunView;
  run: RunRecord | undefined;
  members: MemberRecord[];
  /** Each member's ended attempts, oldest first. */
  attempts: Map<string, AttemptRecord[]>;
}

/**
 * A run as the CLI shows it. Between `submit` and the scheduler taking the submission, the run exists
 * only as a job on the control queue; it is shown as queued, with every member pending.
 */
export async function lookupRun(ctx: CliContext, runId: string): Promise<RunSnapshot> {
  const store = await ctx.store();
  const run = await store.getRun(runId);
  if (run) {
    const members = await store.getMembers(run);
    const attempts = new Map(await Promise.all(members.map(async (m) => [m.name, await store.readAttempts(runId, m.name)] as const)));
    return { view: toRunView(run, members), run, members, attempts };
  }
  const job = await (await ctx.queue(QUEUES.control, { readOnly: true })).getJob(runId);
  // A planned run (plan: auto) has no team yet: its planner is its one member until the plan is in.
  const spec = (job?.data as { spec?: { team?: { name: string }[]; plan?: string } } | undefined)?.spec;
  const team = spec?.team ?? (spec?.plan === 'auto' ? [{ name: PLANNER_MEMBER }] : undefined);
  if (!job || !team) throw new NotFoundError(`no run with id ${JSON.stringify(runId)}`);
  return {
    view: { runId, status: 'queued', members: team.map((m) => ({ name: m.name, status: 'pending', attempts: 0, workspace: null })) },
    run: undefined,
    members: [],
    attempts: new Map(),
  };
}
