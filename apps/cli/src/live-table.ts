import { escapeControlCharsDeep, formatAge, formatCostUsd, formatDuration, formatTokens, totalTokens, type AgentEvent, type HeartbeatInfo, type MemberRecord, type MemberView } from '@reins/shared';
import { paint, table } from './render.js';
import type { RunSnapshot } from './run-lookup.js';
import { ANSI, colour, type Output } from './terminal.js';

/** What the live table shows beyond the run snapshot: each member's heartbeat and newest event. */
export interface LiveActivity {
  /** By job id; only members whose agent is alive have one. */
  heartbeats: Map<string, HeartbeatInfo>;
  /** By member name. */
  lastEvents: Map<string, AgentEvent>;
  /** How long a new attempt may go without a heartbeat before its absence means something. */
  heartbeatTtlMs: number;
}

function heartbeatCell(member: MemberRecord | undefined, heartbeat: HeartbeatInfo | undefined, ttlMs: number, now: number, stream: Output): string {
  if (!member || (member.status !== 'running' && !heartbeat)) return '-';
  // The worker's first beat comes a tick after the agent starts; only a heartbeat gone longer is news.
  if (!heartbeat?.beatAt) return member.startedAt !== undefined && now - member.startedAt < ttlMs ? 'starting' : colour(ANSI.red, 'missing', stream);
  return `${formatAge(now - heartbeat.beatAt)}${heartbeat.inTool ? ' (in tool)' : ''}`;
}

function stateCell(view: MemberView, member: MemberRecord | undefined, now: number, stream: Output): string {
  if (view.status === 'retrying' && member?.retryAt !== undefined && member.retryAt > now) {
    return `${paint('retrying', stream)} in ${formatDuration(Math.ceil((member.retryAt - now) / 1_000) * 1_000)}`;
  }
  return paint(view.status, stream);
}

/**
 * One frame of `reins status --watch` and `reins submit --wait` on a terminal: the run's line, then a row
 * per member with its state, attempt, heartbeat age, cost and newest event; what the run and its agents
 * wrote is escaped (escapeControlChars) before it is coloured.
 */
export function renderLiveTable(runSnapshot: RunSnapshot, liveActivity: LiveActivity, stream: Output, now = Date.now()): string[] {
  const { snapshot, activity } = escapeControlCharsDeep({ snapshot: runSnapshot, activity: liveActivity });
  const { view, run } = snapshot;
  const byName = new Map(snapshot.members.map((m) => [m.name, m]));
  const done = view.members.filter((m) => m.status === 'succeeded').length;
  const cost = view.members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0);
  const elapsed = run?.startedAt ? `, ${formatDuration((run.endedAt ?? now) - run.startedAt)}` : '';
  const tokens = totalTokens(view.members);
  const head = `run ${view.runId}${run ? ` (${run.name})` : ''}: ${paint(view.status, stream)}${elapsed}, ${done}/${view.members.length} succeeded${cost > 0 ? `, ${formatCostUsd(cost)}` : ''}${tokens !== undefined ? `, ${formatTokens(tokens)} tokens` : ''}`;
  const rows = [
    ['MEMBER', 'STATE', 'ATTEMPT', 'HEARTBEAT', 'COST', 'TOKENS', 'LAST EVENT'],
    ...view.members.map((m) => {
      const member = byName.get(m.name);
      const event = activity.lastEvents.get(m.name);
      return [
        m.name,
        stateCell(m, member, now, stream),
        m.attempts > 0 ? String(m.attempts) : '-',
        heartbeatCell(member, member ? activity.heartbeats.get(member.jobId) : undefined, activity.heartbeatTtlMs, now, stream),
        formatCostUsd(m.costUsd),
        formatTokens(m.tokens),
        event ? `${formatAge(now - event.at)}  ${event.kind}: ${event.text.replace(/\s+/g, ' ')}` : '-',
      ];
    }),
  ];
  return [head, '', ...table(rows).split('\n')];
}
