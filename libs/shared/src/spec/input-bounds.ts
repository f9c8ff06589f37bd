import { escapeControlChars } from '../control-chars.js';
import { formatBytes } from '../format.js';

/**
 * Bounds on what a harness may be, checked before anything looks at its shape, so hostile input costs
 * little. Measured on the unbounded code: a 50 MB harness (700k members) ran the CLI out of memory after
 * 94 s at 4.3 GB; a NUL in a prompt passed submit and failed at the worker after every attempt.
 */

/** A harness file over this is refused unread; its parsed text (YAML aliases expanded) has the same cap. */
export const MAX_HARNESS_BYTES = 1024 * 1024;
/** Nothing in a harness nests deeper than a hook's command (7 levels); this leaves room without risking recursion. */
export const MAX_HARNESS_DEPTH = 32;
/** The longest list, and the most fields of one object, a harness may hold (argv, say); the team's own cap is far lower. */
export const MAX_LIST_ITEMS = 10_000;

/**
 * The control characters no string of a harness may hold: C0 but tab, newline and carriage return, DEL,
 * and C1. One rule for prompts, argv and env values alike: `sh -c` scripts in argv and PEM keys in env
 * values carry newlines; NUL cannot travel in argv or env at all (the worker writes them NUL-separated),
 * and the rest only steer terminals.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/;

/** Where the first control character is, with a few characters either side, escaped; undefined when there is none. */
export function controlCharIssue(text: string): string | undefined {
  const at = text.search(CONTROL_CHAR);
  if (at < 0) return undefined;
  const start = Math.max(0, at - 20);
  const around = `${start > 0 ? '…' : ''}${escapeControlChars(text.slice(start, at + 20))}${at + 20 < text.length ? '…' : ''}`;
  return `expected no control characters (tab, newline and carriage return are allowed), got ${escapeControlChars(text[at]!)} at character ${at + 1}: "${around}"`;
}

/** A bound broken at `path` (the keys down to it). */
export interface BoundIssue {
  path: (string | number)[];
  message: string;
}

interface Pending {
  value: unknown;
  path: (string | number)[];
}

/**
 * The size, depth and length bounds, and the control characters of every string value. A value over a size
 * bound gets that issue alone and no further walk (`fatal`): its shape is not worth checking.
 */
export function inputBoundIssues(value: unknown, maxTextBytes = MAX_HARNESS_BYTES): { issues: BoundIssue[]; fatal: boolean } {
  const issues: BoundIssue[] = [];
  let textBytes = 0;
  const stack: Pending[] = [{ value, path: [] }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { value: node, path } = next;
    if (typeof node === 'string') {
      const bytes = Buffer.byteLength(node);
      textBytes += bytes;
      // The string that breaks the cap is named when it is large itself: a 50 MB prompt, say.
      if (textBytes > maxTextBytes && bytes > maxTextBytes / 8) return fatal(path, `is ${formatBytes(bytes)} (${bytes} bytes) of text, over the cap of ${formatBytes(maxTextBytes)} a whole harness may hold`);
      const problem = controlCharIssue(node);
      if (problem) issues.push({ path, message: problem });
    } else if (node !== null && typeof node === 'object') {
      if (path.length >= MAX_HARNESS_DEPTH) return fatal(path, `nested deeper than ${MAX_HARNESS_DEPTH} levels`);
      const count = Array.isArray(node) ? node.length : Object.keys(node).length;
      if (count > MAX_LIST_ITEMS) return fatal(path, `expected at most ${MAX_LIST_ITEMS} ${Array.isArray(node) ? 'items' : 'fields'}, got ${count}`);
      const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((item, i) => [i, item]) : Object.entries(node);
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        const [key, child] = entries[i]!;
        if (typeof key === 'string') textBytes += Buffer.byteLength(key);
        stack.push({ value: child, path: [...path, key] });
      }
    }
    if (textBytes > maxTextBytes) {
      return fatal([], `holds over ${formatBytes(maxTextBytes)} (${maxTextBytes} bytes) of text once parsed (YAML aliases expanded), the cap of a harness`);
    }
  }
  return { issues, fatal: false };
}

const fatal = (path: (string | number)[], message: string) => ({ issues: [{ path, message }], fatal: true });
