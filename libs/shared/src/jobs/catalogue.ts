import { UnrecoverableError, type Job, type JobsOptions, type Queue } from 'bullmq';
import { z } from 'zod';
import { AgentSchema, HarnessSchema, LimitsSchema, MemberNameSchema } from '../spec/harness.js';
import { formatPath, showValue } from '../errors/format.js';

/** The queues reins uses. Each is created under the `{prefix}` BullMQ prefix. */
export const QUEUES = {
  /** One job per member attempt chain; pulled by workers. */
  agent: 'agent',
  /** Run submissions; pulled by the scheduler. */
  control: 'control',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

const RunIdSchema = z.string().regex(/^r-[a-z0-9]{6,32}$/, 'expected a run id like r-mhx1k2f3a9c2');

export const AgentJobDataSchema = z.strictObject({
  runId: RunIdSchema,
  runName: z.string(),
  goal: z.string(),
  member: MemberNameSchema,
  prompt: z.string().min(1),
  agent: AgentSchema,
  /** Absolute; undefined means a fresh directory under the worker's data dir. */
  workdir: z.string().optional(),
  skills: z.array(z.strictObject({ name: z.string(), dir: z.string() })),
  team: z.array(z.strictObject({ name: MemberNameSchema, dependsOn: z.array(MemberNameSchema) })),
  limits: LimitsSchema,
});

export const RunSubmitDataSchema = z.strictObject({
  runId: RunIdSchema,
  source: z.string(),
  spec: HarnessSchema,
  workdir: z.string().optional(),
  skillDirs: z.record(z.string(), z.string()),
  submittedAt: z.number().int(),
});

/** Every job name, its queue and its payload schema. Payloads are checked when added and when processed. */
export const JOB_CATALOGUE = {
  'agent.run': { queue: QUEUES.agent, schema: AgentJobDataSchema },
  'run.submit': { queue: QUEUES.control, schema: RunSubmitDataSchema },
} as const;

export type JobName = keyof typeof JOB_CATALOGUE;
export type JobData<N extends JobName> = z.infer<(typeof JOB_CATALOGUE)[N]['schema']>;
export type AgentJobData = JobData<'agent.run'>;
export type RunSubmitData = JobData<'run.submit'>;

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${formatPath(i.path)}: ${i.message}${'input' in i ? `, got ${showValue(i.input)}` : ''}`).join('; ');
}

/** Validates, then adds. A payload that does not fit its schema never reaches Redis. */
export async function addJob<N extends JobName>(
  queue: Queue,
  name: N,
  data: JobData<N>,
  opts?: JobsOptions,
): Promise<Job> {
  const entry = JOB_CATALOGUE[name];
  if (queue.name !== entry.queue) throw new Error(`job ${name} belongs on queue ${entry.queue}, not ${queue.name}`);
  const parsed = entry.schema.safeParse(data, { reportInput: true });
  if (!parsed.success) throw new Error(`invalid ${name} payload: ${describe(parsed.error)}`);
  return queue.add(name, parsed.data, opts);
}

/** Checks a job taken from a queue. A bad payload can never succeed, so it fails without retries. */
export function parseJob<N extends JobName>(name: N, job: Job): JobData<N> {
  if (job.name !== name) throw new UnrecoverableError(`expected a ${name} job, got ${job.name}`);
  const parsed = JOB_CATALOGUE[name].schema.safeParse(job.data, { reportInput: true });
  if (!parsed.success) throw new UnrecoverableError(`invalid ${name} payload: ${describe(parsed.error)}`);
  return parsed.data as JobData<N>;
}

/** BullMQ job id of a member's agent job. Stable, so adding it twice is a no-op. */
export const agentJobId = (runId: string, member: string): string => `${runId}.${member}`;

/** Inverse of agentJobId. */
export function parseAgentJobId(jobId: string): { runId: string; member: string } | undefined {
  const dot = jobId.indexOf('.');
  if (dot <= 0) return undefined;
  return { runId: jobId.slice(0, dot), member: jobId.slice(dot + 1) };
}
