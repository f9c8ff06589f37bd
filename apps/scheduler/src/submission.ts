import { PLANNER_MEMBER, agentJobId, escapeControlChars, isRunId, newRunId, renderIssues, type InputIssue, type ParsedJobData, type RunRecord } from '@reins/shared';

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

/** A refused submission as RunStore.recordRefusal takes it. */
export interface Refusal {
  runId: string;
  name: string;
  source: string;
  createdAt: number;
  refusal: string;
}

/** The longest line of a refusal: an archive's entry path, say, comes from whoever added the job. */
const MAX_REFUSAL_LINE_CHARS = 300;

/**
 * The record of a submission the checks refused. Everything in it came from whoever added the job, so it is
 * taken only where well-formed, capped and escaped: the run id it claims (a fresh one when that is not a run
 * id), its name, its source, and the issues (at most 20, then how many more). Its time is the queue's.
 */
export function refusalOf(data: unknown, issues: readonly InputIssue[], addedAt: number): Refusal {
  const fields = data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : {};
  const spec = fields.spec !== null && typeof fields.spec === 'object' ? (fields.spec as Record<string, unknown>) : {};
  const clip = (text: string) => {
    const safe = escapeControlChars(text);
    return safe.length > MAX_REFUSAL_LINE_CHARS ? `${safe.slice(0, MAX_REFUSAL_LINE_CHARS - 1)}…` : safe;
  };
  return {
    runId: isRunId(fields.runId) ? fields.runId : newRunId(addedAt),
    name: typeof spec.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/.test(spec.name) ? spec.name : '(unnamed)',
    source: typeof fields.source === 'string' ? clip(fields.source) : '(not given)',
    createdAt: addedAt,
    refusal: renderIssues(issues.map((i) => ({ path: clip(i.path), message: clip(i.message) })))
      .split('\n')
      .map((line) => line.replace(/^ {2}(- )?/, ''))
      .join('\n'),
  };
}
