import type { RequestHandler, Response } from 'express';
import { changesAllowed, hasAuth, type BoardAccess } from './board-access.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The Bull Board changes a board with auth accepts, as method and path under /queues. Anything else that is
 * not a read is refused, so a route a Bull Board upgrade adds, or a path spelled so that Express matches it
 * and a deny-list would not (Express routes ignore case and a trailing slash), is refused too. Left out on
 * purpose: adding a job (`POST …/add`, and the UI's "duplicate"), rewriting a job's data (`…/update-data`),
 * running or rewriting a job scheduler (each makes a job from data nobody checked: a `run.submit` added
 * this way once ran a command agent's `touch` on a worker past every check of `reins submit`), obliterating
 * a queue, and queue concurrency and rate limits (reins keeps its own, REINS_CONCURRENCY_LIMITS).
 */
const ALLOWED_CHANGES: readonly { method: string; path: RegExp }[] = [
  { method: 'PUT', path: /^\/api\/queues\/(?:pause|resume)\/?$/i },
  { method: 'PUT', path: /^\/api\/queues\/[^/]+\/(?:retry|clean)\/(?:completed|failed|wait|active|delayed|paused|prioritized|waiting-children|waiting)\/?$/i },
  { method: 'PUT', path: /^\/api\/queues\/[^/]+\/(?:promote|pause|resume|empty)\/?$/i },
  { method: 'PUT', path: /^\/api\/queues\/[^/]+\/[^/]+\/(?:retry|clean|promote)\/?$/i },
  { method: 'PATCH', path: /^\/api\/queues\/[^/]+\/[^/]+\/(?:delay|priority)\/?$/i },
];

/** Whether a request under /queues is one of the changes Bull Board may make to reins' queues. */
export function isAllowedChange(method: string, path: string): boolean {
  return ALLOWED_CHANGES.some((change) => change.method === method.toUpperCase() && change.path.test(path));
}

/**
 * Guards Bull Board's changes, in front of it (mounted on /queues, after authenticate and the CSRF check):
 * reads pass; a change passes only on a board with auth and not read-only, and only if it is one of
 * ALLOWED_CHANGES. Without auth every change is refused, on loopback too: any local process, or a page
 * on the board's own origin, could otherwise make one.
 */
export function bullBoardChanges(access: BoardAccess): RequestHandler {
  const refuse = (res: Response, error: string, message: string) => {
    res.status(403).set('Cache-Control', 'no-store').json({ error, message });
  };
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    if (!hasAuth(access)) {
      return refuse(res, 'Changes need authentication', "Bull Board's changes (retry, clean, promote, pause, …) are open only on a board with REINS_BOARD_TOKEN, or REINS_BOARD_USER and REINS_BOARD_PASSWORD");
    }
    if (!changesAllowed(access)) return refuse(res, 'Read-only board', "REINS_BOARD_READ_ONLY is set: Bull Board's changes are off");
    if (!isAllowedChange(req.method, req.path)) {
      return refuse(res, 'Change not allowed', "Bull Board cannot add jobs to reins' queues, rewrite their data or run job schedulers: runs are created only by `reins submit`, through its checks");
    }
    return next();
  };
}
