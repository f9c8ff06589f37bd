import { describe, expect, it } from 'vitest';
import { isAllowedChange } from '../../apps/board/src/access/bull-board-changes.js';

describe("Bull Board's changes on reins' queues", () => {
  it('allows retry, clean, promote, pause and the like', () => {
    for (const [method, path] of [
      ['PUT', '/api/queues/pause'],
      ['PUT', '/api/queues/agent/retry/failed'],
      ['PUT', '/api/queues/agent%40gpu/clean/completed'],
      ['PUT', '/api/queues/control/promote'],
      ['PUT', '/api/queues/control/pause'],
      ['PUT', '/api/queues/control/empty'],
      ['PUT', '/api/queues/agent/r-abc123.writer/retry'],
      ['PUT', '/api/queues/agent/r-abc123.writer/clean'],
      ['PATCH', '/api/queues/agent/r-abc123.writer/priority'],
      ['put', '/api/queues/agent/r-abc123.writer/promote/'],
    ] as const) {
      expect(isAllowedChange(method, path), `${method} ${path}`).toBe(true);
    }
  });

  it('never allows adding a job, rewriting its data or running a scheduler, however the path is spelled', () => {
    for (const [method, path] of [
      ['POST', '/api/queues/control/add'],
      ['POST', '/api/queues/control/add/'],
      ['POST', '/API/Queues/control/ADD'],
      ['PUT', '/api/queues/control/add'],
      ['PATCH', '/api/queues/control/r-abc123/update-data'],
      ['PUT', '/api/queues/control/job-schedulers/nightly/run'],
      ['PATCH', '/api/queues/control/job-schedulers/nightly'],
      ['PUT', '/api/queues/control/obliterate'],
      ['PUT', '/api/queues/agent/concurrency'],
      ['PUT', '/api/queues/agent/rate-limit'],
      ['POST', '/api/metrics/history/purge'],
      ['DELETE', '/api/queues/agent/r-abc123.writer/retry'],
      ['PUT', '/api/queues/agent/retry/failed/extra'],
    ] as const) {
      expect(isAllowedChange(method, path), `${method} ${path}`).toBe(false);
    }
  });
});
