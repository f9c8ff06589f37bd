/**
 * Text from agents and run data, made safe to print on a terminal. An agent's output reaches `reins logs`
 * and `reins status` as it printed it, and a terminal acts on the escape sequences in it: OSC 52 writes
 * the clipboard, OSC 0 sets the window title, CSI 2J clears the screen, and some sequences make the
 * terminal type an answer into the shell (measured: printed raw, NO_COLOR included; issue 11). Every
 * character that can steer a terminal is shown as a visible escape instead, except newline and tab:
 * - C0 controls and DEL (ESC, BEL, CR, backspace…) as `\x1b`, `\x07`, `\x0d`;
 * - C1 controls, U+0080 to U+009F, as `\x9b`: some terminals take them as 8-bit controls (U+009B is CSI);
 * - the bidi embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069) as `\u202e`: they
 *   reorder how a line reads without changing what it says ("Trojan Source", CVE-2021-42574).
 * Escape the data first, then colour it: reins's own colours are escape sequences too.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: as UNSAFE, without /g: test() on it keeps no state.
const HAS_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** What JSON.stringify leaves raw: it escapes only U+0000 to U+001F. */
const JSON_UNSAFE = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const hex = (code: number, digits: number): string => code.toString(16).padStart(digits, '0');

function visibleEscape(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
}

/** `text` with its control characters (see above) shown as `\x1b` and `\u202e`; newline and tab kept. */
export function escapeControlChars(text: string): string {
  return HAS_UNSAFE.test(text) ? text.replace(UNSAFE, visibleEscape) : text;
}

/**
 * A copy of `value` with every string in it escaped (object keys too), through arrays, Maps and plain
 * objects; numbers, booleans and other objects as they are. For records read from Redis before they
 * are rendered: a field added later is escaped without anyone remembering to.
 */
export function escapeControlCharsDeep<T>(value: T): T {
  return deepEscape(value) as T;
}

function deepEscape(value: unknown): unknown {
  if (typeof value === 'string') return escapeControlChars(value);
  if (Array.isArray(value)) return value.map(deepEscape);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [deepEscape(k), deepEscape(v)]));
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeControlChars(k), deepEscape(v)]));
  }
  return value;
}

/**
 * JSON for the CLI's `--json` outputs: JSON.stringify, with the characters it leaves raw (DEL, C1, bidi)
 * written as `\u009b`. Those can only stand inside strings, so the JSON parses to exactly the same value;
 * only a terminal that shows it sees the difference.
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (char) => `\\u${hex(char.charCodeAt(0), 4)}`);
}
