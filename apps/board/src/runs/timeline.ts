import type { AgentEvent, AttemptRecord, MemberRecord } from '@reins/shared';

/**
 * Every member's life on one time axis, derived from what Redis keeps: the member record (status,
 * current attempt's start, waiting note, next try), its attempt records (start, end, outcome) and the
 * verify events in its event tail. Pure, so the picture is tested without Redis.
 *
 * What is not recorded is inferred, and says so in its label: a member is taken to be queued from when its
 * last dependency ended (the scheduler releases it then) or from the run's creation, and a past wait for a
 * slot reads as queued; only a wait under way carries its reason.
 */
export type SpanKind = 'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'backoff';

export interface TimelineSpan {
  kind: SpanKind;
  fromMs: number;
  toMs: number;
  /** What the span's tooltip says. */
  label: string;
  /** The attempt, for running and ended attempts. */
  attempt?: number;
  /** An ended attempt's outcome: "succeeded" or its failure class. */
  outcome?: string;
}

export type MarkKind = 'verify' | 'skipped' | 'next-try';

export interface TimelineMark {
  kind: MarkKind;
  atMs: number;
  label: string;
}

export interface TimelineRow {
  member: string;
  status: string;
  spans: TimelineSpan[];
  marks: TimelineMark[];
}

export interface Timeline {
  startMs: number;
  endMs: number;
  rows: TimelineRow[];
}

export interface TimelineInput {
  run: { createdAt: number; endedAt?: number | undefined };
  members: readonly { member: MemberRecord; attempts: readonly AttemptRecord[]; events: readonly AgentEvent[] }[];
}

export function buildTimeline({ run, members }: TimelineInput, now: number): Timeline {
  const ends = new Map(members.map(({ member }) => [member.name, member.endedAt]));
  const rows = members.map(({ member, attempts, events }) => memberRow(member, attempts, events, releasedAt(member, ends, run.createdAt), now));
  const times = rows.flatMap((r) => [...r.spans.flatMap((s) => [s.fromMs, s.toMs]), ...r.marks.map((m) => m.atMs)]);
  const startMs = Math.min(run.createdAt, ...times);
  const endMs = Math.max(startMs + 1_000, run.endedAt ?? now, ...times);
  return { startMs, endMs, rows };
}

function releasedAt(member: MemberRecord, ends: ReadonlyMap<string, number | undefined>, createdAt: number): number {
  const depEnds = member.dependsOn.map((d) => ends.get(d)).filter((t): t is number => t !== undefined);
  return depEnds.length > 0 ? Math.max(createdAt, ...depEnds) : createdAt;
}

function memberRow(member: MemberRecord, attemptRecords: readonly AttemptRecord[], events: readonly AgentEvent[], released: number, now: number): TimelineRow {
  const spans: TimelineSpan[] = [];
  const marks: TimelineMark[] = [];
  const attempts = [...attemptRecords].sort((a, b) => a.startedAt - b.startedAt || a.epoch - b.epoch);
  // The attempt under way has no record until it ends.
  const current = member.status === 'running' && member.startedAt !== undefined && !attempts.some((a) => a.epoch === member.epoch) ? member.startedAt : undefined;
  const starts = [...attempts.map((a) => a.startedAt), ...(current === undefined ? [] : [current])];
  const waitNote = member.status === 'queued' && member.error ? member.error : undefined;

  const firstStart = starts[0];
  if (firstStart !== undefined) {
    if (firstStart > released) spans.push(...queuedSpans(released, firstStart, events));
  } else if (member.status === 'queued') {
    spans.push(waitNote ? { kind: 'waiting', fromMs: released, toMs: now, label: `waiting: ${waitNote}` } : { kind: 'queued', fromMs: released, toMs: now, label: 'queued: waiting for a worker' });
  }

  attempts.forEach((a, i) => {
    const ok = a.outcome === 'succeeded';
    spans.push({
      kind: ok ? 'succeeded' : 'failed',
      fromMs: a.startedAt,
      toMs: Math.max(a.startedAt, a.endedAt),
      label: `attempt ${a.attempt} on ${a.host}: ${ok ? 'succeeded' : `${a.outcome}: ${a.message.split('\n')[0]}`}`,
      attempt: a.attempt,
      outcome: a.outcome,
    });
    if (ok) return;
    const next = starts[i + 1];
    const gapEnd = next ?? (member.status === 'retrying' || member.status === 'queued' ? now : undefined);
    if (gapEnd === undefined || gapEnd <= a.endedAt) return;
    spans.push(gapSpan(a, a.endedAt, gapEnd, next === undefined ? waitNote : undefined));
  });

  if (current !== undefined)
    spans.push({ kind: 'running', fromMs: current, toMs: Math.max(current, now), label: `attempt ${member.attempts}${member.host ? ` on ${member.host}` : ''}: running`, attempt: member.attempts });
  if (member.status === 'retrying' && member.retryAt !== undefined) marks.push({ kind: 'next-try', atMs: member.retryAt, label: `next try at ${new Date(member.retryAt).toISOString().slice(11, 19)} UTC` });
  if (member.status === 'skipped' && member.endedAt !== undefined) marks.push({ kind: 'skipped', atMs: member.endedAt, label: `skipped: ${member.error ?? 'a dependency did not succeed'}` });
  // Verify rounds that failed leave a "verify" event; only those in the board's event tail are seen.
  for (const e of events) if (e.kind === 'verify') marks.push({ kind: 'verify', atMs: e.at, label: `verify: ${e.text.split('\n')[0]}` });
  return { member: member.name, status: member.status, spans, marks };
}

/**
 * Queued before the first attempt: a wait that has ended left a `wait` event when it began (admission.ts),
 * so the stretch from there to the start is that wait, and the time before it plain queueing.
 */
function queuedSpans(fromMs: number, toMs: number, events: readonly AgentEvent[]): TimelineSpan[] {
  const began = events.find((e) => e.kind === 'wait' && e.at >= fromMs && e.at < toMs);
  if (!began) return [{ kind: 'queued', fromMs, toMs, label: 'queued: waiting for a worker (or a slot)' }];
  const waiting: TimelineSpan = { kind: 'waiting', fromMs: began.at, toMs, label: `waited: ${began.text}` };
  return began.at > fromMs ? [{ kind: 'queued', fromMs, toMs: began.at, label: 'queued: waiting for a worker' }, waiting] : [waiting];
}

/** Between a failed attempt and the next: a backoff before a retry, or a wait that uses no attempt. */
function gapSpan(after: AttemptRecord, fromMs: number, toMs: number, waitNote: string | undefined): TimelineSpan {
  if (waitNote) return { kind: 'waiting', fromMs, toMs, label: `waiting: ${waitNote}` };
  if (after.outcome === 'rate_limit') return { kind: 'waiting', fromMs, toMs, label: 'waiting for the account: rate limited' };
  if (after.outcome === 'shutdown') return { kind: 'queued', fromMs, toMs, label: 'queued again: the worker shut down and handed it back' };
  return { kind: 'backoff', fromMs, toMs, label: `retry after ${after.outcome}` };
}
