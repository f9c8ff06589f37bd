import {
  escapeControlCharsDeep,
  formatCostUsd,
  formatDuration,
  formatTokens,
  isFinalMemberStatus,
  memberActivity,
  summaryLines,
  teamTree,
  tmuxAttachCommand,
  totalTokens,
  type AttemptRecord,
  type MemberRecord,
  type RunRecord,
} from '@reins/shared';
import { ANSI, colour, visibleLength, type Output } from './terminal.js';

const STATUS_COLOURS: Record<string, string> = {
  succeeded: ANSI.green,
  failed: ANSI.red,
  refused: ANSI.red,
  cancelled: ANSI.yellow,
  skipped: ANSI.grey,
  running: ANSI.cyan,
  retrying: ANSI.magenta,
};

/** A status word, coloured when `stream` is a terminal that takes colours. */
export function paint(status: string, stream: Output = process.stdout): string {
  return colour(STATUS_COLOURS[status], status, stream);
}

/** Left-aligned columns two spaces apart; widths count visible characters, so coloured cells line up. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? ''))));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - visibleLength(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The team as a tree: each member under its first dependency, with its status; one with more
 * dependencies says which others it waits for, and a running or waiting member says why.
 *
 *   plan  succeeded
 *   ├─ build  running  ◀ attempt 2 on vm
 *   │  └─ ship  pending  (also after test)
 *   └─ test  queued  ◀ waiting: waiting for one of 1 slots under "account-a"
 */
export function renderTeamTree(records: readonly MemberRecord[], stream: Output = process.stdout): string {
  const members = escapeControlCharsDeep(records);
  const byName = new Map(members.map((m) => [m.name, m]));
  return teamTree(members)
    .map((row) => {
      const member = byName.get(row.name)!;
      const indent = row.level === 0 ? '' : `${row.rails.map((more) => (more ? '│  ' : '   ')).join('')}${row.last ? '└─ ' : '├─ '}`;
      const also = row.alsoAfter.length > 0 ? colour(ANSI.grey, `  (also after ${row.alsoAfter.join(', ')})`, stream) : '';
      const activity = memberActivity(member);
      const mark = activity ? `  ${colour(ANSI.bold, '◀', stream)} ${activity.state === 'waiting' ? 'waiting: ' : ''}${activity.why.split('\n')[0]!.slice(0, 160)}` : '';
      return `${indent}${member.name}  ${paint(member.status, stream)}${also}${mark}`;
    })
    .join('\n');
}

/**
 * `reins status` for people: the run, the team as a tree when some member depends on another, a row per
 * member, then details worth reading. Everything read from the run is escaped (escapeControlChars) before
 * it is coloured: summaries and errors are an agent's own words.
 */
export function renderRun(runRecord: RunRecord, memberRecords: readonly MemberRecord[], attemptRecords: ReadonlyMap<string, readonly AttemptRecord[]> = new Map(), stream: Output = process.stdout): string {
  const { run, members, attempts } = escapeControlCharsDeep({ run: runRecord, members: memberRecords, attempts: attemptRecords });
  const ended = run.endedAt ?? Date.now();
  const lines = [`run ${run.runId} (${run.name}): ${paint(run.status, stream)}${run.startedAt ? `, ${formatDuration(ended - run.startedAt)}` : ''}`];
  if (run.refusal !== undefined) return [...lines, `refused by the scheduler's checks (source ${run.source}):`, ...run.refusal.split('\n').map((line) => `  ${line}`)].join('\n');
  const cost = members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0);
  if (cost > 0) lines[0] += `, ${formatCostUsd(cost)}`;
  const tokens = totalTokens(members);
  if (tokens !== undefined) lines[0] += `, ${formatTokens(tokens)} tokens`;
  if (run.resultBranch && run.resultCommit) lines.push(`result: ${run.resultBranch} at ${run.resultCommit.slice(0, 12)}`);
  else if (run.integration === 'pending') lines.push("result: merging the members' branches…");
  for (const c of run.conflicts ?? []) lines.push(`conflict: ${c.member} could not be merged (${c.files.join(', ')})`);
  if (members.some((m) => m.dependsOn.length > 0)) lines.push('', renderTeamTree(members, stream));
  lines.push('');
  lines.push(
    table([
      ['MEMBER', 'STATUS', 'ATTEMPTS', 'TURNS', 'COST', 'TOKENS', 'TIME', 'AFTER'],
      ...members.map((m) => [
        m.name,
        paint(m.status, stream),
        String(m.attempts),
        m.numTurns === undefined ? '-' : String(m.numTurns),
        formatCostUsd(m.costUsd),
        formatTokens(m.tokens),
        formatDuration(m.durationMs),
        m.dependsOn.join(',') || '-',
      ]),
    ]),
  );
  for (const m of members) {
    const details: string[] = [];
    if (m.workspace) details.push(`workspace: ${m.workspace}`);
    if (m.branch) details.push(`branch:    ${m.branch}${m.diffStat ? ` (${m.diffStat})` : ''}`);
    if (m.status === 'running' && m.tmuxSocket && m.tmuxSession) {
      details.push(`attach:    ${tmuxAttachCommand(m.tmuxSocket, m.tmuxSession)}${m.host ? `   (on ${m.host}; or: reins attach ${m.runId} ${m.name})` : ''}`);
    } else if (m.tmuxSession && isFinalMemberStatus(m.status)) {
      details.push(`attach:    - (its tmux session ended with the agent; reins logs ${m.runId} ${m.name} shows what it did)`);
    }
    if (m.sessionId) details.push(`session:   ${m.sessionId}`);
    if (m.error) details.push(`error:     ${m.errorClass ? `[${m.errorClass}] ` : ''}${m.error}`);
    else if (m.summary && m.status === 'succeeded') {
      const [first = '', ...rest] = summaryLines(m.summary);
      details.push(`summary:   ${first}`, ...rest.map((l) => `           ${l}`));
    }
    if (m.retryAt && m.status === 'retrying') details.push(`next try:  ${new Date(m.retryAt).toISOString()}`);
    const history = attempts.get(m.name) ?? [];
    if (history.length > 1 || history.some((a) => a.outcome !== 'succeeded')) {
      details.push('attempts:');
      for (const a of history) {
        const when = new Date(a.endedAt).toISOString().replace('T', ' ').slice(0, 19);
        details.push(`  #${a.attempt} ${when} ${a.outcome.padEnd(17)} on ${a.workerId}${a.account ? ` (account ${a.account})` : ''}: ${a.message.split('\n')[0]!.slice(0, 160)}`);
      }
    }
    if (details.length > 0) lines.push('', `${m.name}:`, ...details.map((d) => `  ${d}`));
  }
  return lines.join('\n');
}
