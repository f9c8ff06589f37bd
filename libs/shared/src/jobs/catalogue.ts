import { UnrecoverableError, type Job, type JobsOptions, type Queue } from 'bullmq';
import { z } from 'zod';
import { AgentSchema, HarnessSchema, HooksSchema, LimitsSchema, MemberNameSchema, SkillNameSchema, VerifySchema } from '../spec/harness.js';
import { formatPath, showValue } from '../errors/format.js';
import { redactAgent, redactSpec } from '../runs/run-secrets.js';
import { RUN_ID_RULE } from '../runs/ids.js';

/** The queues reins uses. Each is created under the `{prefix}` BullMQ prefix. */
export const QUEUES = {
  /** One job per member attempt chain; pulled by workers. */
  agent: 'agent',
  /** Merge-backs of finished runs; pulled by workers, one at a time each, beside their agent slots. */
  integrate: 'integrate',
  /** Run submissions; pulled by the scheduler. */
  control: 'control',
  /** Webhook deliveries; pulled by the scheduler, retried with backoff, never in the way of a run. */
  notify: 'notify',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

const RunIdSchema = z.string().regex(RUN_ID_RULE, 'expected a run id like r-mhx1k2f3a9c2');

export const AgentJobDataSchema = z.strictObject({
  runId: RunIdSchema,
  runName: z.string(),
  goal: z.string(),
  /** "plan": the planner, whose answer is a team; "member": a team member. */
  mode: z.enum(['member', 'plan']).default('member'),
  member: z.union([MemberNameSchema, z.literal('_planner')]),
  prompt: z.string().min(1),
  /** Its env values are always REDACTED here (the schema makes them so): the worker reads them from RunSecrets. */
  agent: AgentSchema.transform(redactAgent),
  /** Absolute; undefined means a fresh directory under the worker's data dir. */
  workdir: z.string().optional(),
  /** The git remote the member branches from and pushes to (instead of a workdir). */
  repo: z.strictObject({ url: z.string() }).optional(),
  /** In a git workdir or repo: the commit every member's branch starts from. */
  baseCommit: z.string().optional(),
  /** Skill names: the worker unpacks each from the run's skills in Redis (RunFiles), never from a path. */
  skills: z.array(z.string()),
  team: z.array(z.strictObject({ name: MemberNameSchema, dependsOn: z.array(MemberNameSchema) })),
  limits: LimitsSchema,
  /** The Claude accounts the agent may use (a worker picks among those it holds); absent: any. */
  accounts: z.array(z.string()).optional(),
  verify: VerifySchema.optional(),
  hooks: HooksSchema.optional(),
  /** The fleet-wide concurrency key and the harness's cap on it. */
  concurrency: z.strictObject({ key: z.string(), max: z.number().int().min(1).optional() }).optional(),
  /** For the planner: the skills it may hand out. */
  availableSkills: z.array(z.strictObject({ name: z.string(), description: z.string() })).optional(),
});

export const RunSubmitDataSchema = z.strictObject({
  runId: RunIdSchema,
  source: z.string(),
  /** Every agent's env values REDACTED (the schema makes them so): `reins submit` stored them with RunSecrets. */
  spec: HarnessSchema.transform(redactSpec),
  workdir: z.string().optional(),
  /** Every skill the run may use, name → description; the CLI stored their folders with RunFiles before this job. */
  skills: z.record(SkillNameSchema, z.string().max(1024)),
  submittedAt: z.number().int(),
  /** In a git workdir: its HEAD when the run was submitted. */
  baseCommit: z.string().optional(),
  /** With plan: auto, stop once the planner has answered (`reins submit --plan-only`). */
  planOnly: z.boolean().optional(),
});

/**
 * Merges a finished run's member branches into reins/<run>/result; done by a worker, in the workdir's
 * repository or from the remote (then the result is pushed there).
 */
export const IntegrateJobDataSchema = z.strictObject({
  runId: RunIdSchema,
  workdir: z.string().optional(),
  repo: z.strictObject({ url: z.string() }).optional(),
  baseCommit: z.string(),
  /** Members in dependency order: each is merged after what it depends on. */
  members: z.array(MemberNameSchema),
});

export const NOTIFY_EVENTS = ['run.succeeded', 'run.failed', 'run.cancelled', 'member.failed', 'rate_limit.paused', 'rate_limit.resumed', 'budget.reached'] as const;

/** One webhook POST: the JSON body people's tools receive. */
export const NotificationSchema = z.strictObject({
  runId: RunIdSchema,
  runName: z.string(),
  event: z.enum(NOTIFY_EVENTS),
  member: z.string().optional(),
  class: z.string().optional(),
  text: z.string(),
  costUsd: z.number().optional(),
  at: z.number().int(),
});

export const NotifyJobDataSchema = z.strictObject({ url: z.url(), notification: NotificationSchema });

/** Every job name, its queue and its payload schema. Payloads are checked when added and when processed. */
export const JOB_CATALOGUE = {
  'agent.run': { queue: QUEUES.agent, schema: AgentJobDataSchema },
  'run.integrate': { queue: QUEUES.integrate, schema: IntegrateJobDataSchema },
  'run.submit': { queue: QUEUES.control, schema: RunSubmitDataSchema },
  'notify.deliver': { queue: QUEUES.notify, schema: NotifyJobDataSchema },
} as const;

export type JobName = keyof typeof JOB_CATALOGUE;
export type JobData<N extends JobName> = z.input<(typeof JOB_CATALOGUE)[N]['schema']>;
export type ParsedJobData<N extends JobName> = z.output<(typeof JOB_CATALOGUE)[N]['schema']>;
export type AgentJobData = z.output<typeof AgentJobDataSchema>;
export type AgentJobInput = z.input<typeof AgentJobDataSchema>;
export type RunSubmitData = JobData<'run.submit'>;
export type IntegrateJobData = JobData<'run.integrate'>;
export type Notification = z.infer<typeof NotificationSchema>;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${formatPath(i.path)}: ${i.message}${'input' in i ? `, got ${showValue(i.input)}` : ''}`).join('; ');
}

/** Validates, then adds. A payload that does not fit its schema never reaches Redis. */
export async function addJob<N extends JobName>(queue: Queue, name: N, data: JobData<N>, opts?: JobsOptions): Promise<Job> {
  const entry = JOB_CATALOGUE[name];
  // Pool queues (agent@labels) take agent jobs too.
  if (queue.name !== entry.queue && !queue.name.startsWith(`${entry.queue}@`)) throw new Error(`job ${name} belongs on queue ${entry.queue}, not ${queue.name}`);
  const parsed = entry.schema.safeParse(data, { reportInput: true });
  if (!parsed.success) throw new Error(`invalid ${name} payload: ${describe(parsed.error)}`);
  return queue.add(name, parsed.data, opts);
}

/** Checks a job taken from a queue. A bad payload can never succeed, so it fails without retries. */
export function parseJob<N extends JobName>(name: N, job: Job): ParsedJobData<N> {
  if (job.name !== name) throw new UnrecoverableError(`expected a ${name} job, got ${job.name}`);
  const parsed = JOB_CATALOGUE[name].schema.safeParse(job.data, { reportInput: true });
  if (!parsed.success) throw new UnrecoverableError(`invalid ${name} payload: ${describe(parsed.error)}`);
  return parsed.data as ParsedJobData<N>;
}

/** BullMQ job id of a run's integrate job ("_" keeps it apart from member names). */
export const integrateJobId = (runId: string): string => `${runId}._integrate`;

/** BullMQ job id of a member's agent job. Stable, so adding it twice is a no-op. */
export const agentJobId = (runId: string, member: string): string => `${runId}.${member}`;

/** Inverse of agentJobId. */
export function parseAgentJobId(jobId: string): { runId: string; member: string } | undefined {
  const dot = jobId.indexOf('.');
  if (dot <= 0) return undefined;
  return { runId: jobId.slice(0, dot), member: jobId.slice(dot + 1) };
}
