import type { AttemptRecord, MemberRecord, RunRecord, RunView } from '@reins/shared';

const useColour = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

const COLOURS: Record<string, string> = {
  succeeded: '32',
  failed: '31',
  cancelled: '33',
  skipped: '90',
  running: '36',
  retrying: '35',
};

export function paint(status: string): string {
  const code = COLOURS[status];
  return code && useColour() ? `\u001b[${code}m${status}\u001b[0m` : status;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? ''))));
  return rows.map((r) => r.map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - visibleLength(cell)))).join('  ').trimEnd()).join('\n');
}

const visibleLength = (text: string): number => text.replace(/\u001b\[[0-9;]*m/g, '').length;

export function formatCost(usd: number | undefined): string {
  return usd === undefined ? '-' : `$${usd.toFixed(4)}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** `reins status` for people: the run, a row per member, then details worth reading. */
export function renderRun(run: RunRecord, members: readonly MemberRecord[], attempts: ReadonlyMap<string, readonly AttemptRecord[]> = new Map()): string {
  const ended = run.endedAt ?? Date.now();
  const lines = [`run ${run.runId} (${run.name}): ${paint(run.status)}${run.startedAt ? `, ${formatDuration(ended - run.startedAt)}` : ''}`];
  const cost = members.reduce((sum, m) => sum + (m.costUsd ?? 0), 0);
  if (cost > 0) lines[0] += `, ${formatCost(cost)}`;
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
    if (m.status === 'running' && m.tmuxSocket && m.tmuxSession) {
      details.push(`attach:    tmux -S ${m.tmuxSocket} attach -t =${m.tmuxSession}${m.host ? `   (on ${m.host})` : ''}`);
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
