import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router as expressRouter, type NextFunction, type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';

/** Where Bull Board lives; the runs pages have the root. */
export const QUEUES_PATH = '/queues';

/**
 * Bull Board over every reins queue: job data, progress and the lines workers write with job.log.
 * `readOnly` (a board without auth, or REINS_BOARD_READ_ONLY) hides retry, clean, delete and the other
 * changes in the UI, and Bull Board's API refuses them too (405); access/bull-board-changes.ts refuses
 * them before Bull Board sees them, and always refuses adding a job. Bull Board has no option that hides
 * only its "Add job" button, so on a board with auth the button shows and its request is refused (403).
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
  const router = expressRouter();
  router.use(offlinePage);
  router.use(serverAdapter.getRouter() as Router);
  return router;
}

/** Any stylesheet, script or font the page would load from another origin. */
const EXTERNAL_ASSET = /<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi;

/** A link back to the runs pages, always in sight (Bull Board's own misc links hide in a menu). */
const BACK_TO_RUNS =
  '<a href="/runs" id="reins-runs-link" style="position:fixed;right:12px;bottom:12px;z-index:10000;padding:6px 12px;border-radius:6px;background:#1f6feb;color:#fff;font:500 13px system-ui,sans-serif;text-decoration:none;box-shadow:0 1px 4px rgba(0,0,0,.3)">← reins runs</a>';

/**
 * Bull Board's index.ejs hardcodes a Google Fonts stylesheet, so the page waited on the internet (and
 * leaked every visit to Google) on a board that must work offline. Its HTML is rewritten on the way out:
 * external links dropped (the page falls back to system fonts), the link back to the runs added.
 */
export function rewriteBullBoardHtml(page: string): string {
  return page.replace(EXTERNAL_ASSET, '').replace('</body>', `${BACK_TO_RUNS}</body>`);
}

function offlinePage(_req: Request, res: Response, next: NextFunction): void {
  const send = res.send.bind(res);
  res.send = (body?: unknown) => send(typeof body === 'string' && /^\s*<!DOCTYPE html>/i.test(body) ? rewriteBullBoardHtml(body) : body);
  next();
}
