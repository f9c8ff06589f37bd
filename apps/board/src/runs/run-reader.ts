import { z } from 'zod';
import {
  isFinalMemberStatus,
  isFinalRunStatus,
  toRunHead,
  totalCostUsd,
  type AgentEvent,
  type AttemptRecord,
  type FleetReader,
  type HeartbeatInfo,
  type MemberRecord,
  type MemberStatus,
  type RunHead,
  type RunStatus,
  type RunStore,
} from '@reins/shared';

/** How many of the newest runs a list (or a status filter) looks through: bounded work per page. */
export const RUN_WINDOW = 500;

export interface RunSummary {
  run: RunHead;
  members: MemberRecord[];
  /** Undefined when no member reports a cost. */
  costUsd: number | undefined;
  /** See runDurationMs. */
  durationMs: number | undefined;
  counts: Map<MemberStatus, number>;
}

export interface MemberDetail {
  member: MemberRecord;
  role: string | undefined;
  prompt: string | undefined;
  attempts: AttemptRecord[];
  heartbeat: HeartbeatInfo | undefined;
  checkpointAt: number | undefined;
  /** The newest events, oldest first. */
  events: AgentEvent[];
}

export interface RunDetail extends RunSummary {
  goal: string;
  source: string;
  details: MemberDetail[];
  /** The run and every member have ended: nothing on the page will change again. */
  final: boolean;
  /** Merge-back in a git workdir: the result branch and commit, and members whose branch conflicted. */
  result: { branch: string; commit: string; conflicts: { member: string; files: string[] }[] } | undefined;
}

/** The harness as stored with the run: read loosely, since runs outlive changes to the spec. */
const StoredTeamSchema = z.looseObject({
  team: z.array(z.looseObject({ name: z.string(), role: z.string().optional(), prompt: z.string().optional() })).optional(),
});

/**
 * From the run's start to its end (or now, while it runs). A run can end without ever being marked
 * running (its members all failed between two scheduler sweeps); then it counts from its creation.
 */
export function runDurationMs(run: Pick<RunHead, 'createdAt' | 'startedAt' | 'endedAt'>, now = Date.now()): number | undefined {
  if (run.startedAt === undefined && run.endedAt === undefined) return undefined;
  return Math.max(0, (run.endedAt ?? now) - (run.startedAt ?? run.createdAt));
}

export function summarize(run: RunHead, members: MemberRecord[], now = Date.now()): RunSummary {
  const counts = new Map<MemberStatus, number>();
  for (const m of members) counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
  return {
    run,
    members,
    costUsd: totalCostUsd(members),
    durationMs: runDurationMs(run, now),
    counts,
  };
}

/** What the runs pages show, read from the run store and the fleet's live state. Never writes. */
export class RunReader {
  constructor(
    private readonly store: RunStore,
    private readonly fleet: FleetReader,
  ) {}

  /** The newest runs, optionally with one status, at most `limit` of them. */
  async list({ status, limit }: { status: RunStatus | undefined; limit: number }): Promise<RunSummary[]> {
    const ids = await this.store.listRunIds(status ? RUN_WINDOW : limit);
    const heads = (await this.fleet.runHeads(ids)).filter((r) => !status || r.status === status).slice(0, limit);
    const now = Date.now();
    return Promise.all(heads.map(async (head) => summarize(head, await this.store.getMembers(head), now)));
  }

  async detail(runId: string, { eventCount }: { eventCount: number }): Promise<RunDetail | undefined> {
    const run = await this.store.getRun(runId);
    if (!run) return undefined;
    const members = await this.store.getMembers(run);
    const names = members.map((m) => m.name);
    const [heartbeats, checkpoints, attempts, events] = await Promise.all([
      this.fleet.heartbeats(members.map((m) => m.jobId)),
      this.fleet.checkpointTimes(runId, names),
      Promise.all(names.map((name) => this.store.readAttempts(runId, name))),
      Promise.all(names.map((name) => this.fleet.latestEvents(runId, name, eventCount))),
    ]);
    const team = StoredTeamSchema.safeParse(run.spec).data?.team ?? [];
    const details = members.map((member, i): MemberDetail => {
      const spec = team.find((t) => t.name === member.name);
      return {
        member,
        role: spec?.role,
        prompt: spec?.prompt,
        attempts: attempts[i] ?? [],
        heartbeat: heartbeats.get(member.jobId),
        checkpointAt: checkpoints.get(member.name),
        events: events[i] ?? [],
      };
    });
    return {
      ...summarize(toRunHead(run), members),
      goal: run.goal,
      source: run.source,
      result: run.resultBranch && run.resultCommit ? { branch: run.resultBranch, commit: run.resultCommit, conflicts: run.conflicts ?? [] } : undefined,
      details,
      final: isFinalRunStatus(run.status) && members.every((m) => isFinalMemberStatus(m.status)),
    };
  }
}
