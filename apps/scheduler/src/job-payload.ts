import type { JobsOptions } from 'bullmq';
import { BACKOFF_TYPE, PLANNER_MEMBER, QUEUES, planningPrompt, type AgentJobInput, type MemberRecord, type RunRecord } from '@reins/shared';

/** A skill the planner may hand out, with what it is for. */
export interface SkillChoice {
  name: string;
  description: string;
}

/** An agent job ready to add: the queue it goes on, its payload and its BullMQ options. */
export interface AgentJob {
  queue: string;
  data: AgentJobInput;
  opts: JobsOptions;
}

/**
 * The agent job of a member, or of the planner (which gets the goal and the skills to choose from instead
 * of a prompt of its own, their descriptions as the run stored them). Pure: the shell adds the job.
 */
export function buildAgentJob(run: RunRecord, member: Pick<MemberRecord, 'name' | 'jobId' | 'queue'>, options: { defaultAttempts: number }): AgentJob {
  const { spec } = run;
  const team = spec.team ?? [];
  const planner = member.name === PLANNER_MEMBER;
  const entry = team.find((m) => m.name === member.name);
  if (!planner && !entry) throw new Error(`member ${member.name} is not in the spec of run ${run.runId}`);
  const agent = entry?.agent ?? spec.agent;
  const verify = entry?.verify ?? spec.verify;
  // Claude agents share an API account unless the harness names a key of its own.
  const concurrencyKey = spec.concurrency?.key ?? (agent.kind === 'claude' ? 'claude' : undefined);
  const accountsOf = (m: { account?: string | undefined; accounts?: string[] | undefined } | undefined) => (m?.account ? [m.account] : m?.accounts);
  const accounts = accountsOf(entry) ?? accountsOf(spec);
  const availableSkills: SkillChoice[] = Object.entries(run.skills)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, description]) => ({ name, description }));
  const data: AgentJobInput = {
    runId: run.runId,
    runName: spec.name,
    goal: run.goal,
    agent,
    ...(run.workdir ? { workdir: run.workdir } : {}),
    ...(spec.repo ? { repo: { url: spec.repo.url } } : {}),
    ...(run.baseCommit ? { baseCommit: run.baseCommit } : {}),
    team: team.map((m) => ({ name: m.name, dependsOn: m.depends_on ?? [] })),
    limits: spec.limits ?? {},
    ...(accounts && agent.kind === 'claude' ? { accounts } : {}),
    ...(spec.hooks ? { hooks: spec.hooks } : {}),
    ...(planner
      ? { mode: 'plan' as const, member: PLANNER_MEMBER, prompt: planningPrompt(run.goal, availableSkills), skills: [], availableSkills }
      : {
          mode: 'member' as const,
          member: entry!.name,
          prompt: entry!.prompt,
          skills: entry!.skills ?? [],
          ...(verify ? { verify } : {}),
        }),
    ...(concurrencyKey ? { concurrency: { key: concurrencyKey, ...(spec.concurrency?.max ? { max: spec.concurrency.max } : {}) } } : {}),
  };
  return {
    queue: member.queue ?? QUEUES.agent,
    data,
    opts: {
      jobId: member.jobId,
      attempts: spec.retry?.attempts ?? options.defaultAttempts,
      backoff: { type: BACKOFF_TYPE },
      ...(spec.priority ? { priority: spec.priority } : {}),
    },
  };
}
