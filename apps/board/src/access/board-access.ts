import { ConfigError, type InputIssue, type ReinsConfig } from '@reins/shared';
import { isLoopbackHost } from './loopback.js';

/** A shorter token is guessable over a network; 16 characters is what `openssl rand -hex 8` gives. */
export const MIN_TOKEN_LENGTH = 16;

/** Who may use the board. With neither a token nor credentials, anyone who can reach it may. */
export interface BoardAccess {
  token: string | undefined;
  basic: { user: string; password: string } | undefined;
  readOnly: boolean;
}

export const hasAuth = (access: BoardAccess): boolean => access.token !== undefined || access.basic !== undefined;

/**
 * Whether Bull Board's changes (retry, clean, promote, pause, …) are open: only behind auth, on loopback
 * too, and not in read-only mode. A board without auth is read-only: any process on the host, and any page
 * served from the board's own origin, can reach a loopback board.
 */
export const changesAllowed = (access: BoardAccess): boolean => hasAuth(access) && !access.readOnly;

/**
 * Checks the board's access settings against where it listens. It refuses any address but loopback
 * unless a token or basic-auth credentials are set: the board shows prompts and errors. Without
 * either, Bull Board's changes are off (changesAllowed). Messages name the variables, never the secrets.
 */
export function boardAccess(config: Pick<ReinsConfig, 'boardHost' | 'boardToken' | 'boardUser' | 'boardPassword' | 'boardReadOnly'>): BoardAccess {
  const issues: InputIssue[] = [];
  const { boardToken: token, boardUser: user, boardPassword: password } = config;
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    issues.push({ path: 'REINS_BOARD_TOKEN', message: `expected at least ${MIN_TOKEN_LENGTH} characters, got ${token.length} (try: openssl rand -hex 16)` });
  }
  if ((user === undefined) !== (password === undefined)) {
    issues.push({ path: user === undefined ? 'REINS_BOARD_USER' : 'REINS_BOARD_PASSWORD', message: 'expected REINS_BOARD_USER and REINS_BOARD_PASSWORD together' });
  }
  if (user?.includes(':')) issues.push({ path: 'REINS_BOARD_USER', message: 'expected a user name without ":" (basic auth splits on it)' });
  const access: BoardAccess = {
    token,
    basic: user !== undefined && password !== undefined ? { user, password } : undefined,
    readOnly: config.boardReadOnly,
  };
  if (!hasAuth(access) && !isLoopbackHost(config.boardHost)) {
    issues.push({
      path: 'REINS_BOARD_HOST',
      message:
        `refusing to serve the board on ${JSON.stringify(config.boardHost)} without authentication: anyone who reaches it could read prompts and change jobs. ` +
        'Set REINS_BOARD_TOKEN, or REINS_BOARD_USER and REINS_BOARD_PASSWORD, or listen on 127.0.0.1',
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return access;
}
