import { RUN_STATUSES, type RunStatus } from '@reins/shared';
import type { RunSummary } from '../runs/run-reader.js';
import { formatCost, formatDuration, formatTime } from './format.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';
import { badge, memberCounts } from './status.js';

export interface RunsListOptions {
  runs: RunSummary[];
  status: RunStatus | undefined;
  readOnly: boolean;
  now: number;
}

const listUrl = (status: RunStatus | undefined, extra = ''): string => {
  const params = new URLSearchParams();
  if (status) params.set('status', status);
  if (extra) params.set('fragment', extra);
  const query = params.toString();
  return query ? `/runs?${query}` : '/runs';
};

/** The table alone: the page polls it (see assets.ts) so new runs and status changes appear. */
export function runsTable(runs: RunSummary[], status: RunStatus | undefined): SafeHtml {
  if (runs.length === 0) {
    return html`<div class="empty">${status ? html`No ${status} runs among the latest ones.` : html`No runs yet. Submit one with <code>reins submit examples/hello.yaml</code>.`}</div>`;
  }
  const rows = runs.map(
    (r) => html`<tr data-run="${r.run.runId}">
  <td><a class="mono" href="/runs/${encodeURIComponent(r.run.runId)}">${r.run.runId}</a></td>
  <td>${r.run.name}</td>
  <td>${badge(r.run.status)}</td>
  <td>${r.run.refusal !== undefined ? html`<span class="error">${r.run.refusal.split('\n')[0]}</span>` : memberCounts(r.counts)}</td>
  <td class="num">${formatCost(r.costUsd)}</td>
  <td class="num">${formatDuration(r.durationMs)}</td>
  <td class="muted">${formatTime(r.run.createdAt)}</td>
</tr>`,
  );
  return html`<table>
<thead><tr><th>Run</th><th>Harness</th><th>Status</th><th>Members</th><th class="num">Cost</th><th class="num">Duration</th><th>Created</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
}

export function runsListPage({ runs, status, readOnly, now }: RunsListOptions): string {
  const filters = [undefined, ...RUN_STATUSES].map((s) => html`<a href="${listUrl(s)}" class="${s === status ? 'here' : ''}">${s ?? 'all'}</a>`);
  const body = html`<h1>Runs <span id="live" class="live">newest first</span></h1>
<div class="filters">${filters}</div>
<div id="runs-table" data-refresh-url="${listUrl(status, 'table')}">${runsTable(runs, status)}</div>`;
  return layout({ title: status ? `${status} runs` : 'Runs', section: 'runs', body, readOnly, now });
}
