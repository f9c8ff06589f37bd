import { describe, expect, it } from 'vitest';
import { MEMBER_STATUSES, applyMemberEvent, type AttemptRecord, type MemberEvent, type MemberRecord, type MemberStatus } from '@reins/shared';
import { memberTransition } from '../../libs/shared/src/runs/member-state.js';

const member = (status: MemberStatus, extra: Partial<MemberRecord> = {}): MemberRecord => ({ runId: 'r-test000001', name: 'a', status, dependsOn: [], jobId: 'r-test000001.a', attempts: 0, ...extra });
const record = (epoch: number, outcome = 'crash'): AttemptRecord => ({ attempt: 1, epoch, outcome, message: `${outcome} happened`, startedAt: 10, endedAt: 20, workerId: 'w1', host: 'h1' });
const started: MemberEvent = { type: 'attempt_started', attempt: 1, at: 10, workerId: 'w1', host: 'h1', tmuxSocket: '/s', workspace: '/w' };

/** Runs events from a fresh member; each must apply. */
function run(events: MemberEvent[], epochs: (number | undefined)[] = []): MemberRecord {
  let m = member('pending');
  for (const [i, event] of events.entries()) {
    const next = applyMemberEvent(m, event, epochs[i]);
    if (!next.ok) throw new Error(`event ${i} (${event.type}) refused: ${next.reason}`);
    m = next.member;
  }
  return m;
}

describe('the member state machine', () => {
  it('walks the happy path: released, started (taking epoch 1), succeeded with its figures', () => {
    const m = run([{ type: 'released', queue: 'agent' }, started, { type: 'succeeded', record: record(1, 'succeeded'), summary: 'all done', figures: { exitCode: 0, costUsd: 0.5 } }], [undefined, undefined, 1]);
    expect(m).toMatchObject({ status: 'succeeded', epoch: 1, recordedEpoch: 1, attempts: 1, summary: 'all done', exitCode: 0, costUsd: 0.5, endedAt: 20 });
  });

  it('a failed attempt retries, and the next start clears what the failure left', () => {
    const failed = run([{ type: 'released', queue: 'agent' }, started, { type: 'attempt_failed', record: record(1), final: false, figures: { exitCode: 3 } }], [undefined, undefined, 1]);
    expect(failed).toMatchObject({ status: 'retrying', error: 'crash happened', errorClass: 'crash', exitCode: 3 });
    const again = applyMemberEvent(failed, { ...started, attempt: 2 });
    expect(again.ok && again.member).toMatchObject({ status: 'running', epoch: 2, attempts: 2 });
    expect(again.ok && again.member.error).toBeUndefined();
    expect(again.ok && again.member.exitCode).toBeUndefined();
  });

  it('refuses an event from a status it does not start from', () => {
    expect(applyMemberEvent(member('pending'), started)).toEqual({ ok: false, reason: 'attempt_started does not apply to a member that is pending' });
    expect(applyMemberEvent(member('succeeded', { epoch: 1 }), started).ok).toBe(false);
    expect(applyMemberEvent(member('cancelled'), { type: 'released', queue: 'agent' }).ok).toBe(false);
    expect(applyMemberEvent(member('retrying', { epoch: 1 }), { type: 'succeeded', record: record(1, 'succeeded'), summary: 's', figures: {} }, 1).ok).toBe(false);
  });

  it('refuses a superseded attempt’s write', () => {
    const result = applyMemberEvent(member('running', { epoch: 3 }), { type: 'attempt_failed', record: record(2), final: false }, 2);
    expect(result).toEqual({ ok: false, reason: 'attempt epoch 2 of a was superseded by 3' });
  });

  it('records an attempt once: a stall of an attempt already recorded as a crash is refused', () => {
    const crashed = run([{ type: 'released', queue: 'agent' }, started, { type: 'attempt_failed', record: record(1, 'crash'), final: false }], [undefined, undefined, 1]);
    // Even were the status to read running again, the epoch's record is there already.
    const stall = applyMemberEvent({ ...crashed, status: 'running' }, { type: 'attempt_failed', record: record(1, 'stalled'), final: false, stallsSeen: 1 }, 1);
    expect(stall).toEqual({ ok: false, reason: 'attempt epoch 1 of a is already recorded' });
  });

  it('a rate limit and a hand-back use no attempt', () => {
    const base = [{ type: 'released', queue: 'agent' } as const, started];
    const limited = run([...base, { type: 'rate_limited', record: record(1, 'rate_limit'), retryAt: 1_800_000_000_000, figures: {} }], [undefined, undefined, 1]);
    expect(limited).toMatchObject({ status: 'retrying', attempts: 0, retryAt: 1_800_000_000_000, errorClass: 'rate_limit' });
    expect(limited.error).toContain('waiting until 2027-01-15T08:00:00.000Z');
    const handed = run([...base, { type: 'handed_back', record: { ...record(1, 'shutdown'), message: 'the worker shut down' }, figures: {} }], [undefined, undefined, 1]);
    expect(handed).toMatchObject({ status: 'queued', attempts: 0, error: 'the worker shut down; handed back' });
    // A full disk is the worker's too: the record says why.
    const noRoom = run([...base, { type: 'handed_back', record: { ...record(1, 'disk_full'), message: 'disk full on worker w1 (h): ENOSPC' }, figures: {} }], [undefined, undefined, 1]);
    expect(noRoom).toMatchObject({ status: 'queued', attempts: 0, error: 'disk full on worker w1 (h): ENOSPC; handed back' });
  });

  it('retry takes an ended member back to pending, keeping its epoch and clearing its outcome', () => {
    const failed = run([{ type: 'released', queue: 'agent' }, started, { type: 'attempt_failed', record: record(1), final: true, stallsSeen: 2 }], [undefined, undefined, 1]);
    const retried = applyMemberEvent(failed, { type: 'retried' });
    expect(retried.ok).toBe(true);
    if (!retried.ok) return;
    expect(retried.member).toMatchObject({ status: 'pending', epoch: 1, attempts: 1 });
    for (const field of ['error', 'errorClass', 'endedAt', 'stallsSeen'] as const) expect(retried.member[field]).toBeUndefined();
  });

  it('every event has a transition that names statuses we know, and no final status leads anywhere but retry', () => {
    const samples: MemberEvent[] = [
      { type: 'released', queue: 'agent' },
      { type: 'skipped', reason: 'r', at: 1 },
      { type: 'waiting', reason: 'r' },
      { type: 'noted', note: 'n' },
      started,
      { type: 'round_started', tmuxSession: 's' },
      { type: 'succeeded', record: record(1), summary: 's', figures: {} },
      { type: 'attempt_failed', record: record(1), final: true },
      { type: 'rate_limited', record: record(1), retryAt: 1, figures: {} },
      { type: 'handed_back', record: record(1), figures: {} },
      { type: 'cancelled', at: 1 },
      { type: 'budget_refused', at: 1, message: 'm' },
      { type: 'job_settled', outcome: 'succeeded', at: 1 },
      { type: 'retried' },
    ];
    const finals = new Set<MemberStatus>(['succeeded', 'failed', 'skipped', 'cancelled']);
    for (const event of samples) {
      const t = memberTransition(event);
      for (const status of t.from) expect(MEMBER_STATUSES).toContain(status);
      if (t.set.status !== undefined) expect(MEMBER_STATUSES).toContain(t.set.status);
      if (event.type !== 'retried') expect(t.from.filter((s) => finals.has(s))).toEqual([]);
    }
  });
});
