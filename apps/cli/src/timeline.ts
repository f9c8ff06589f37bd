import { escapeControlChars, type AgentEvent, type AttemptRecord, type MemberRecord } from '@reins/shared';
import { ANSI, colour, type Output } from './terminal.js';

/**
 * One line of a member's story as `reins logs` tells it: an event the agent printed (what it said, the
 * tools it called on what, the CLI's API retries, the result), or an attempt starting or ending, which
 * is where reins's own retries show.
 */
export interface TimelineEntry {
  member: string;
  /** The event's stream id, or `attempt:<epoch>:start|end`: unique per member, for following without repeats. */
  id: string;
  at: number;
  kind: string;
  text: string;
}

export function eventEntry(member: string, event: AgentEvent): TimelineEntry {
  return { member, id: event.id, at: event.at, kind: event.kind, text: event.text };
}

/** "w1 (host-a)", or once when the worker's id is its host name (the default): "vm", not "vm (vm)". */
const workerName = (workerId: string, host: string): string => (workerId === host ? workerId : `${workerId} (${host})`);

const firstLine = (text: string): string => text.split('\n')[0]!.slice(0, 300);

/**
 * Attempt starts and ends from the member's attempt history, plus the start of the attempt under way
 * (which has no history record until it ends).
 */
export function attemptEntries(member: string, history: readonly AttemptRecord[], current: MemberRecord | undefined): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const a of history) {
    entries.push({ member, id: `attempt:${a.epoch}:start`, at: a.startedAt, kind: 'attempt', text: `attempt ${a.attempt} started on ${workerName(a.workerId, a.host)}` });
    const how = a.outcome === 'succeeded' ? 'succeeded' : `ended: ${a.outcome}`;
    entries.push({ member, id: `attempt:${a.epoch}:end`, at: a.endedAt, kind: 'attempt', text: `attempt ${a.attempt} ${how}${a.message && a.outcome !== 'succeeded' ? `: ${firstLine(a.message)}` : ''}` });
  }
  const ended = new Set(history.map((a) => a.epoch));
  if (current?.status === 'running' && current.epoch !== undefined && current.startedAt !== undefined && !ended.has(current.epoch)) {
    entries.push({ member, id: `attempt:${current.epoch}:start`, at: current.startedAt, kind: 'attempt', text: `attempt ${current.attempts} started on ${workerName(current.workerId ?? '?', current.host ?? '?')}` });
  }
  if (current?.status === 'retrying' && current.retryAt !== undefined && current.epoch !== undefined) {
    entries.push({ member, id: `attempt:${current.epoch}:wait`, at: current.endedAt ?? Date.now(), kind: 'attempt', text: `next attempt at ${new Date(current.retryAt).toISOString()}` });
  }
  return entries;
}

/** Time order; at the same moment an attempt's start comes before its events and its end after them. */
export function byTime(a: TimelineEntry, b: TimelineEntry): number {
  const rank = (e: TimelineEntry) => (e.id.endsWith(':start') ? 0 : e.id.startsWith('attempt:') ? 2 : 1);
  return a.at - b.at || rank(a) - rank(b) || a.id.localeCompare(b.id);
}

const KIND_COLOURS: Record<string, string> = {
  init: ANSI.grey,
  tool: ANSI.cyan,
  tool_error: ANSI.red,
  error: ANSI.red,
  retry: ANSI.yellow,
  result: ANSI.green,
  attempt: ANSI.magenta,
};

/**
 * `HH:MM:SS  [member  ]kind       text`, the kind coloured on a terminal. The text is what the agent
 * printed: escaped (escapeControlChars), and only then put beside reins's colours.
 */
export function formatEntry(entry: TimelineEntry, options: { memberWidth?: number; stream: Output }): string {
  const time = new Date(entry.at).toISOString().slice(11, 19);
  const who = options.memberWidth ? `${escapeControlChars(entry.member).padEnd(options.memberWidth)}  ` : '';
  const failed = entry.kind === 'attempt' && / ended: /.test(entry.text);
  const kind = colour(failed ? ANSI.red : KIND_COLOURS[entry.kind], escapeControlChars(entry.kind).padEnd(10), options.stream);
  return `${time}  ${who}${kind} ${escapeControlChars(entry.text)}`;
}
