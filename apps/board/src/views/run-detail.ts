import { isFinalMemberStatus, summaryLines, tmuxAttachCommand, totalTokens } from '@reins/shared';
import type { MemberDetail, RunDetail } from '../runs/run-reader.js';
import { formatAge, formatClock, formatCost, formatDuration, formatTime, formatTokenCount, oneLine } from './format.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';
import { badge, memberCounts } from './status.js';
import { teamGraphSvg } from './team-graph-svg.js';
import { timelineSvg } from './timeline-svg.js';
import { buildTimeline } from '../runs/timeline.js';

/** Element ids of the parts of a run's page that the live stream replaces. Member names are [A-Za-z0-9_-]. */
export const fragmentId = {
  summary: 'run-summary',
  graph: 'team-graph',
  timeline: 'team-timeline',
  memberState: (member: string) => `m-${member}-state`,
  memberEvents: (member: string) => `m-${member}-events`,
};

function runSummary(d: RunDetail): SafeHtml {
  const cell = (label: string, value: SafeHtml | string) => html`<div><b>${label}</b><span>${value}</span></div>`;
  return html`${cell('Status', badge(d.run.status))}
${cell('Members', memberCounts(d.counts))}
${cell('Cost', formatCost(d.costUsd))}
${cell('Tokens', formatTokenCount(totalTokens(d.members)))}
${cell('Duration', formatDuration(d.durationMs))}
${cell('Created', formatTime(d.run.createdAt))}
${cell('Started', formatTime(d.run.startedAt))}
${cell('Ended', formatTime(d.run.endedAt))}
${d.result ? cell('Result', html`<span class="mono">${d.result.branch}</span> <span class="muted">${d.result.commit.slice(0, 12)}</span>${d.result.conflicts.map((c) => html`<br><span class="error">conflict: ${c.member} (${c.files.join(', ')})</span>`)}`) : ''}`;
}

function heartbeat(d: MemberDetail, now: number): SafeHtml {
  // Tool hooks refresh the heartbeat between the worker's ticks: the newer of the two is the agent's last sign of life.
  const signs = [d.heartbeat?.beatAt, d.heartbeat?.lastHookAt].filter((t): t is number => t !== undefined);
  const beatAt = signs.length > 0 ? Math.max(...signs) : undefined;
  if (beatAt === undefined) {
    return d.member.status === 'running' ? html`<span class="hb stale">none: the agent's heartbeat has expired or not started</span>` : html`<span class="muted">— (no live agent)</span>`;
  }
  const age = now - beatAt;
  return html`<span class="hb ${age < 15_000 ? 'fresh' : 'stale'}" data-beat-at="${beatAt}">${formatAge(age)}</span>${d.heartbeat?.inTool ? html` <span class="muted">· a tool is running</span>` : ''}`;
}

function attachCommand(d: MemberDetail): SafeHtml {
  const { tmuxSocket, tmuxSession, host, status } = d.member;
  if (!tmuxSocket || !tmuxSession) return html`<span class="muted">—</span>`;
  const command = tmuxAttachCommand(tmuxSocket, tmuxSession);
  const note = isFinalMemberStatus(status) ? ' (the session has ended)' : host ? ` (on ${host})` : '';
  return html`<code class="attach">${command}</code><span class="muted">${note}</span>`;
}

function attemptsTable(d: MemberDetail): SafeHtml {
  if (d.attempts.length === 0) return html``;
  const rows = d.attempts.map(
    (a) => html`<tr>
  <td class="num">${a.attempt}</td>
  <td><span class="badge ${a.outcome === 'succeeded' ? 's-succeeded' : 's-failed'}" data-outcome="${a.outcome}">${a.outcome}</span></td>
  <td>${a.host}${a.workerId !== a.host ? html` <span class="muted">(${a.workerId})</span>` : ''}</td>
  <td>${a.account ?? html`<span class="muted">—</span>`}</td>
  <td class="muted">${formatTime(a.endedAt)}</td>
  <td class="num">${formatDuration(a.endedAt - a.startedAt)}</td>
  <td title="${a.message}">${oneLine(a.message, 200)}</td>
</tr>`,
  );
  return html`<table class="attempts">
<thead><tr><th class="num">#</th><th>Outcome</th><th>Worker</th><th>Account</th><th>Ended</th><th class="num">Took</th><th>Message</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
}

function memberState(d: MemberDetail, now: number): SafeHtml {
  const m = d.member;
  const fact = (label: string, value: SafeHtml | string) => html`<dt>${label}</dt><dd>${value}</dd>`;
  return html`<h3>${m.name}${d.role ? html` <span class="role">${d.role}</span>` : ''} ${badge(m.status)} <span class="muted">attempt ${m.attempts}</span></h3>
<dl class="facts">
${fact('Worker', m.host ? html`${m.host}${m.workerId && m.workerId !== m.host ? html` <span class="muted">(${m.workerId})</span>` : ''}` : html`<span class="muted">—</span>`)}
${m.account ? fact('Account', m.account) : ''}
${fact('Heartbeat', heartbeat(d, now))}
${fact('Attach', attachCommand(d))}
${fact('Cost', formatCost(m.costUsd))}
${fact('Tokens', formatTokenCount(m.tokens))}
${fact('Turns', m.numTurns === undefined ? '—' : String(m.numTurns))}
${fact('Last checkpoint', formatTime(d.checkpointAt))}
${m.dependsOn.length > 0 ? fact('Depends on', m.dependsOn.join(', ')) : ''}
${m.workspace ? fact('Workspace', html`<span class="mono">${m.workspace}</span>`) : ''}
${m.branch ? fact('Branch', html`<span class="mono">${m.branch}</span>${m.diffStat ? html` <span class="muted">· ${m.diffStat}</span>` : ''}`) : ''}
${m.retryAt && m.status === 'retrying' ? fact('Next try', formatTime(m.retryAt)) : ''}
${m.summary && m.status === 'succeeded' ? fact('Summary', html`<pre class="summary">${summaryLines(m.summary).join('\n')}</pre>`) : ''}
${m.error ? fact('Error', html`<span class="error">${m.errorClass ? `[${m.errorClass}] ` : ''}${m.error}</span>`) : ''}
</dl>
${attemptsTable(d)}`;
}

function memberEvents(d: MemberDetail): SafeHtml {
  if (d.events.length === 0) return html`<li class="none">no events yet</li>`;
  return html`${d.events.map((e) => html`<li><span class="t">${formatClock(e.at)}</span><span class="k k-${/^[a-z_]+$/.test(e.kind) ? e.kind : 'other'}">${e.kind}</span>${e.text}</li>`)}`;
}

function teamGraph(d: RunDetail): SafeHtml {
  return teamGraphSvg(d.members);
}

function teamTimeline(d: RunDetail, now: number): SafeHtml {
  return timelineSvg(buildTimeline({ run: d.run, members: d.details }, now));
}

/** Every live part of the page, by element id, as the stream sends them. */
export function runFragments(d: RunDetail, now: number): Record<string, string> {
  const fragments: Record<string, string> = {
    [fragmentId.summary]: runSummary(d).value,
    [fragmentId.graph]: teamGraph(d).value,
    [fragmentId.timeline]: teamTimeline(d, now).value,
  };
  for (const member of d.details) {
    fragments[fragmentId.memberState(member.member.name)] = memberState(member, now).value;
    fragments[fragmentId.memberEvents(member.member.name)] = memberEvents(member).value;
  }
  return fragments;
}

export function runDetailPage(d: RunDetail, { readOnly, now }: { readOnly: boolean; now: number }): string {
  const members = d.details.map(
    (member) => html`<section class="member" data-member="${member.member.name}">
<div id="${fragmentId.memberState(member.member.name)}">${memberState(member, now)}</div>
<ol class="events" id="${fragmentId.memberEvents(member.member.name)}">${memberEvents(member)}</ol>
${member.prompt ? html`<details><summary>Prompt</summary><pre>${member.prompt}</pre></details>` : ''}
</section>`,
  );
  const body = html`<div class="crumbs"><a href="/runs">Runs</a> / <span class="mono">${d.run.runId}</span></div>
<h1>${d.run.name} <span class="mono muted">${d.run.runId}</span> <span id="live" class="live">${d.final ? 'ended' : 'connecting…'}</span></h1>
${d.goal && d.goal !== d.run.name ? html`<p>${d.goal}</p>` : ''}
${d.source ? html`<p class="muted">from <span class="mono">${d.source}</span></p>` : ''}
${d.run.refusal !== undefined ? html`<p class="error">The scheduler refused this submission; nothing of it ran:</p><pre class="error">${d.run.refusal}</pre>` : ''}
<div class="totals" id="${fragmentId.summary}">${runSummary(d)}</div>
<h2>Team</h2>
<div class="figure" id="${fragmentId.graph}">${teamGraph(d)}</div>
<h2>Timeline</h2>
<div class="figure" id="${fragmentId.timeline}">${teamTimeline(d, now)}</div>
<h2>Members</h2>
${members}`;
  return layout({
    title: `${d.run.name} ${d.run.runId}`,
    section: 'runs',
    body,
    readOnly,
    now,
    ...(d.final ? {} : { stream: `/runs/${encodeURIComponent(d.run.runId)}/stream` }),
  });
}
