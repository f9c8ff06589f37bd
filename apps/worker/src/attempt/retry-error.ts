import { UnrecoverableError } from 'bullmq';
import { backoffDelayMs, type BackoffPolicy, type FailureClass } from '@reins/shared';

/**
 * Thrown to BullMQ for an attempt that is retried: it carries the delay its conclusion chose, which the
 * worker's backoff strategy returns. 0 for a lost worker, whose attempt is retried at once elsewhere.
 */
export class RetryError extends Error {
  override readonly name = 'RetryError';

  constructor(
    message: string,
    readonly delayMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isRetryError = (error: unknown): error is RetryError => error instanceof RetryError;

/**
 * The worker's BullMQ `settings.backoffStrategy`: the delay a RetryError carries, else the agent backoff
 * (an error no conclusion saw, such as a worker's own failure to prepare an attempt).
 */
export function attemptBackoff(policy: BackoffPolicy): (attemptsMade: number, type?: string, error?: Error) => number {
  return (attemptsMade, _type, error) => (isRetryError(error) ? error.delayMs : backoffDelayMs(policy, attemptsMade));
}

/** An attempt that could not begin for a reason no retry fixes, with its class (merge_conflict, say). */
export class ClassifiedFailure extends UnrecoverableError {
  constructor(
    readonly failureClass: FailureClass,
    message: string,
  ) {
    super(message);
  }
}
