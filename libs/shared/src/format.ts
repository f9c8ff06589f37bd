/**
 * How costs, durations and ages read, in the CLI and on the board alike. A value that is not there reads
 * as `missing`: "-" by default (terminal tables), the board passes "—".
 */

/** Dollars: cents above one dollar, four decimals below it (agent attempts often cost fractions of a cent). */
export function formatCostUsd(usd: number | undefined, missing = '-'): string {
  if (usd === undefined || !Number.isFinite(usd)) return missing;
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

/**
 * What a run's members cost together; undefined when none reports a cost (command agents), so the total
 * reads as missing like each member does ("-"), not "$0.0000".
 */
export function totalCostUsd(members: readonly { costUsd?: number | undefined }[]): number | undefined {
  const costs = members.flatMap((m) => (m.costUsd !== undefined && Number.isFinite(m.costUsd) ? [m.costUsd] : []));
  return costs.length > 0 ? costs.reduce((sum, c) => sum + c, 0) : undefined;
}

/** Tokens, exact, grouped by thousands: "15,100". */
export function formatTokens(tokens: number | undefined, missing = '-'): string {
  if (tokens === undefined || !Number.isFinite(tokens)) return missing;
  return Math.round(tokens).toLocaleString('en-US');
}

/** The tokens a run's members used together (each member's over all its attempts); undefined when none reports any. */
export function totalTokens(members: readonly { tokens?: number | undefined }[]): number | undefined {
  const counts = members.flatMap((m) => (m.tokens !== undefined && Number.isFinite(m.tokens) ? [m.tokens] : []));
  return counts.length > 0 ? counts.reduce((sum, n) => sum + n, 0) : undefined;
}

/**
 * A member's summary as a few lines to read: the last `maxLines` non-empty lines (a command agent's
 * summary is the tail of its output; an agent's result ends with its conclusion), each cut at `maxChars`.
 */
export function summaryLines(summary: string, maxLines = 5, maxChars = 200): string[] {
  const lines = summary
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  const shown = lines.slice(-maxLines).map((l) => (l.length > maxChars ? `${l.slice(0, maxChars - 1)}…` : l));
  return lines.length > maxLines ? ['…', ...shown] : shown;
}

/** "250 ms", "1.5 s", "3 min 2 s", "2 h 5 min", "3 d 4 h": tenths below a minute, two units above it. */
export function formatDuration(ms: number | undefined, missing = '-'): string {
  if (ms === undefined || !Number.isFinite(ms)) return missing;
  const safe = Math.max(0, ms);
  if (safe < 1_000) return `${Math.round(safe)} ms`;
  if (safe < 59_950) return `${(safe / 1_000).toFixed(1)} s`;
  const s = Math.round(safe / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`;
}

/**
 * How long ago something happened, in one unit: "4 s ago", "3 min ago", "2 h ago", "5 d ago". The board's
 * live ticker (apps/board/src/views/assets.ts) writes the same words in the browser; keep them together.
 */
export function formatAge(ms: number | undefined, missing = '-'): string {
  if (ms === undefined || !Number.isFinite(ms)) return missing;
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s} s ago`;
  if (s < 3_600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** Sizes in binary units: "512 B", "1.5 KiB", "8 MiB" (one decimal, none when whole). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${shown} ${units[unit]}`;
}
