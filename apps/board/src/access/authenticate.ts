import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { BoardAccess } from './board-access.js';

const SESSION_COOKIE = 'reins_board_session';

/** Compares secrets in constant time, whatever their lengths. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The cookie holds a value derived from the token, not the token: a leaked cookie dies with a new token. */
const sessionValue = (token: string): string => createHmac('sha256', token).update('reins-board-session-v1').digest('base64url');

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function parseBasic(header: string): { user: string; password: string } | undefined {
  const decoded = Buffer.from(header.slice('basic '.length).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Requires the board token (an `Authorization: Bearer` header; or `?token=` once in a browser, which
 * is swapped for an HttpOnly cookie and stripped from the address by a redirect) or basic-auth
 * credentials, whichever are configured. Without either, everything passes: the board then listens
 * on loopback only (see board-access.ts).
 */
export function authenticate(access: BoardAccess): RequestHandler {
  const { token, basic } = access;
  const expectedSession = token === undefined ? undefined : sessionValue(token);
  const refuse = (res: Response, why: string) => {
    const challenges = [basic ? 'Basic realm="reins board", charset="UTF-8"' : undefined, token ? 'Bearer realm="reins board"' : undefined].filter((c): c is string => c !== undefined);
    res.set('WWW-Authenticate', challenges.join(', '));
    res.set('Cache-Control', 'no-store');
    res
      .status(401)
      .type('text/plain')
      .send(
        `401 ${why}. This board needs ${[token ? 'its token (REINS_BOARD_TOKEN): open it with ?token=… or send Authorization: Bearer …' : '', basic ? 'the user name and password set in REINS_BOARD_USER and REINS_BOARD_PASSWORD' : ''].filter(Boolean).join(', or ')}.\n`,
      );
  };

  return (req, res, next) => {
    if (token === undefined && basic === undefined) return next();

    const queryToken = req.query.token;
    if (token !== undefined && typeof queryToken === 'string') {
      if (!sameSecret(queryToken, token)) return refuse(res, 'Wrong token');
      if (req.method === 'GET' || req.method === 'HEAD') {
        const url = new URL(req.originalUrl, 'http://board.invalid');
        url.searchParams.delete('token');
        res.cookie(SESSION_COOKIE, sessionValue(token), { httpOnly: true, sameSite: 'lax', path: '/', secure: req.secure });
        res.redirect(303, url.pathname + url.search);
        return;
      }
      return next();
    }

    const authorization = req.get('authorization') ?? '';
    if (token !== undefined && /^bearer /i.test(authorization)) {
      return sameSecret(authorization.slice('bearer '.length).trim(), token) ? next() : refuse(res, 'Wrong token');
    }
    if (basic !== undefined && /^basic /i.test(authorization)) {
      const given = parseBasic(authorization);
      // Both compared, always, so the time taken does not tell which one was wrong.
      const userOk = sameSecret(given?.user ?? '', basic.user);
      const passwordOk = sameSecret(given?.password ?? '', basic.password);
      return given && userOk && passwordOk ? next() : refuse(res, 'Wrong user name or password');
    }
    const cookie = readCookie(req.get('cookie'), SESSION_COOKIE);
    if (expectedSession !== undefined && cookie !== undefined && sameSecret(cookie, expectedSession)) return next();
    return refuse(res, 'Authentication required');
  };
}
