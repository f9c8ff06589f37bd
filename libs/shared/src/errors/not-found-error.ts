/** A run or member id that Redis does not know. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

export const isNotFoundError = (error: unknown): error is NotFoundError => error instanceof NotFoundError;
