import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import type { Queue } from 'bullmq';

/** Where Bull Board lives; the runs pages have the root. */
export const QUEUES_PATH = '/queues';

/**
 * Bull Board over every reins queue: job data, progress and the lines workers write with job.log.
 * Read-only mode hides retry, clean, delete and the other changes in the UI, and Bull Board's API
 * refuses them too (405), so hiding is not the only guard.
 */
export function bullBoardRouter(queues: readonly Queue[], { readOnly, extraQueues }: { readOnly: boolean; extraQueues?: () => Promise<Queue[]> }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  const adapt = (q: Queue) => new BullMQAdapter(q, { readOnlyMode: readOnly, allowRetries: !readOnly });
  const board = createBullBoard({
    queues: queues.map(adapt),
    serverAdapter,
    options: { uiConfig: { miscLinks: [{ text: 'reins runs', url: '/runs' }] } },
  });
  if (extraQueues) {
    // Pool queues (agent@labels) appear while the fleet runs: add each the first time it is seen.
    const shown = new Set(queues.map((q) => q.name));
    const refresh = async () => {
      for (const q of await extraQueues().catch(() => [] as Queue[])) {
        if (shown.has(q.name)) continue;
        shown.add(q.name);
        board.addQueue(adapt(q));
      }
    };
    void refresh();
    setInterval(() => void refresh(), 10_000).unref();
  }
  return serverAdapter.getRouter() as Router;
}
