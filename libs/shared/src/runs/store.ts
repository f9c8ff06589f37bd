import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { NotFoundError } from '../errors/not-found-error.js';
import { StaleEpochError } from '../errors/stale-epoch-error.js';
import { withFencing, type FencingCommands } from './fencing.js';
import type { Harness } from '../spec/harness.js';
import { MEMBER_STATUSES, RUN_STATUSES, isFinalRunStatus, type MemberStatus, type RunStatus } from './status.js';

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
  /** Skill name to the folder that holds it. */
  skillDirs: Record<string, string>;
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
}

export interface MemberRecord {
  runId: string;
  name: string;
  status: MemberStatus;
  dependsOn: string[];
  jobId: string;
  attempts: number;
  workspace?: string;
  exitCode?: number;
  sessionId?: string;
  costUsd?: number;
  numTurns?: number;
  durationMs?: number;
  summary?: string;
  error?: string;
  errorClass?: string;
  startedAt?: number;
  endedAt?: number;
  workerId?: string;
  host?: string;
  tmuxSocket?: string;
  tmuxSession?: string;
  /** The current attempt's fencing token; every attempt takes the next one. */
  epoch?: number;
  /** BullMQ stalls already turned into failed attempts (see the worker's stall handling). */
  stallsSeen?: number;
  /** When a rate-limited member will be tried again (epoch ms). */
  retryAt?: number;
  /** The planner's validated team, as JSON. */
  plan?: string;
  /** The queue its job is on: a pool queue when it requires labels. */
  queue?: string;
  /** The member's git branch and its diff stat against the run's base, in a git workdir. */
  branch?: string;
  diffStat?: string;
}

/** One ended attempt of a member, as `reins status` lists it. */
export interface AttemptRecord {
  attempt: number;
  epoch: number;
  /** A FailureClass, or "succeeded". */
  outcome: string;
  message: string;
  startedAt: number;
  endedAt: number;
  workerId: string;
  host: string;
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
  error?: string;
}

/** A readable line of an agent's activity, kept in a capped stream per member. */
export interface AgentEvent {
  id: string;
  at: number;
  kind: string;
  text: string;
}

/** A field set to null is removed from the record. */
export type MemberPatch = { [K in keyof MemberRecord]?: MemberRecord[K] | null };

const MAX_EVENTS_PER_MEMBER = 5_000;
const MAX_RAW_EVENTS_PER_MEMBER = 2_000;
/** A raw line past this is cut (tool results can hold whole files); the cut is marked. */
const MAX_RAW_EVENT_BYTES = 32 * 1024;
const NUMBER_FIELDS = new Set(['attempts', 'exitCode', 'costUsd', 'numTurns', 'durationMs', 'startedAt', 'endedAt', 'epoch', 'stallsSeen', 'retryAt']);
const MAX_ATTEMPT_RECORDS = 100;

/** Reads and writes run and member records. Every state change lands here before anyone reports it. */
export class RunStore {
  private readonly redis: Redis & FencingCommands;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = withFencing(redis);
  }

  /** Creates the run and its members once; a second call for the same run changes nothing. */
  async createRun(run: Omit<RunRecord, 'status' | 'cancelled'>, members: { name: string; dependsOn: string[]; jobId: string }[]): Promise<boolean> {
    const runKey = this.keys.run(run.runId);
    await this.redis.watch(runKey);
    if (await this.redis.exists(runKey)) {
      await this.redis.unwatch();
      return false;
    }
    const tx = this.redis.multi();
    tx.hset(runKey, {
      runId: run.runId,
      name: run.name,
      goal: run.goal,
      status: 'queued',
      source: run.source,
      spec: JSON.stringify(run.spec),
      members: JSON.stringify(run.members),
      skillDirs: JSON.stringify(run.skillDirs),
      ...(run.workdir ? { workdir: run.workdir } : {}),
      ...(run.planOnly ? { planOnly: '1' } : {}),
      ...(run.baseCommit ? { baseCommit: run.baseCommit } : {}),
      createdAt: String(run.createdAt),
      cancelled: '0',
    });
    for (const m of members) {
      tx.hset(this.keys.member(run.runId, m.name), {
        runId: run.runId,
        name: m.name,
        status: 'pending',
        dependsOn: JSON.stringify(m.dependsOn),
        jobId: m.jobId,
        attempts: '0',
      });
    }
    tx.zadd(this.keys.runs, run.createdAt, run.runId);
    tx.sadd(this.keys.activeRuns, run.runId);
    const result = await tx.exec();
    return result !== null;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys.run(runId));
    return hash.runId ? decodeRun(hash) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new NotFoundError(`no run with id ${JSON.stringify(runId)}`);
    return run;
  }

  async getMembers(run: Pick<RunRecord, 'runId' | 'members'>): Promise<MemberRecord[]> {
    const pipeline = this.redis.pipeline();
    for (const name of run.members) pipeline.hgetall(this.keys.member(run.runId, name));
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([error, hash]) => {
      if (error) throw error;
      const h = hash as Record<string, string>;
      return h.name ? [decodeMember(h)] : [];
    });
  }

  async getMember(runId: string, member: string): Promise<MemberRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys.member(runId, member));
    return hash.name ? decodeMember(hash) : undefined;
  }

  async updateMember(runId: string, member: string, patch: MemberPatch): Promise<void> {
    const key = this.keys.member(runId, member);
    const { set, remove } = splitPatch(patch);
    const tx = this.redis.multi();
    if (Object.keys(set).length > 0) tx.hset(key, set);
    if (remove.length > 0) tx.hdel(key, ...remove);
    tx.publish(this.keys.runEventsChannel, JSON.stringify({ runId, member, ...set }));
    await tx.exec();
  }

  /** Starts an attempt: takes the member's next epoch and writes the fields, atomically. Returns the epoch. */
  async beginAttempt(runId: string, member: string, patch: MemberPatch): Promise<number> {
    const { set, remove } = splitPatch(patch);
    const epoch = await this.redis.reinsBeginAttempt(this.keys.member(runId, member), JSON.stringify(set), JSON.stringify(remove));
    await this.redis.publish(this.keys.runEventsChannel, JSON.stringify({ runId, member, ...set, epoch }));
    return Number(epoch);
  }

  /** Updates a member only while `epoch` is its current one; throws StaleEpochError otherwise. */
  async updateMemberFenced(runId: string, member: string, epoch: number, patch: MemberPatch): Promise<void> {
    const key = this.keys.member(runId, member);
    const { set, remove } = splitPatch(patch);
    const written = await this.redis.reinsFencedHash(key, key, String(epoch), JSON.stringify(set), JSON.stringify(remove), this.keys.runEventsChannel, JSON.stringify({ runId, member, ...set }));
    if (Number(written) !== 1) throw new StaleEpochError(`attempt epoch ${epoch} of ${runId}/${member} was superseded`);
  }

  async appendAttempt(runId: string, member: string, record: AttemptRecord): Promise<void> {
    const written = await this.redis.reinsFencedPush(this.keys.member(runId, member), this.keys.attempts(runId, member), String(record.epoch), JSON.stringify(record), String(MAX_ATTEMPT_RECORDS));
    if (Number(written) !== 1) throw new StaleEpochError(`attempt epoch ${record.epoch} of ${runId}/${member} was superseded`);
  }

  async readAttempts(runId: string, member: string): Promise<AttemptRecord[]> {
    const items = await this.redis.lrange(this.keys.attempts(runId, member), 0, -1);
    return items.map((item) => JSON.parse(item) as AttemptRecord);
  }

  /** Writes a checkpoint only while `epoch` is the member's current one; throws StaleEpochError otherwise. */
  async writeCursor(runId: string, member: string, epoch: number, cursor: Partial<Omit<Cursor, 'epoch'>>): Promise<void> {
    const set: Record<string, string> = { epoch: String(epoch) };
    for (const [field, value] of Object.entries(cursor)) {
      if (value === undefined) continue;
      if (field === 'transcriptGz') set[field] = (value as Buffer).toString('base64');
      else if (field === 'data') set[field] = JSON.stringify(value);
      else set[field] = String(value);
    }
    // A transcript and the note saying why there is none replace each other: never leave an older
    // transcript behind a newer "omitted", or a resume would pick up an outdated conversation.
    const remove = cursor.transcriptOmitted !== undefined ? ['transcriptGz'] : cursor.transcriptGz !== undefined ? ['transcriptOmitted'] : [];
    const written = await this.redis.reinsFencedHash(this.keys.member(runId, member), this.keys.cursor(runId, member), String(epoch), JSON.stringify(set), JSON.stringify(remove), '', '');
    if (Number(written) !== 1) throw new StaleEpochError(`checkpoint from epoch ${epoch} of ${runId}/${member} refused: superseded`);
  }

  async readCursor(runId: string, member: string): Promise<Cursor | undefined> {
    const h = await this.redis.hgetall(this.keys.cursor(runId, member));
    if (!h.at) return undefined;
    const cursor: Cursor = { attempt: Number(h.attempt ?? 0), epoch: Number(h.epoch ?? 0), at: Number(h.at) };
    if (h.sessionId) cursor.sessionId = h.sessionId;
    if (h.transcriptGz) cursor.transcriptGz = Buffer.from(h.transcriptGz, 'base64');
    if (h.transcriptBytes) cursor.transcriptBytes = Number(h.transcriptBytes);
    if (h.transcriptOmitted) cursor.transcriptOmitted = h.transcriptOmitted;
    if (h.commit) cursor.commit = h.commit;
    if (h.numTurns) cursor.numTurns = Number(h.numTurns);
    if (h.data !== undefined) cursor.data = JSON.parse(h.data) as unknown;
    return cursor;
  }

  /** Sets the run's status; a final status also stamps endedAt and takes the run off the active set. */
  async setRunStatus(runId: string, status: RunStatus, now = Date.now()): Promise<void> {
    const tx = this.redis.multi();
    const fields: Record<string, string> = { status };
    if (status === 'running') tx.hsetnx(this.keys.run(runId), 'startedAt', String(now));
    if (isFinalRunStatus(status)) {
      fields.endedAt = String(now);
      tx.srem(this.keys.activeRuns, runId);
    }
    tx.hset(this.keys.run(runId), fields);
    tx.publish(this.keys.runEventsChannel, JSON.stringify({ runId, status }));
    await tx.exec();
  }

  /** Marks a run cancelled unless it already ended. Returns false when it had ended. */
  async markCancelled(runId: string): Promise<boolean> {
    const key = this.keys.run(runId);
    await this.redis.watch(key);
    const status = (await this.redis.hget(key, 'status')) as RunStatus | null;
    if (status === null || isFinalRunStatus(status)) {
      await this.redis.unwatch();
      return false;
    }
    // The run stays in the active set until its members have ended, so the scheduler finishes the clean-up.
    const result = await this.redis
      .multi()
      .hset(key, { cancelled: '1', status: 'cancelled', endedAt: String(Date.now()) })
      .publish(this.keys.runEventsChannel, JSON.stringify({ runId, status: 'cancelled' }))
      .exec();
    if (result === null) return this.markCancelled(runId);
    return true;
  }

  /**
   * Turns a planned run into a team run: the planner's team becomes the spec's team and each member gets a
   * pending record. Only once: a second call finds the team there and changes nothing.
   */
  async materializeTeam(runId: string, team: Harness['team'] & object, jobIdOf: (member: string) => string): Promise<boolean> {
    const key = this.keys.run(runId);
    await this.redis.watch(key);
    const run = await this.getRun(runId);
    if (!run || run.spec.team) {
      await this.redis.unwatch();
      return false;
    }
    const tx = this.redis.multi();
    tx.hset(key, { spec: JSON.stringify({ ...run.spec, team }), members: JSON.stringify([...run.members, ...team.map((m) => m.name)]) });
    for (const m of team) {
      tx.hset(this.keys.member(runId, m.name), { runId, name: m.name, status: 'pending', dependsOn: JSON.stringify(m.depends_on ?? []), jobId: jobIdOf(m.name), attempts: '0' });
    }
    tx.publish(this.keys.runEventsChannel, JSON.stringify({ runId, planned: team.length }));
    return (await tx.exec()) !== null;
  }

  /** Marks the merge-back as asked for; false when it already was. */
  async requestIntegration(runId: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.run(runId), 'integration', 'pending')) === 1;
  }

  async recordIntegration(runId: string, result: { resultBranch: string; resultCommit: string; conflicts: { member: string; files: string[] }[] }): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.run(runId), { integration: 'done', resultBranch: result.resultBranch, resultCommit: result.resultCommit, conflicts: JSON.stringify(result.conflicts) })
      .publish(this.keys.runEventsChannel, JSON.stringify({ runId, integration: 'done' }))
      .exec();
  }

  async isCancelled(runId: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.run(runId), 'cancelled')) === '1';
  }

  async retire(runId: string): Promise<void> {
    await this.redis.srem(this.keys.activeRuns, runId);
  }

  async activeRunIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.activeRuns);
  }

  /** Newest first. */
  async listRunIds(limit = 50): Promise<string[]> {
    return this.redis.zrevrange(this.keys.runs, 0, limit - 1);
  }

  /** Appends readable lines and the raw stream-json events behind them, in one round trip. */
  async appendEvents(runId: string, member: string, events: readonly { at: number; kind: string; text: string }[], raw: readonly string[] = []): Promise<void> {
    if (events.length === 0 && raw.length === 0) return;
    const key = this.keys.events(runId, member);
    const rawKey = this.keys.rawEvents(runId, member);
    const pipeline = this.redis.pipeline();
    for (const e of events) {
      pipeline.xadd(key, 'MAXLEN', '~', String(MAX_EVENTS_PER_MEMBER), '*', 'at', String(e.at), 'kind', e.kind, 'text', e.text);
    }
    for (const line of raw) {
      const cut = Buffer.byteLength(line) > MAX_RAW_EVENT_BYTES ? `${Buffer.from(line).subarray(0, MAX_RAW_EVENT_BYTES).toString('utf8')}…[cut by reins]` : line;
      pipeline.xadd(rawKey, 'MAXLEN', '~', String(MAX_RAW_EVENTS_PER_MEMBER), '*', 'line', cut);
    }
    await pipeline.exec();
  }

  /** Raw stream-json lines after the given stream id ('-' for the start). */
  async readRawEvents(runId: string, member: string, afterId = '-', count = 1_000): Promise<{ id: string; line: string }[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    const entries = await this.redis.xrange(this.keys.rawEvents(runId, member), start, '+', 'COUNT', count);
    return entries.map(([id, fields]) => ({ id, line: fields[1] ?? '' }));
  }

  /** Events after the given stream id ('-' for the start). */
  async readEvents(runId: string, member: string, afterId = '-', count = 1_000): Promise<AgentEvent[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    const entries = await this.redis.xrange(this.keys.events(runId, member), start, '+', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { id, at: Number(f.at), kind: f.kind ?? 'text', text: f.text ?? '' };
    });
  }

  async view(runId: string): Promise<RunView> {
    const run = await this.requireRun(runId);
    return toRunView(run, await this.getMembers(run));
  }
}

function splitPatch(patch: MemberPatch): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) remove.push(field);
    else set[field] = Array.isArray(value) ? JSON.stringify(value) : String(value);
  }
  return { set, remove };
}

export function toRunView(run: RunRecord, members: readonly MemberRecord[]): RunView {
  return {
    runId: run.runId,
    status: run.status,
    members: members.map((m) => {
      const view: MemberView = { name: m.name, status: m.status, attempts: m.attempts, workspace: m.workspace ?? null };
      if (m.exitCode !== undefined) view.exitCode = m.exitCode;
      if (m.sessionId !== undefined) view.sessionId = m.sessionId;
      if (m.costUsd !== undefined) view.costUsd = m.costUsd;
      if (m.numTurns !== undefined) view.numTurns = m.numTurns;
      if (m.error !== undefined) view.error = m.error;
      return view;
    }),
  };
}

function decodeRun(h: Record<string, string>): RunRecord {
  const status = RUN_STATUSES.find((s) => s === h.status) ?? 'queued';
  const run: RunRecord = {
    runId: h.runId!,
    name: h.name ?? '',
    goal: h.goal ?? '',
    status,
    source: h.source ?? '',
    spec: JSON.parse(h.spec ?? '{}') as Harness,
    members: JSON.parse(h.members ?? '[]') as string[],
    skillDirs: JSON.parse(h.skillDirs ?? '{}') as Record<string, string>,
    createdAt: Number(h.createdAt),
    cancelled: h.cancelled === '1',
  };
  if (h.workdir) run.workdir = h.workdir;
  if (h.planOnly === '1') run.planOnly = true;
  if (h.baseCommit) run.baseCommit = h.baseCommit;
  if (h.integration === 'pending' || h.integration === 'done') run.integration = h.integration;
  if (h.resultBranch) run.resultBranch = h.resultBranch;
  if (h.resultCommit) run.resultCommit = h.resultCommit;
  if (h.conflicts) run.conflicts = JSON.parse(h.conflicts) as { member: string; files: string[] }[];
  if (h.startedAt) run.startedAt = Number(h.startedAt);
  if (h.endedAt) run.endedAt = Number(h.endedAt);
  return run;
}

function decodeMember(h: Record<string, string>): MemberRecord {
  const record: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(h)) {
    if (NUMBER_FIELDS.has(field)) record[field] = Number(value);
    else if (field === 'dependsOn') record[field] = JSON.parse(value) as string[];
    else record[field] = value;
  }
  record.status = MEMBER_STATUSES.find((s) => s === h.status) ?? 'pending';
  record.attempts ??= 0;
  return record as unknown as MemberRecord;
}
