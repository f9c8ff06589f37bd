/** Redis did not answer; the message says where reins looked and how to fix it. */
export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError';
}

export const isRedisUnreachableError = (error: unknown): error is RedisUnreachableError => error instanceof RedisUnreachableError;
