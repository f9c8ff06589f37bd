import { memberActivity, teamLayers, type MemberRecord } from '@reins/shared';
import { oneLine, svgNumber } from './format.js';
import { html, type SafeHtml } from './html.js';
import { cssStatus } from './status.js';

/**
 * The team as a graph, drawn on the server as inline SVG: a column per dependency depth, a box per
 * member coloured by its status, an arrow from each dependency to the member that waits for it. The
 * running and waiting members are marked and say why. Text goes through `html`, so names and notes are
 * escaped like everything else on the page; colours come from board.css (the CSP forbids inline style).
 */
const BOX_W = 190;
const BOX_H = 58;
const COL_GAP = 64;
const ROW_GAP = 16;
const PAD = 12;
/**
 * Characters that fit a box's line at the stylesheet's 12 px (no web font: a width guess for system sans).
 * Plain words, no symbols: a machine without a symbol font would draw them as empty boxes.
 */
const NAME_CHARS = 24;
const NOTE_CHARS = 30;

export function teamGraphSvg(members: readonly MemberRecord[]): SafeHtml {
  if (members.length === 0) return html`<p class="muted">no members</p>`;
  const { layers, edges } = teamLayers(members);
  const place = new Map<string, { x: number; y: number }>();
  layers.forEach((layer, col) => layer.forEach((name, row) => place.set(name, { x: PAD + col * (BOX_W + COL_GAP), y: PAD + row * (BOX_H + ROW_GAP) })));
  const width = PAD * 2 + layers.length * BOX_W + (layers.length - 1) * COL_GAP;
  const height = PAD * 2 + Math.max(...layers.map((l) => l.length)) * (BOX_H + ROW_GAP) - ROW_GAP;

  const arrows = edges.map(({ from, to }) => {
    const a = place.get(from)!;
    const b = place.get(to)!;
    const x1 = a.x + BOX_W;
    const y1 = a.y + BOX_H / 2;
    const x2 = b.x - 4;
    const y2 = b.y + BOX_H / 2;
    const bend = Math.max(24, (x2 - x1) / 2);
    return html`<path class="tg-edge" data-from="${from}" data-to="${to}" d="M${svgNumber(x1)},${svgNumber(y1)} C${svgNumber(x1 + bend)},${svgNumber(y1)} ${svgNumber(x2 - bend)},${svgNumber(y2)} ${svgNumber(x2)},${svgNumber(y2)}" marker-end="url(#tg-arrow)"/>`;
  });

  const boxes = members.map((m) => {
    const { x, y } = place.get(m.name)!;
    const activity = memberActivity(m);
    const status = cssStatus(m.status);
    const classes = `tg-node s-${status}${activity ? ` tg-active tg-${activity.state}` : ''}`;
    const tip = `${m.name}: ${m.status}${m.attempts > 0 ? `, attempt ${m.attempts}` : ''}${activity ? `\n${activity.state}: ${activity.why}` : m.error ? `\n${m.error}` : ''}`;
    const note = activity ? `${activity.state === 'waiting' ? 'waits: ' : 'runs: '}${activity.why}` : m.status === 'skipped' || m.status === 'failed' ? (m.error ?? '') : '';
    return html`<g class="${classes}" data-node="${m.name}" data-status="${m.status}"${activity ? html` data-activity="${activity.state}"` : ''} transform="translate(${x},${y})">
<title>${tip}</title>
<rect width="${BOX_W}" height="${BOX_H}" rx="6"/>
<text class="tg-name" x="10" y="18">${oneLine(m.name, NAME_CHARS)}</text>
<text class="tg-status" x="10" y="34">${m.status}${m.attempts > 0 ? ` · attempt ${m.attempts}` : ''}</text>
${note ? html`<text class="tg-note" x="10" y="50">${oneLine(note, NOTE_CHARS)}</text>` : ''}
${activity ? html`<circle class="tg-dot" cx="${BOX_W - 12}" cy="12" r="5"/>` : ''}
</g>`;
  });

  const why = members.flatMap((m) => {
    const activity = memberActivity(m);
    return activity ? [html`<li data-node="${m.name}" class="tg-${activity.state}"><b>${m.name}</b> ${activity.state === 'waiting' ? 'waits' : 'runs'}: ${oneLine(activity.why, 300)}</li>`] : [];
  });

  return html`<svg class="team-graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the team's dependency graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<defs><marker id="tg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>
${arrows}
${boxes}
</svg>
${why.length > 0 ? html`<ul class="tg-why">${why}</ul>` : ''}`;
}
