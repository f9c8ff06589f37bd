/** A command line that cannot be understood: a bad flag, a missing argument. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const isUsageError = (error: unknown): error is UsageError => error instanceof UsageError;
