import { z } from 'zod';
import type { Harness } from '../spec/harness.js';
import { MEMBER_STATUSES, RUN_STATUSES, type MemberStatus, type RunStatus } from './status.js';

/** A number field of a Redis hash: stored as a decimal string. */
const num = z.coerce.number().pipe(z.number().finite());
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

/**
 * A member's record, as its Redis hash holds it. Only member-state.ts decides its status fields; this says
 * how they are read back. Unknown fields are dropped, a status that is not one of ours reads as pending.
 */
export const MemberRecordSchema = z.object({
  runId: z.string(),
  name: z.string(),
  status: z.enum(MEMBER_STATUSES).catch('pending'),
  dependsOn: json(z.array(z.string())).catch([]),
  jobId: z.string(),
  attempts: num.catch(0),
  workspace: z.string().optional(),
  exitCode: num.optional(),
  sessionId: z.string().optional(),
  costUsd: num.optional(),
  numTurns: num.optional(),
  /** Every token its attempts used (input, output, cache), as counted when each ended. */
  tokens: num.optional(),
  durationMs: num.optional(),
  summary: z.string().optional(),
  error: z.string().optional(),
  errorClass: z.string().optional(),
  startedAt: num.optional(),
  endedAt: num.optional(),
  workerId: z.string().optional(),
  host: z.string().optional(),
  tmuxSocket: z.string().optional(),
  tmuxSession: z.string().optional(),
  /** The Claude account its current (or last) attempt runs under. */
  account: z.string().optional(),
  /** The current attempt's fencing token; every attempt takes the next one. */
  epoch: num.optional(),
  /** The epoch whose attempt record was written last: each attempt is recorded once. */
  recordedEpoch: num.optional(),
  /** BullMQ stalls already turned into failed attempts (see the worker's stall handling). */
  stallsSeen: num.optional(),
  /** When a waiting member will be tried again (epoch ms). */
  retryAt: num.optional(),
  /** The planner's validated team, as JSON. */
  plan: z.string().optional(),
  /** The queue its job is on: a pool queue when it requires labels. */
  queue: z.string().optional(),
  /** The member's git branch and its diff stat against the run's base, in a git workdir or repo. */
  branch: z.string().optional(),
  diffStat: z.string().optional(),
  /** With a repo: the commit its branch had when it succeeded (pushed to the remote). */
  commit: z.string().optional(),
});
export type MemberRecord = z.output<typeof MemberRecordSchema>;

/** One ended attempt of a member, as `reins status` lists it. */
export const AttemptRecordSchema = z.object({
  attempt: z.number().int(),
  epoch: z.number().int(),
  /** A FailureClass, or "succeeded". */
  outcome: z.string(),
  message: z.string(),
  startedAt: z.number(),
  endedAt: z.number(),
  workerId: z.string(),
  host: z.string(),
  /** The Claude account it ran under. */
  account: z.string().optional(),
});
export type AttemptRecord = z.output<typeof AttemptRecordSchema>;

/** A text field of a Redis hash where an empty string means "not set". */
const text = z
  .string()
  .optional()
  .transform((v) => v || undefined);
/** A number field that may be missing (or empty). */
const optionalNum = z.preprocess((v) => (v === '' ? undefined : v), num.optional());
/** A "1" flag. */
const flag = z
  .string()
  .optional()
  .transform((v) => v === '1');

/**
 * A run's record, as its Redis hash holds it: the one decoder, used for whole records (RunStore) and for
 * heads (FleetReader.runHeads). Runs outlive changes to the code, so it is lenient where a damaged field
 * should not hide the run: an unknown status reads as queued, unreadable members as none.
 */
const RunFields = z.object({
  runId: z.string().min(1),
  name: z.string().default(''),
  goal: z.string().default(''),
  status: z.enum(RUN_STATUSES).catch('queued'),
  /** The harness file it came from. */
  source: z.string().default(''),
  /** The harness as submitted; checked then, so read as stored (a later spec schema may be stricter). */
  spec: json(z.custom<Harness>((v) => typeof v === 'object' && v !== null, 'expected the harness object')).default({} as Harness),
  /** Member names, in the harness file's order (a planned run adds its team's). */
  members: json(z.array(z.string())).catch([]),
  /** The harness workdir, absolute, if it gives one. */
  workdir: text,
  /** Every skill the run may use, name → description (their folders are in RunFiles). */
  skills: json(z.record(z.string(), z.string())).catch({}).default({}),
  /** Stop after the planner (`reins submit --plan-only`). */
  planOnly: z
    .string()
    .optional()
    .transform((v) => (v === '1' ? true : undefined)),
  /** In a git workdir: the commit every member's branch starts from. */
  baseCommit: text,
  /** Merge-back: requested once all members succeeded, done when the worker wrote the result. */
  integration: z.enum(['pending', 'done']).optional().catch(undefined),
  resultBranch: text,
  resultCommit: text,
  /** Members whose branch could not be merged, with the conflicting files. */
  conflicts: json(z.array(z.object({ member: z.string(), files: z.array(z.string()) }))).optional(),
  createdAt: num.catch(0),
  startedAt: optionalNum,
  endedAt: optionalNum,
  cancelled: flag,
  /** Why the scheduler refused the submission (status `refused`): its issues, a line each, capped. */
  refusal: text,
});

/** Keeps the record's shape as it was written: a field that is not set is absent, not undefined. */
const withoutUndefined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

export const RunRecordSchema = RunFields.transform((fields): RunRecord => withoutUndefined(fields));

export interface RunRecord {
  runId: string;
  name: string;
  goal: string;
  status: RunStatus;
  /** The harness file it came from. */
  source: string;
  spec: Harness;
  /** Member names, in the harness file's order. */
  members: string[];
  /** The harness workdir, absolute, if it gives one. */
  workdir?: string;
  /** Every skill the run may use, name → description (their folders are in RunFiles). */
  skills: Record<string, string>;
  /** Stop after the planner (`reins submit --plan-only`). */
  planOnly?: boolean;
  /** In a git workdir: the commit every member's branch starts from. */
  baseCommit?: string;
  /** Merge-back: requested once all members succeeded, done when the worker wrote the result. */
  integration?: 'pending' | 'done';
  resultBranch?: string;
  resultCommit?: string;
  /** Members whose branch could not be merged, with the conflicting files. */
  conflicts?: { member: string; files: string[] }[];
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  cancelled: boolean;
  /** Why the scheduler refused the submission (status `refused`). */
  refusal?: string;
}

/** The fields a run head has: what lists and metrics need, without the harness (which can hold 800 KB of prompts). */
export const RUN_HEAD_FIELDS = ['runId', 'name', 'status', 'members', 'createdAt', 'startedAt', 'endedAt', 'cancelled', 'refusal'] as const;
/** A run record without its harness. */
export type RunHead = Pick<RunRecord, (typeof RUN_HEAD_FIELDS)[number]>;
export const RunHeadSchema = RunFields.pick({ runId: true, name: true, status: true, members: true, createdAt: true, startedAt: true, endedAt: true, cancelled: true, refusal: true }).transform(
  (fields): RunHead => withoutUndefined(fields),
);

/** A run record's head. */
export function toRunHead(run: RunRecord): RunHead {
  return withoutUndefined(Object.fromEntries(RUN_HEAD_FIELDS.map((field) => [field, run[field]]))) as RunHead;
}

/** A member's last checkpoint: everything another host needs to resume it. */
export interface Cursor {
  attempt: number;
  epoch: number;
  at: number;
  sessionId?: string;
  /** The session transcript (JSONL), gzip-compressed. */
  transcriptGz?: Buffer;
  /** Uncompressed transcript size. */
  transcriptBytes?: number;
  /** Why the transcript is not in the cursor (too large, say). */
  transcriptOmitted?: string;
  /** The workspace's commit at the checkpoint, in a git workspace. */
  commit?: string;
  numTurns?: number;
  /** What the agent saved itself with `reins checkpoint --data`. */
  data?: unknown;
}

/** The `--json` contract of `reins status` and `reins submit --wait`. Keep it exact. */
export interface RunView {
  runId: string;
  status: RunStatus;
  /** The harness repo, when it names one: where member branches and the result are pushed. */
  repo?: { url: string; ref?: string; baseCommit?: string };
  /** The merge-back's branch and commit (on the remote, with a repo), once merged. */
  resultBranch?: string;
  resultCommit?: string;
  /** Why the scheduler refused the submission, when the status is `refused`. */
  refusal?: string;
  members: MemberView[];
}

export interface MemberView {
  name: string;
  status: MemberStatus;
  attempts: number;
  workspace: string | null;
  exitCode?: number;
  sessionId?: string;
  costUsd?: number;
  numTurns?: number;
  /** Every token its attempts used: input, output and cache, over all its attempts (limits.maxTokens caps it). */
  tokens?: number;
  error?: string;
  /** Its git branch, and (with a repo) the commit pushed when it succeeded. */
  branch?: string;
  commit?: string;
}

/** A readable line of an agent's activity, kept in a capped stream per member. */
export interface AgentEvent {
  id: string;
  at: number;
  kind: string;
  text: string;
}

export function toRunView(run: RunRecord, members: readonly MemberRecord[]): RunView {
  const repo = run.spec.repo ? { url: run.spec.repo.url, ...(run.spec.repo.ref ? { ref: run.spec.repo.ref } : {}), ...(run.baseCommit ? { baseCommit: run.baseCommit } : {}) } : undefined;
  return {
    runId: run.runId,
    status: run.status,
    ...(repo ? { repo } : {}),
    ...(run.resultBranch ? { resultBranch: run.resultBranch } : {}),
    ...(run.resultCommit ? { resultCommit: run.resultCommit } : {}),
    ...(run.refusal !== undefined ? { refusal: run.refusal } : {}),
    members: members.map((m) => {
      const view: MemberView = { name: m.name, status: m.status, attempts: m.attempts, workspace: m.workspace ?? null };
      if (m.exitCode !== undefined) view.exitCode = m.exitCode;
      if (m.sessionId !== undefined) view.sessionId = m.sessionId;
      if (m.costUsd !== undefined) view.costUsd = m.costUsd;
      if (m.numTurns !== undefined) view.numTurns = m.numTurns;
      if (m.tokens !== undefined) view.tokens = m.tokens;
      if (m.error !== undefined) view.error = m.error;
      if (m.branch !== undefined) view.branch = m.branch;
      if (m.commit !== undefined) view.commit = m.commit;
      return view;
    }),
  };
}

export function decodeMember(hash: Record<string, string>): MemberRecord | undefined {
  if (!hash.name) return undefined;
  const parsed = MemberRecordSchema.safeParse(hash);
  if (!parsed.success) throw new Error(`member record ${hash.runId}/${hash.name} is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function decodeRun(hash: Record<string, string>): RunRecord {
  const parsed = RunRecordSchema.safeParse(hash);
  if (!parsed.success) throw new Error(`run record ${hash.runId ?? '?'} is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** A run head from the fields of RUN_HEAD_FIELDS as HMGET returns them; undefined when the run is gone. */
export function decodeRunHead(values: readonly (string | null)[]): RunHead | undefined {
  const hash = Object.fromEntries(RUN_HEAD_FIELDS.flatMap((field, i) => (values[i] === null || values[i] === undefined ? [] : [[field, values[i]]])));
  if (!hash.runId) return undefined;
  const parsed = RunHeadSchema.safeParse(hash);
  return parsed.success ? parsed.data : undefined;
}
