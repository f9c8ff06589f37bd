import type { AttemptRecord, MemberRecord } from './records.js';
import type { MemberStatus } from './status.js';

/**
 * The member state machine. Every change of a member's status is one of these events, and
 * `memberTransition` is the only place that says which fields an event writes and from which statuses it
 * may come. The store carries a transition out atomically (lua/member-event-2.lua); `applyMemberEvent` is
 * the same machine as a pure function, for tests and readers.
 *
 *   pending ──released──▶ queued ──attempt_started──▶ running ──succeeded──▶ succeeded
 *      │                   ▲  ▲                          │
 *      │ skipped           │  └──────handed_back─────────┤ attempt_failed (final) ──▶ failed
 *      ▼                   │ waiting                     │ attempt_failed, rate_limited
 *   skipped            retrying ◀────────────────────────┘
 *
 *   any status that is not final ──cancelled──▶ cancelled;  failed | skipped | cancelled ──retried──▶ pending
 */
export type MemberEvent =
  /** The scheduler put its job on a queue: its dependencies succeeded. */
  | { type: 'released'; queue: string }
  /** A dependency ended without succeeding, so it never runs. */
  | { type: 'skipped'; reason: string; at: number }
  /** Admission sent it back to wait (a slot under its concurrency key, a fleet-wide pause): no attempt used. */
  | { type: 'waiting'; reason: string; retryAt?: number }
  /** A note on a member that waits (say, for a worker with its labels), or the note taken back (null). */
  | { type: 'noted'; note: string | null }
  /** A worker took the job: the member takes the next epoch. */
  | { type: 'attempt_started'; attempt: number; at: number; workerId: string; host: string; tmuxSocket: string; workspace: string; branch?: string; account?: string }
  /** One round of the attempt (the first, a verify fix round, a plan retry) started in its tmux session. */
  | { type: 'round_started'; tmuxSession: string; sessionId?: string }
  | { type: 'succeeded'; record: AttemptRecord; summary: string; figures: AttemptFigures; plan?: string; diffStat?: string; commit?: string }
  /** The attempt failed: retried later, or (final) the member failed. A stall of a dead worker's attempt is one. */
  | { type: 'attempt_failed'; record: AttemptRecord; final: boolean; figures?: AttemptFigures; stallsSeen?: number }
  /** The API's limit (or its account's refusal), not the agent's fault: it waits until `retryAt` without using an attempt. */
  | { type: 'rate_limited'; record: AttemptRecord; retryAt: number; figures: AttemptFigures }
  /** The worker shut down and gave the job back without using an attempt. */
  | { type: 'handed_back'; record: AttemptRecord; figures: AttemptFigures }
  | { type: 'cancelled'; at: number; record?: AttemptRecord; figures?: AttemptFigures }
  /** The run's or the fleet's budget cannot pay for another attempt. */
  | { type: 'budget_refused'; at: number; message: string }
  /** Every Claude account the member may use on its worker had its credentials refused (class auth). */
  | { type: 'account_refused'; at: number; message: string }
  /** The scheduler found the member's job ended in BullMQ with no worker's record of it (the worker died in between). */
  | { type: 'job_settled'; outcome: 'succeeded' | 'failed'; at: number; summary?: string; workspace?: string; error?: string }
  /** `reins retry`: back to pending, keeping the cursor, the attempt history and the epoch. */
  | { type: 'retried' };

export type MemberEventType = MemberEvent['type'];

/** What an attempt reports about itself when it ends; null removes a figure an earlier attempt left. */
export interface AttemptFigures {
  exitCode?: number | null;
  sessionId?: string | null;
  costUsd?: number | null;
  numTurns?: number | null;
  /** The member's tokens over all its attempts so far (what limits.maxTokens counts against), this one's included. */
  tokens?: number | null;
  durationMs?: number;
}

export interface MemberTransition {
  /** The statuses the event may come from; from any other it is refused. */
  from: readonly MemberStatus[];
  /** Fields to write (the new status among them, when it changes). */
  set: Partial<Record<keyof MemberRecord, string | number>>;
  /** Fields to remove. */
  remove: (keyof MemberRecord)[];
  /** The event starts an attempt: the member takes the next epoch. */
  takesEpoch: boolean;
  /** The attempt record the event carries, written with it, once per epoch. */
  record?: AttemptRecord;
}

const NOT_FINAL: readonly MemberStatus[] = ['pending', 'queued', 'running', 'retrying'];
/** A member whose job is on a queue or held by a worker. */
const HAS_JOB: readonly MemberStatus[] = ['queued', 'running', 'retrying'];
const RUNNING: readonly MemberStatus[] = ['running'];

/** What an earlier attempt's ending leaves that a new attempt must not show. */
const ATTEMPT_OUTCOME_FIELDS = ['error', 'errorClass', 'exitCode', 'endedAt', 'retryAt'] as const;
/**
 * What `reins retry` clears. The cursor, the attempt history, the epoch (fencing needs it to keep rising),
 * the workspace and the session id stay, so the next attempt resumes where the last one stopped. stallsSeen
 * goes: it counts the stalls of the old BullMQ job, and the new job's stall counter starts again at 0.
 */
const RETRY_CLEARS = [...ATTEMPT_OUTCOME_FIELDS, 'summary', 'stallsSeen'] as const;

/** The fields an event writes, and the statuses it may come from. Pure: the one table of the state machine. */
export function memberTransition(event: MemberEvent): MemberTransition {
  const t = (from: readonly MemberStatus[], set: MemberTransition['set'], remove: MemberTransition['remove'] = [], extra: Partial<MemberTransition> = {}): MemberTransition => ({
    from,
    set,
    remove,
    takesEpoch: false,
    ...extra,
  });
  switch (event.type) {
    case 'released':
      return t(['pending'], { status: 'queued', queue: event.queue });
    case 'skipped':
      return t(['pending'], { status: 'skipped', error: event.reason, endedAt: event.at });
    case 'waiting':
      return t(HAS_JOB, { status: 'queued', error: event.reason, ...(event.retryAt !== undefined ? { retryAt: event.retryAt } : {}) }, event.retryAt === undefined ? ['retryAt'] : []);
    case 'noted':
      return event.note === null ? t(NOT_FINAL, {}, ['error']) : t(NOT_FINAL, { error: event.note });
    case 'attempt_started':
      return t(
        HAS_JOB,
        {
          status: 'running',
          attempts: event.attempt,
          startedAt: event.at,
          workerId: event.workerId,
          host: event.host,
          tmuxSocket: event.tmuxSocket,
          workspace: event.workspace,
          ...(event.branch ? { branch: event.branch } : {}),
          ...(event.account ? { account: event.account } : {}),
        },
        [...ATTEMPT_OUTCOME_FIELDS, ...(event.account ? [] : (['account'] as const))],
        { takesEpoch: true },
      );
    case 'round_started':
      return t(RUNNING, { tmuxSession: event.tmuxSession, ...(event.sessionId ? { sessionId: event.sessionId } : {}) });
    case 'succeeded': {
      const f = figureFields(event.figures);
      return t(
        RUNNING,
        {
          ...f.set,
          status: 'succeeded',
          summary: event.summary,
          endedAt: event.record.endedAt,
          ...(event.plan ? { plan: event.plan } : {}),
          ...(event.diffStat ? { diffStat: event.diffStat } : {}),
          ...(event.commit ? { commit: event.commit } : {}),
        },
        [...f.remove, 'error', 'errorClass', 'retryAt'],
        { record: event.record },
      );
    }
    case 'attempt_failed': {
      const f = figureFields(event.figures ?? {});
      const { outcome, message, endedAt } = event.record;
      return t(
        RUNNING,
        { ...f.set, status: event.final ? 'failed' : 'retrying', error: message, errorClass: outcome, ...(event.final ? { endedAt } : {}), ...(event.stallsSeen !== undefined ? { stallsSeen: event.stallsSeen } : {}) },
        [...f.remove, ...(event.final ? [] : (['endedAt'] as const))],
        { record: event.record },
      );
    }
    case 'rate_limited': {
      const f = figureFields(event.figures);
      const error = `${event.record.message}; waiting until ${new Date(event.retryAt).toISOString()}`;
      // A usage limit, or an account whose credentials were refused while another can take the member over.
      return t(RUNNING, { ...f.set, status: 'retrying', attempts: event.record.attempt - 1, retryAt: event.retryAt, error, errorClass: event.record.outcome }, f.remove, { record: event.record });
    }
    case 'handed_back': {
      const f = figureFields(event.figures);
      // The record says why: "the worker shut down", or its disk was full.
      return t(RUNNING, { ...f.set, status: 'queued', attempts: event.record.attempt - 1, error: `${event.record.message}; handed back` }, f.remove, { record: event.record });
    }
    case 'cancelled': {
      const f = figureFields(event.figures ?? {});
      return t(NOT_FINAL, { ...f.set, status: 'cancelled', error: 'cancelled', endedAt: event.at }, f.remove, event.record ? { record: event.record } : {});
    }
    case 'budget_refused':
      return t(HAS_JOB, { status: 'failed', errorClass: 'budget', error: event.message, endedAt: event.at });
    case 'account_refused':
      return t(HAS_JOB, { status: 'failed', errorClass: 'auth', error: event.message, endedAt: event.at });
    case 'job_settled':
      return event.outcome === 'succeeded'
        ? t(HAS_JOB, { status: 'succeeded', endedAt: event.at, ...(event.summary ? { summary: event.summary } : {}), ...(event.workspace ? { workspace: event.workspace } : {}) })
        : t(HAS_JOB, { status: 'failed', endedAt: event.at, error: event.error ?? 'failed' });
    case 'retried':
      return t(['failed', 'skipped', 'cancelled'], { status: 'pending' }, [...RETRY_CLEARS]);
  }
}

function figureFields(figures: AttemptFigures): { set: MemberTransition['set']; remove: MemberTransition['remove'] } {
  const set: MemberTransition['set'] = {};
  const remove: MemberTransition['remove'] = [];
  for (const [field, value] of Object.entries(figures) as [keyof AttemptFigures, unknown][]) {
    if (value === undefined) continue;
    if (value === null) remove.push(field);
    else set[field] = value as string | number;
  }
  return { set, remove };
}

export type AppliedEvent = { ok: true; member: MemberRecord } | { ok: false; reason: string };

/** The member after the event, or why the event does not apply to it. Pure; the store does the same in Lua. */
export function applyMemberEvent(member: MemberRecord, event: MemberEvent, epoch?: number): AppliedEvent {
  const transition = memberTransition(event);
  if (epoch !== undefined && member.epoch !== epoch) return { ok: false, reason: `attempt epoch ${epoch} of ${member.name} was superseded by ${member.epoch ?? 0}` };
  if (!transition.from.includes(member.status)) return { ok: false, reason: `${event.type} does not apply to a member that is ${member.status}` };
  if (transition.record && member.recordedEpoch === transition.record.epoch) return { ok: false, reason: `attempt epoch ${transition.record.epoch} of ${member.name} is already recorded` };
  const next: Record<string, unknown> = { ...member };
  for (const field of transition.remove) delete next[field];
  Object.assign(next, transition.set);
  if (transition.takesEpoch) next.epoch = (member.epoch ?? 0) + 1;
  if (transition.record) next.recordedEpoch = transition.record.epoch;
  return { ok: true, member: next as unknown as MemberRecord };
}

/** The fields of a member that has just joined a run: pending, no attempt yet. */
export function newMemberFields(runId: string, name: string, dependsOn: readonly string[], jobId: string): Record<string, string> {
  return { runId, name, status: 'pending', dependsOn: JSON.stringify(dependsOn), jobId, attempts: '0' };
}
