import type { RequestHandler } from 'express';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF protection for everything that changes state (Bull Board's POST, PUT and DELETE calls: retry,
 * clean, remove, pause, …). A browser names the page that sent a request in Origin (or at least Referer)
 * and in Sec-Fetch-Site; it must be this board. A request that names no origin at all can only come from
 * a non-browser client, which is let through only with an explicit bearer token: cookies and cached
 * basic-auth credentials are what a forged cross-site request would ride on.
 */
export function sameOriginOnly(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const refuse = (why: string) => {
      res.status(403).json({ error: 'CSRF check failed', message: `${why}: changes are accepted only from the board's own pages` });
    };
    const fetchSite = req.get('sec-fetch-site');
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return refuse(`cross-site request (Sec-Fetch-Site: ${fetchSite})`);
    const source = req.get('origin') ?? req.get('referer');
    if (source === undefined) {
      return /^bearer /i.test(req.get('authorization') ?? '') ? next() : refuse('no Origin or Referer');
    }
    let sourceHost: string;
    try {
      sourceHost = new URL(source).host;
    } catch {
      return refuse(`unreadable origin ${JSON.stringify(source)}`);
    }
    if (source === 'null' || sourceHost !== req.get('host')) return refuse(`request from ${JSON.stringify(source)}`);
    return next();
  };
}
