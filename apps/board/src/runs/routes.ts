import { setTimeout as sleep } from 'node:timers/promises';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { RUN_STATUSES, type Logger } from '@reins/shared';
import type { RunDetail, RunReader } from './run-reader.js';
import { runDetailPage, runFragments } from '../views/run-detail.js';
import { runsListPage, runsTable } from '../views/runs-list.js';
import { escapeHtml } from '../views/html.js';

/** How often a run's live stream looks for changes. Workers report every tick (5 s by default). */
const LIVE_INTERVAL_MS = 1_000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
/** Latest events shown per member. */
const EVENT_TAIL = 30;

const ListQuerySchema = z.object({
  status: z.enum(RUN_STATUSES, { error: `expected one of ${RUN_STATUSES.join(', ')}` }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  fragment: z.literal('table').optional(),
});
const RunIdSchema = z.string().regex(/^r-[a-z0-9]{6,32}$/);

export interface RunsRouterOptions {
  reader: RunReader;
  readOnly: boolean;
  logger: Logger;
}

/** `/runs`, `/runs/:id` and `/runs/:id/stream`: server-rendered pages over the run store. */
export function runsRouter({ reader, readOnly, logger }: RunsRouterOptions): Router {
  const router = Router();

  router.get('/runs', async (req, res) => {
    const query = ListQuerySchema.safeParse(req.query);
    if (!query.success) {
      res
        .status(400)
        .type('text/plain')
        .send(`Bad query: ${query.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
      return;
    }
    const { status, limit, fragment } = query.data;
    const runs = await reader.list({ status, limit });
    res.set('Cache-Control', 'no-store');
    if (fragment === 'table') res.type('html').send(runsTable(runs, status).value);
    else res.type('html').send(runsListPage({ runs, status, readOnly, now: Date.now() }));
  });

  router.get('/runs/:id', async (req, res) => {
    const runId = RunIdSchema.safeParse(req.params.id);
    const detail = runId.success ? await reader.detail(runId.data, { eventCount: EVENT_TAIL }) : undefined;
    res.set('Cache-Control', 'no-store');
    if (!detail) {
      res
        .status(404)
        .type('html')
        .send(`<!doctype html><title>Not found</title><p>No run with id <code>${escapeHtml(String(req.params.id))}</code>. <a href="/runs">All runs</a></p>`);
      return;
    }
    res.type('html').send(runDetailPage(detail, { readOnly, now: Date.now() }));
  });

  router.get('/runs/:id/stream', async (req, res) => {
    const runId = RunIdSchema.safeParse(req.params.id);
    const first = runId.success ? await reader.detail(runId.data, { eventCount: EVENT_TAIL }) : undefined;
    if (!first) {
      res.status(404).type('text/plain').send('no such run\n');
      return;
    }
    await streamRun(first, req, res, reader, logger);
  });

  return router;
}

/**
 * Server-sent events: every second, the page's fragments that changed since the last send. Polling
 * Redis (rather than listening to pub/sub) keeps a viewer's cost fixed and catches every kind of
 * change, heartbeats included. The stream ends once the run and all its members have ended.
 */
async function streamRun(first: RunDetail, req: Request, res: Response, reader: RunReader, logger: Logger): Promise<void> {
  const runId = first.run.runId;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  let open = true;
  req.on('close', () => {
    open = false;
  });
  const sent = new Map<string, string>();
  let lastWrite = Date.now();
  let next: RunDetail | undefined = first;
  const send = (event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    lastWrite = Date.now();
  };
  while (open) {
    try {
      const detail = next ?? (await reader.detail(runId, { eventCount: EVENT_TAIL }));
      next = undefined;
      if (!detail) {
        send('problem', { message: 'the run is gone' });
        break;
      }
      const now = Date.now();
      const changed: Record<string, string> = {};
      for (const [id, fragment] of Object.entries(runFragments(detail, now))) {
        if (sent.get(id) !== fragment) changed[id] = fragment;
        sent.set(id, fragment);
      }
      if (Object.keys(changed).length > 0 || detail.final) send('update', { now, final: detail.final, fragments: changed });
      else if (now - lastWrite > KEEPALIVE_MS) {
        res.write(': keep-alive\n\n');
        lastWrite = now;
      }
      if (detail.final) break;
    } catch (error) {
      logger.warn({ err: error, runId }, 'run stream: cannot read the run');
      send('problem', { message: 'cannot read from Redis; retrying' });
    }
    await sleep(LIVE_INTERVAL_MS);
  }
  res.end();
}
