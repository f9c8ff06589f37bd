import { PLANNER_MEMBER, agentJobId, type ParsedJobData, type RunRecord } from '@reins/shared';

/** A new run's record and its first members, as RunStore.createRun takes them. */
export interface NewRun {
  run: Omit<RunRecord, 'status' | 'cancelled'>;
  members: { name: string; dependsOn: string[]; jobId: string }[];
}

/** The run a submission asks for. A planned run starts with the planner alone; its team joins once the plan is in. */
export function runFromSubmission(data: ParsedJobData<'run.submit'>): NewRun {
  const { spec } = data;
  const members = spec.plan === 'auto' ? [{ name: PLANNER_MEMBER, depends_on: [] as string[] }] : (spec.team ?? []);
  return {
    run: {
      runId: data.runId,
      name: spec.name,
      goal: spec.goal ?? spec.name,
      source: data.source,
      spec,
      members: members.map((m) => m.name),
      ...(data.workdir ? { workdir: data.workdir } : {}),
      skills: data.skills,
      ...(data.planOnly ? { planOnly: true } : {}),
      ...(data.baseCommit ? { baseCommit: data.baseCommit } : {}),
      createdAt: data.submittedAt,
    },
    members: members.map((m) => ({ name: m.name, dependsOn: m.depends_on ?? [], jobId: agentJobId(data.runId, m.name) })),
  };
}
