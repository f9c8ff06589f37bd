/** How numbers and times read on the board: short, and the same on every page. */

import { formatAge as sharedAge, formatCostUsd, formatDuration as sharedDuration, formatTokens } from '@reins/shared';

/** What the board shows for a figure that is not there. */
const MISSING = '—';

// The CLI's formatters (libs/shared/src/format.ts), with the board's dash for a missing figure.
export const formatCost = (usd: number | undefined): string => formatCostUsd(usd, MISSING);
/** A member's tokens over all its attempts (input, output, cache), or a run's. */
export const formatTokenCount = (tokens: number | undefined): string => formatTokens(tokens, MISSING);
export const formatDuration = (ms: number | undefined): string => sharedDuration(ms, MISSING);
/** The live ticker in the page writes the same words (see assets.ts): "4 s ago". */
export const formatAge = (ms: number): string => sharedAge(ms, MISSING);

/** UTC, to the second: the board's viewers may sit in other time zones than its workers. */
export function formatTime(epochMs: number | undefined): string {
  if (epochMs === undefined || !Number.isFinite(epochMs)) return '—';
  return `${new Date(epochMs).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** Only the clock, for event lines. */
export function formatClock(epochMs: number): string {
  return Number.isFinite(epochMs) ? new Date(epochMs).toISOString().slice(11, 19) : '--:--:--';
}

/** First line, cut to `max` characters. */
export function oneLine(text: string, max: number): string {
  const first = text.split('\n', 1)[0] ?? '';
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}

/** An SVG coordinate to a tenth of a pixel: enough for a crisp line, short in the page. */
export const svgNumber = (n: number): number => Math.round(n * 10) / 10;
