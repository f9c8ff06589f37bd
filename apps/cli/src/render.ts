import { tmuxAttachCommand, type AttemptRecord, type MemberRecord, type RunRecord, type RunView } from '@reins/shared';
import { ANSI, colour, visibleLength, type Output } from './terminal.js';

const STATUS_COLOURS: Record<string, string> = {
  succeeded: ANSI.green,
  failed: ANSI.red,
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
  return rows.map((r) => r.map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - visibleLength(cell)))).join('  ').trimEnd()).join('\n');
}

export function formatCost(usd: number | undefined): string {
  return usd === undefined ? '-' : `$${usd.toFixed(4)}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** A past moment as an age: "0.4 s", "3 min 2 s", "2 h 5 min", "3 d 4 h". */
export function formatAge(at: number | undefined, now: number): string {
  if (at === undefined) return '-';
  const ms = Math.max(0, now - at);
  if (ms >= 86_400_000) return `${Math.floor(ms / 86_400_000)} d ${Math.floor((ms % 86_400_000) / 3_600_000)} h`;
  if (ms >= 3_600_000) return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
  return ms < 1_000 ? `${(ms / 1_000).toFixed(1)} s` : formatDuration(Math.round(ms / 100) * 100);
}

/** `reins status` for people: the run, a row per member, then details worth reading. */
export function renderRun(run: RunRecord, members: readonly MemberRecord[], attempts: ReadonlyMap<string, readonly AttemptRecord[]> = new Map()): string {
  const ended = run.endedAt ?? Date.now();
  const lines = [`run ${run.runId} (${run.name}): ${paint(run.status)}${run.startedAt ? `, ${formatDuration(ended - run.startedAt)}` : ''}`];
  const cost = members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0);
  if (cost > 0) lines[0] += `, ${formatCost(cost)}`;
  if (run.resultBranch && run.resultCommit) lines.push(`result: ${run.resultBranch} at ${run.resultCommit.slice(0, 12)}`);
  else if (run.integration === 'pending') lines.push('result: merging the members\' branches…');
  for (const c of run.conflicts ?? []) lines.push(`conflict: ${c.member} could not be merged (${c.files.join(', ')})`);
  lines.push('');
  lines.push(
    table([
      ['MEMBER', 'STATUS', 'ATTEMPTS', 'TURNS', 'COST', 'TIME', 'AFTER'],
      ...members.map((m) => [
        m.name,
        paint(m.status),
        String(m.attempts),
        m.numTurns === undefined ? '-' : String(m.numTurns),
        formatCost(m.costUsd),
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
    }
    if (m.sessionId) details.push(`session:   ${m.sessionId}`);
    if (m.error) details.push(`error:     ${m.errorClass ? `[${m.errorClass}] ` : ''}${m.error}`);
    else if (m.summary && m.status === 'succeeded') details.push(`summary:   ${m.summary.split('\n')[0]!.slice(0, 200)}`);
    if (m.retryAt && m.status === 'retrying') details.push(`next try:  ${new Date(m.retryAt).toISOString()}`);
    const history = attempts.get(m.name) ?? [];
    if (history.length > 1 || history.some((a) => a.outcome !== 'succeeded')) {
      details.push('attempts:');
      for (const a of history) {
        const when = new Date(a.endedAt).toISOString().replace('T', ' ').slice(0, 19);
        details.push(`  #${a.attempt} ${when} ${a.outcome.padEnd(17)} on ${a.workerId}: ${a.message.split('\n')[0]!.slice(0, 160)}`);
      }
    }
    if (details.length > 0) lines.push('', `${m.name}:`, ...details.map((d) => `  ${d}`));
  }
  return lines.join('\n');
}

export function renderJson(view: RunView): string {
  return JSON.stringify(view);
}
