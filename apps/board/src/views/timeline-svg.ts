import { formatDuration } from '@reins/shared';
import type { Timeline } from '../runs/timeline.js';
import { oneLine, svgNumber } from './format.js';
import { html, type SafeHtml } from './html.js';
import { cssStatus } from './status.js';

/**
 * Every member's attempts on one time axis, as inline SVG: a row per member, bars for queued, waiting,
 * running, failed and succeeded attempts and the backoff before a retry, ticks for verify rounds, a
 * cross where a member was skipped. Every bar has a title (the attempt, its outcome and message).
 */
const LABEL_W = 150;
const PLOT_W = 820;
const ROW_H = 24;
const BAR_H = 14;
const AXIS_H = 22;
const PAD = 8;
const NAME_CHARS = 20;

/** Tick steps, seconds to days: the first that gives at most eight ticks is used. */
const STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 43_200, 86_400].map((s) => s * 1_000);

export function timelineSvg(timeline: Timeline): SafeHtml {
  if (timeline.rows.length === 0) return html`<p class="muted">no members</p>`;
  const { startMs, endMs, rows } = timeline;
  const span = Math.max(1, endMs - startMs);
  const x = (ms: number) => svgNumber(LABEL_W + ((Math.min(Math.max(ms, startMs), endMs) - startMs) / span) * PLOT_W);
  const width = LABEL_W + PLOT_W + PAD * 2;
  const height = AXIS_H + rows.length * ROW_H + PAD;
  const step = STEPS_MS.find((s) => span / s <= 8) ?? Math.ceil(span / 8);

  const ticks: SafeHtml[] = [];
  for (let t = 0; t <= span; t += step) {
    const tx = x(startMs + t);
    ticks.push(html`<line class="tl-grid" x1="${tx}" y1="${AXIS_H - 4}" x2="${tx}" y2="${height - PAD}"/><text class="tl-tick" x="${tx}" y="${AXIS_H - 8}">${t === 0 ? '0' : formatDuration(t)}</text>`);
  }

  const lanes = rows.map((row, i) => {
    const top = AXIS_H + i * ROW_H;
    const barY = top + (ROW_H - BAR_H) / 2;
    const bars = row.spans.map((s) => {
      const x1 = x(s.fromMs);
      const w = Math.max(2, x(s.toMs) - x1);
      return html`<rect class="tl-span tl-${s.kind}" data-kind="${s.kind}"${s.outcome ? html` data-outcome="${s.outcome}"` : ''} x="${x1}" y="${barY}" width="${svgNumber(w)}" height="${BAR_H}" rx="2"><title>${s.label} (${formatDuration(s.toMs - s.fromMs)})</title></rect>`;
    });
    const marks = row.marks.map((m) => {
      const mx = x(m.atMs);
      if (m.kind === 'skipped') {
        return html`<path class="tl-mark tl-skipped" data-kind="skipped" d="M${svgNumber(mx - 5)},${svgNumber(barY + 2)} l10,10 m0,-10 l-10,10"><title>${m.label}</title></path>`;
      }
      return html`<line class="tl-mark tl-${m.kind}" data-kind="${m.kind}" x1="${mx}" y1="${svgNumber(barY - 3)}" x2="${mx}" y2="${svgNumber(barY + BAR_H + 3)}"><title>${m.label}</title></line>`;
    });
    return html`<g class="tl-row s-${cssStatus(row.status)}" data-lane="${row.member}">
<text class="tl-name" x="${PAD}" y="${svgNumber(top + ROW_H / 2 + 4)}">${oneLine(row.member, NAME_CHARS)}<title>${row.member}: ${row.status}</title></text>
${bars}${marks}
</g>`;
  });

  const legend = (['queued', 'waiting', 'running', 'succeeded', 'failed', 'backoff'] as const).map((k) => html`<span><i class="tl-${k}"></i>${k === 'backoff' ? 'before a retry' : k}</span>`);
  return html`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="every member's attempts on one time axis" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
${ticks}
${lanes}
</svg>
<div class="tl-legend">${legend}<span><i class="tl-verify"></i>verify round</span><span><i class="tl-skipped"></i>skipped</span></div>`;
}
