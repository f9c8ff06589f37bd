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
export function bullBoardRouter(queues: readonly Queue[], { readOnly }: { readOnly: boolean }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: readOnly, allowRetries: !readOnly })),
    serverAdapter,
    options: { uiConfig: { miscLinks: [{ text: 'reins runs', url: '/runs' }] } },
  });
  return serverAdapter.getRouter() as Router;
}
