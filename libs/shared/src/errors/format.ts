import { escapeControlChars } from '../control-chars.js';

/**
 * Renders a value for an error message: short, single-line, never the whole of a large input, and with
 * every control character written as escapeControlChars writes it (JSON's `\u0000` as `\x00` too), so a
 * message shows a NUL the way reins names it and never carries an escape sequence to a terminal.
 */
export function showValue(value: unknown, maxChars = 80): string {
  if (value === undefined) return 'nothing';
  const text = escapeControlChars(preview(value, maxChars + 1).replace(/\\(\\|u00[01][0-9a-f]|u007f)/g, (all, escaped: string) => (escaped === '\\' ? all : `\\x${escaped.slice(3)}`)));
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/**
 * JSON of the value up to about `budget` characters, built without stringifying the whole: a 50 MB prompt
 * or a 700k-member team is shown from its first characters, at the cost of those characters.
 */
function preview(value: unknown, budget: number): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, budget));
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  const array = Array.isArray(value);
  const parts: string[] = [];
  let used = 1;
  for (const key of array ? value.keys() : Object.keys(value)) {
    if (used >= budget) {
      parts.push('…');
      break;
    }
    const item = (value as Record<string | number, unknown>)[key];
    if (item === undefined && !array) continue;
    const part = `${array ? '' : `${JSON.stringify(key)}:`}${preview(item === undefined ? null : item, budget - used)}`;
    parts.push(part);
    used += part.length + 1;
  }
  return array ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}

/** `team[1].depends_on[0]` from `['team', 1, 'depends_on', 0]`; a key's control characters written `\xNN`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${escapeControlChars(String(part))}` : escapeControlChars(String(part));
  }
  return out || '(root)';
}

/** A URL with the password of its `user:password@` part shown as `***` (Redis URLs, git remotes). */
export function redactUrlPassword(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_all, scheme: string, credentials: string) => {
    const colon = credentials.indexOf(':');
    return colon < 0 ? `${scheme}${credentials}@` : `${scheme}${credentials.slice(0, colon)}:***@`;
  });
}
