import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { NotFoundError } from '../errors/not-found-error.js';
import { StaleEpochError } from '../errors/stale-epoch-error.js';
import { withScripts, type ReinsScripts } from '../redis/scripts.js';
import type { Harness } from '../spec/harness.js';
import { memberTransition, newMemberFields, type MemberEvent } from './member-state.js';
import { AttemptRecordSchema, decodeMember, decodeRun, toRunView, type AttemptRecord, type Cursor, type AgentEvent, type MemberRecord, type RunRecord, type RunView } from './records.js';
import { isFinalRunStatus, type MemberStatus, type RunStatus } from './status.js';

/** What became of an event given to the store: applied, or refused because the member's status does not allow it. */
export type Applied = { applied: true; epoch: number; status: MemberStatus } | { applied: false; epoch: number; status: MemberStatus; reason: string };

const MAX_EVENTS_PER_MEMBER = 5_000;
const MAX_RAW_EVENTS_PER_MEMBER = 2_000;
/** A raw line past this is cut (tool results can hold whole files); the cut is marked. */
const MAX_RAW_EVENT_BYTES = 32 * 1024;
const MAX_ATTEMPT_RECORDS = 100;

/** Reads and writes run and member records. Every state change lands here before anyone reports it. */
export class RunStore {
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
  ) {
    this.redis = withScripts(redis);
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
      skills: JSON.stringify(run.skills),
      ...(run.workdir ? { workdir: run.workdir } : {}),
      ...(run.planOnly ? { planOnly: '1' } : {}),
      ...(run.baseCommit ? { baseCommit: run.baseCommit } : {}),
      createdAt: String(run.createdAt),
      cancelled: '0',
    });
    for (const m of members) {
      tx.hset(this.keys.member(run.runId, m.name), newMemberFields(run.runId, m.name, m.dependsOn, m.jobId));
    }
    tx.zadd(this.keys.runs, run.createdAt, run.runId);
    tx.sadd(this.keys.activeRuns, run.runId);
    // The run's agent.env values are kept until it ends now that it exists (RunSecrets.put).
    tx.persist(this.keys.secrets(run.runId));
    const result = await tx.exec();
    return result !== null;
  }

  /**
   * Records a submission the scheduler refused, as a run with no members and status `refused`, listed with
   * the others but never active, and drops its stored skills and secrets. Only once, and never over a run
   * that exists (nor its skills or secrets): false then.
   */
  async recordRefusal(refused: Pick<RunRecord, 'runId' | 'name' | 'source' | 'createdAt'> & { refusal: string }, now = Date.now()): Promise<boolean> {
    const runKey = this.keys.run(refused.runId);
    await this.redis.watch(runKey);
    if (await this.redis.exists(runKey)) {
      await this.redis.unwatch();
      return false;
    }
    const result = await this.redis
      .multi()
      .hset(runKey, {
        runId: refused.runId,
        name: refused.name,
        goal: '',
        status: 'refused',
        source: refused.source,
        spec: '{}',
        members: '[]',
        skills: '{}',
        createdAt: String(refused.createdAt),
        endedAt: String(now),
        cancelled: '0',
        refusal: refused.refusal,
      })
      .zadd(this.keys.runs, refused.createdAt, refused.runId)
      // What was stored for it beside the job, its skills and agent.env values, goes: nothing of it will run.
      .del(this.keys.skills(refused.runId), this.keys.secrets(refused.runId))
      .publish(this.keys.runEventsChannel, JSON.stringify({ runId: refused.runId, status: 'refused' }))
      .exec();
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
      const decoded = decodeMember(hash as Record<string, string>);
      return decoded ? [decoded] : [];
    });
  }

  async getMember(runId: string, member: string): Promise<MemberRecord | undefined> {
    return decodeMember(await this.redis.hgetall(this.keys.member(runId, member)));
  }

  /**
   * Carries out one event of the member state machine (member-state.ts), atomically: refused when the
   * member's status does not allow it, and, given the writer's epoch, when a newer attempt superseded it
   * (StaleEpochError). Returns the member's epoch after it (a new one for attempt_started).
   */
  async apply(runId: string, member: string, event: MemberEvent, fence: { epoch?: number } = {}): Promise<Applied> {
    const t = memberTransition(event);
    const set: Record<string, string> = {};
    for (const [field, value] of Object.entries(t.set)) set[field] = String(value);
    const [code, epoch, status] = await this.redis.reinsMemberEvent(
      this.keys.member(runId, member),
      this.keys.attempts(runId, member),
      fence.epoch === undefined ? '' : String(fence.epoch),
      JSON.stringify(t.from),
      JSON.stringify(set),
      JSON.stringify(t.remove),
      t.takesEpoch ? '1' : '0',
      t.record ? JSON.stringify(t.record) : '',
      String(MAX_ATTEMPT_RECORDS),
      this.keys.runEventsChannel,
      JSON.stringify({ runId, member, event: event.type, ...set }),
    );
    switch (Number(code)) {
      case 1:
        return { applied: true, epoch: Number(epoch), status: status as MemberStatus };
      case 0:
        throw new StaleEpochError(`attempt epoch ${fence.epoch} of ${runId}/${member} was superseded by epoch ${epoch}`);
      case -2:
        throw new NotFoundError(`run ${runId} has no member ${JSON.stringify(member)}`);
      case -3:
        return { applied: false, epoch: Number(epoch), status: status as MemberStatus, reason: `attempt epoch ${t.record?.epoch} of ${runId}/${member} is already recorded` };
      default:
        return { applied: false, epoch: Number(epoch), status: status as MemberStatus, reason: `${event.type} does not apply to ${runId}/${member}, which is ${status}` };
    }
  }

  async readAttempts(runId: string, member: string): Promise<AttemptRecord[]> {
    const items = await this.redis.lrange(this.keys.attempts(runId, member), 0, -1);
    return items.map((item) => AttemptRecordSchema.parse(JSON.parse(item)));
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
    const written = await this.redis.reinsFencedHash(this.keys.member(runId, member), this.keys.cursor(runId, member), String(epoch), JSON.stringify(set), JSON.stringify(remove));
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

  /**
   * Sets the run's status; a final status also stamps endedAt and takes the run off the active set. The run
   * starts when its first member started (`firstMemberStartedAt`), not when the scheduler first saw one
   * running: a pass can come seconds later, and the run's duration then left out the members' work.
   */
  async setRunStatus(runId: string, status: RunStatus, now = Date.now(), firstMemberStartedAt?: number): Promise<void> {
    const tx = this.redis.multi();
    const fields: Record<string, string> = { status };
    if (status === 'running' || (isFinalRunStatus(status) && firstMemberStartedAt !== undefined)) {
      tx.hsetnx(this.keys.run(runId), 'startedAt', String(Math.min(now, firstMemberStartedAt ?? now)));
    }
    if (isFinalRunStatus(status)) {
      fields.endedAt = String(now);
      tx.srem(this.keys.activeRuns, runId);
      // No agent of an ended run starts again, so its agent.env values go with its end (RunSecrets).
      tx.del(this.keys.secrets(runId));
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
      tx.hset(this.keys.member(runId, m.name), newMemberFields(runId, m.name, m.depends_on ?? [], jobIdOf(m.name)));
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

  /** Takes an ended run off the active set; its agent.env values go too. */
  async retire(runId: string): Promise<void> {
    await this.redis.multi().srem(this.keys.activeRuns, runId).del(this.keys.secrets(runId)).exec();
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
