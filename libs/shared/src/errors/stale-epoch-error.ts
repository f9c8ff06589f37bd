/**
 * A write from an attempt that has been superseded: another attempt of the same member started since,
 * so this writer must stop. Thrown by fenced writes; never retried.
 */
export class StaleEpochError extends Error {
  override readonly name = 'StaleEpochError';
}

export const isStaleEpochError = (error: unknown): error is StaleEpochError => error instanceof StaleEpochError;
