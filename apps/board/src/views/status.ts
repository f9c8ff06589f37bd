import { MEMBER_STATUSES, type MemberStatus } from '@reins/shared';
import { html, type SafeHtml } from './html.js';

/** A coloured status pill; the class name comes from a closed list, never from input. */
export function badge(status: string): SafeHtml {
  return html`<span class="badge s-${cssStatus(status)}" data-status="${status}">${status}</span>`;
}

/** Member counts in lifecycle order: "● 2 running ● 1 succeeded". */
export function memberCounts(counts: ReadonlyMap<MemberStatus, number>): SafeHtml {
  const parts = MEMBER_STATUSES.filter((s) => (counts.get(s) ?? 0) > 0).map((s) => html`<span><i class="s-${s}"></i>${counts.get(s) ?? 0} ${s}</span>`);
  return html`<span class="counts">${parts.length > 0 ? parts : html`<span class="muted">no members</span>`}</span>`;
}

/** A status as a class name: only [a-z]+ passes, anything else is "unknown". */
export function cssStatus(status: string): string {
  return /^[a-z]+$/.test(status) ? status : 'unknown';
}
