import { afterAll, beforeAll } from 'vitest';
import { startMessagesApi, type Handler, type MessagesApi } from './messages-api.js';
import { startRedis, type TestRedis } from './redis.js';

export interface ClaudeFixture {
  readonly redis: TestRedis;
  readonly api: MessagesApi;
  /** What "the model" does from now on. */
  script(handler: Handler): void;
  /** The environment that points a fleet's agents at the test API (the worker passes ANTHROPIC_* and CLAUDE_CODE_* on). */
  apiEnv(): Record<string, string>;
}

/**
 * A test file's private redis-server and Messages API server, started before its tests and stopped after.
 * Each test scripts the API with `script(handler)`.
 */
export function useClaudeFixture(options: { appendonly?: boolean } = {}): ClaudeFixture {
  let redis: TestRedis | undefined;
  let api: MessagesApi | undefined;
  let handler: Handler = () => ({ text: 'no script' });
  beforeAll(async () => {
    redis = await startRedis(options);
    api = await startMessagesApi({ handler: (req) => handler(req) });
  });
  afterAll(async () => {
    redis?.resume();
    await api?.close();
    await redis?.stop();
  });
  return {
    get redis() {
      if (!redis) throw new Error('the fixture starts in beforeAll');
      return redis;
    },
    get api() {
      if (!api) throw new Error('the fixture starts in beforeAll');
      return api;
    },
    script: (next) => {
      handler = next;
    },
    apiEnv: () => ({ ANTHROPIC_BASE_URL: api!.url, ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_MAX_RETRIES: '0' }),
  };
}
