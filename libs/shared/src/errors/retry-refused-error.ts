/**
 * A retry that cannot be done in the run's current state: it is still running, it already succeeded,
 * or the member named has nothing to retry. The message says why and what to do instead.
 */
export class RetryRefusedError extends Error {
  override readonly name = 'RetryRefusedError';
}

export const isRetryRefusedError = (error: unknown): error is RetryRefusedError => error instanceof RetryRefusedError;
