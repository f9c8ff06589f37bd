import { randomBytes } from 'node:crypto';

/** Sortable by creation time, short enough for tmux session and branch names. */
export function newRunId(now = Date.now()): string {
  const random = randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(0, 6);
  return `r-${now.toString(36)}${random}`;
}
