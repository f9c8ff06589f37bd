import { randomBytes } from 'node:crypto';

/** Sortable by creation time, short enough for tmux session and branch names. */
export function newRunId(now = Date.now()): string {
  const random = randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(0, 6);
  return `r-${now.toString(36)}${random}`;
}

/** The form newRunId gives, and every run id reins accepts. */
export const RUN_ID_RULE = /^r-[a-z0-9]{6,32}$/;

export const isRunId = (value: unknown): value is string => typeof value === 'string' && RUN_ID_RULE.test(value);
