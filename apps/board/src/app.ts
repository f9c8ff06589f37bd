import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import type { Accounts, FleetReader, Logger, RunStore } from '@reins/shared';
import { accountsRouter } from './accounts/routes.js';
import { changesAllowed, hasAuth, type BoardAccess } from './access/board-access.js';
import { authenticate } from './access/authenticate.js';
import { bullBoardChanges } from './access/bull-board-changes.js';
import { hostnameOf, isLoopbackHost } from './access/loopback.js';
import { sameOriginOnly } from './access/same-origin.js';
import { bullBoardRouter, QUEUES_PATH } from './bull-board.js';
import { createMetrics } from './metrics.js';
import { RunReader } from './runs/run-reader.js';
import { runsRouter } from './runs/routes.js';
import { BOARD_CSS, BOARD_JS } from './views/assets.js';

export interface BoardAppOptions {
  queues: readonly Queue[];
  store: RunStore;
  fleet: FleetReader;
  /** The fleet's Claude accounts (names and state; the board only reads them). */
  accounts: Accounts;
  access: BoardAccess;
  logger: Logger;
  /** The pool queues in use now (they appear while the fleet runs); Bull Board adds each as it appears. */
  poolQueues?: () => Promise<Queue[]>;
}

/** Headers for every response: no framing (clickjacking on Bull Board's buttons), no sniffing, no leaking URLs. */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({ 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'same-origin' });
  next();
};

/** The runs pages load nothing but their own stylesheet and script, so injected markup could not run. */
const pagePolicy: RequestHandler = (_req, res, next) => {
  res.set('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  next();
};

/**
 * Without auth the board listens on loopback, where any web page the user opens can still reach it
 * by DNS rebinding (evil.example resolving to 127.0.0.1). Such requests carry the attacker's name in
 * Host, so only loopback names are answered.
 */
const loopbackHostOnly: RequestHandler = (req, res, next) => {
  const hostname = hostnameOf(req.get('host'));
  if (hostname !== undefined && isLoopbackHost(hostname)) return next();
  res.status(421).type('text/plain').send('421 This board answers only to loopback names (127.0.0.1, localhost). To serve it under another name, set REINS_BOARD_TOKEN or REINS_BOARD_USER and REINS_BOARD_PASSWORD.\n');
};

/**
 * The board's HTTP app: the runs pages at /runs, the accounts page at /accounts, Bull Board over every
 * reins queue at /queues, Prometheus metrics at /metrics and a health check, behind the configured auth
 * and a CSRF check.
 */
export function createBoardApp(options: BoardAppOptions): Express {
  const { queues, store, fleet, accounts, access, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  // Outside auth: it tells a load balancer or `reins up` that the board answers, and nothing else.
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  if (!hasAuth(access)) app.use(loopbackHostOnly);
  app.use(authenticate(access));
  app.use(sameOriginOnly());

  app.get('/', (_req, res) => res.redirect(302, '/runs'));
  app.get('/assets/board.css', (_req, res) => {
    res.type('text/css').set('Cache-Control', 'no-cache').send(BOARD_CSS);
  });
  app.get('/assets/board.js', (_req, res) => {
    res.type('text/javascript').set('Cache-Control', 'no-cache').send(BOARD_JS);
  });

  const metrics = createMetrics({ queues, store, fleet, accounts });
  app.get('/metrics', async (_req, res) => {
    res
      .type(metrics.contentType)
      .set('Cache-Control', 'no-store')
      .send(await metrics.metrics());
  });

  app.use(['/runs', '/accounts'], pagePolicy);
  const readOnly = !changesAllowed(access);
  app.use(runsRouter({ reader: new RunReader(store, fleet), readOnly, logger }));
  app.use(accountsRouter({ accounts, fleet, readOnly }));
  // In front of Bull Board, so what it may change does not rest on its own checks alone.
  app.use(QUEUES_PATH, bullBoardChanges(access));
  app.use(QUEUES_PATH, bullBoardRouter(queues, { readOnly, ...(options.poolQueues ? { extraQueues: options.poolQueues } : {}) }));

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    logger.error({ err: error, method: req.method, path: req.path }, 'board request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(500).type('text/plain').send('500 The board could not read the fleet state (is Redis reachable?). The board log has the details.\n');
  };
  app.use(onError);
  return app;
}
