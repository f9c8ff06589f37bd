import type { z } from 'zod';
import { formatPath, showValue } from './format.js';

/** One problem found in user input: where it is, what was there, what was expected. */
export interface InputIssue {
  path: string;
  message: string;
}

/** Turns zod issues into messages that name the field, the value and what was expected. */
export function issuesFromZod(error: z.ZodError, input: unknown): InputIssue[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const fields = issue.keys.map((k) => `"${k}"`).join(', ');
      return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${fields}` };
    }
    if (issue.code === 'invalid_key') {
      // A bad record key (an env variable name, say): show the key, not the value under it.
      const expected = issue.issues[0]?.message.replace(/^Invalid input: /, '') ?? 'an invalid key';
      return { path, message: `${expected}, got ${showValue(issue.path.at(-1))}` };
    }
    // A refinement that quotes the value itself, redacted (a URL's password), must not have it echoed in clear.
    if (issue.code === 'custom' && (issue.params as { quotesValue?: boolean } | undefined)?.quotesValue) return { path, message: issue.message };
    // The raw value, not zod's: z.coerce reports the coerced NaN, while the user typed "soon".
    const raw = valueAt(input, issue.path);
    // A refinement's own issue carries the whole object it refined as input: the value at its path is the one meant.
    const value = issue.code === 'custom' || raw !== undefined || !('input' in issue) ? raw : issue.input;
    const expected = issue.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '');
    return { path, message: `${expected}, got ${showValue(value)}` };
  });
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

export function renderIssues(issues: readonly InputIssue[]): string {
  return issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n');
}
