/** Exponential backoff with a cap and jitter: base × factor^(attempt-1), capped, then ± jitter. */
export interface BackoffPolicy {
  baseMs: number;
  factor: number;
  maxMs: number;
  /** 0.2 spreads each delay over ±20%, so retries of many agents do not arrive together. */
  jitter: number;
}

/** The name of reins' strategy in BullMQ job options: `backoff: { type: BACKOFF_TYPE }`. */
export const BACKOFF_TYPE = 'reins';

/** Delay before the retry that follows `attemptsMade` failed attempts (1 for the first retry). */
export function backoffDelayMs(policy: BackoffPolicy, attemptsMade: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, attemptsMade - 1);
  const raw = Math.min(policy.maxMs, policy.baseMs * policy.factor ** exponent);
  const spread = raw * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(Math.min(policy.maxMs, raw + spread)));
}
