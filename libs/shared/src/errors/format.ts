/** Renders a value for an error message: short, single-line, and never the whole of a large input. */
export function showValue(value: unknown, maxChars = 80): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/** `team[1].depends_on[0]` from `['team', 1, 'depends_on', 0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
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
