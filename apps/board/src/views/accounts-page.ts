import { escapeControlCharsDeep, type AccountOverview, type AccountWindow } from '@reins/shared';
import { formatAge, formatCost, formatTime } from './format.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

export interface AccountsPageOptions {
  accounts: AccountOverview[];
  readOnly: boolean;
  now: number;
}

/** Window statuses Claude Code reports, as pill classes; anything else is drawn grey. */
const WINDOW_CLASSES: Record<string, string> = { allowed: 's-succeeded', allowed_warning: 's-cancelled', rejected: 's-failed' };

/** "93%": utilization is reported as a fraction. */
export const formatUtilization = (utilization: number | undefined): string => (utilization === undefined ? '—' : `${Math.round(utilization * 100)}%`);

function windowLine(type: string, w: AccountWindow, now: number): SafeHtml {
  return html`<li><span class="mono">${type}</span> <span class="badge ${WINDOW_CLASSES[w.status] ?? ''}" data-window-status="${w.status}">${w.status}</span> <b>${formatUtilization(w.utilization)}</b>${w.resetsAt !== undefined ? html` <span class="muted">resets ${formatTime(w.resetsAt)}</span>` : ''} <span class="muted">(reported ${formatAge(now - w.at)})</span></li>`;
}

/** What stops agents under the account now, most serious first; an account nothing stops is ok. */
function accountState(a: AccountOverview, now: number): SafeHtml {
  const parts: SafeHtml[] = [];
  if (a.broken) parts.push(html`<div><span class="badge s-failed">broken</span> <span class="error">${a.broken.message}</span> <span class="muted">since ${formatTime(a.broken.at)}</span></div>`);
  if (a.pausedUntil !== undefined && a.pausedUntil > now)
    parts.push(html`<div><span class="badge s-cancelled">paused</span> until ${formatTime(a.pausedUntil)}${a.pausedWhy ? html` <span class="muted">· ${a.pausedWhy}</span>` : ''}</div>`);
  if (a.workers.length === 0) parts.push(html`<div class="muted">no live worker holds it</div>`);
  return parts.length > 0 ? html`${parts}` : html`<span class="badge s-succeeded">ok</span>`;
}

/**
 * The table alone: the page polls it (see assets.ts), as the runs list does. What Redis holds is shown with its
 * control characters as visible escapes (`\x1b`), as the CLI shows it: a broken mark quotes Claude Code's own
 * message, and the page read with curl in a terminal must not steer it.
 */
export function accountsTable(held: AccountOverview[], now: number): SafeHtml {
  const accounts = escapeControlCharsDeep(held);
  if (accounts.length === 0) {
    return html`<div class="empty">No accounts yet. Each worker announces the Claude accounts it holds (<code>REINS_ACCOUNTS_FILE</code>, or <code>default</code> from its environment) when it starts.</div>`;
  }
  const rows = accounts.map((a) => {
    const windows = Object.entries(a.windows).sort(([x], [y]) => x.localeCompare(y));
    return html`<tr data-account="${a.name}">
  <td class="mono">${a.name}</td>
  <td>${accountState(a, now)}</td>
  <td>${windows.length > 0 ? html`<ul class="windows">${windows.map(([type, w]) => windowLine(type, w, now))}</ul>` : html`<span class="muted">none reported yet</span>`}</td>
  <td class="num">${a.agents}</td>
  <td class="num">${a.today.tokens.toLocaleString('en-US')}</td>
  <td class="num">${formatCost(a.today.costUsd)}</td>
  <td>${a.workers.length > 0 ? a.workers.join(', ') : html`<span class="muted">—</span>`}</td>
</tr>`;
  });
  return html`<table>
<thead><tr><th>Account</th><th>State</th><th>Windows</th><th class="num">Agents</th><th class="num">Tokens today</th><th class="num">Cost today</th><th>Held by</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
}

export function accountsPage({ accounts, readOnly, now }: AccountsPageOptions): string {
  const body = html`<h1>Accounts <span id="live" class="live">fleet-wide</span></h1>
<p class="muted">Each Claude account the fleet knows: its usage windows as Claude Code last reported them, a pause until a rejected window resets, a broken mark after its credentials were refused, and today's (UTC) usage. Secrets stay on the worker hosts.</p>
<div id="accounts-table" data-refresh-url="/accounts?fragment=table">${accountsTable(accounts, now)}</div>`;
  return layout({ title: 'Accounts', section: 'accounts', body, readOnly, now });
}
