import type { z } from 'zod';
import { formatPath, showValue } from './format.js';
import { didYouMean, nearestName } from './suggest.js';

/** One problem found in user input: where it is, what was there, what was expected. */
export interface InputIssue {
  path: string;
  message: string;
  /** The name a typo most likely meant (a field, a member, a skill, a value); the message says it too. */
  suggestion?: string;
}

/** `message (did you mean "x"?)` with the suggestion kept beside it, or the message alone. */
export function withSuggestion(path: string, message: string, suggestion: string | undefined): InputIssue {
  return suggestion === undefined ? { path, message } : { path, message: `${message} (${didYouMean(suggestion)})`, suggestion };
}

/**
 * Turns zod issues into messages that name the field, the value and what was expected. Given the schema,
 * an unknown field is answered with the nearest field that object does have.
 */
export function issuesFromZod(error: z.ZodError, input: unknown, schema?: z.ZodType): InputIssue[] {
  return error.issues.flatMap((issue): InputIssue[] => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      // One issue a field, so each carries its own suggestion.
      const known = schema ? objectKeysAt(schema, issue.path, input) : [];
      return issue.keys.map((key) => withSuggestion(path, `unknown field ${showValue(key)}`, nearestName(key, known)));
    }
    const union = issue as { code: string; discriminator?: unknown; options?: unknown };
    if (union.code === 'invalid_union' && typeof union.discriminator === 'string' && Array.isArray(union.options)) {
      // zod says "Invalid discriminator value. Expected 'claude' | 'command'"; say what is allowed and what was there.
      const options = (union.options as unknown[]).map((o) => String(o));
      const got = valueAt(input, issue.path);
      const expected = `expected ${options.map((o) => `"${o}"`).join(' or ')}`;
      return [withSuggestion(path, got === undefined ? `${expected} (the field is missing)` : `${expected}, got ${showValue(got)}`, typeof got === 'string' ? nearestName(got, options) : undefined)];
    }
    if (schema && issue.code === 'invalid_value' && issue.values.every((v) => typeof v === 'string')) {
      const got = valueAt(input, issue.path);
      const expected = `expected ${issue.values.map((v) => `"${String(v)}"`).join(' or ')}`;
      return [withSuggestion(path, `${expected}, got ${showValue(got)}`, typeof got === 'string' ? nearestName(got, issue.values as string[]) : undefined)];
    }
    if (issue.code === 'invalid_key') {
      // A bad record key (an env variable name, say): show the key, not the value under it.
      const expected = issue.issues[0]?.message.replace(/^Invalid input: /, '') ?? 'an invalid key';
      return [{ path, message: `${expected}, got ${showValue(issue.path.at(-1))}` }];
    }
    // A refinement that quotes the value itself, redacted (a URL's password), must not have it echoed in clear.
    if (issue.code === 'custom') {
      const params = issue.params as { quotesValue?: boolean; suggestion?: string } | undefined;
      if (params?.quotesValue) return [{ path, message: issue.message, ...(params.suggestion ? { suggestion: params.suggestion } : {}) }];
    }
    // The raw value, not zod's: z.coerce reports the coerced NaN, while the user typed "soon".
    const raw = valueAt(input, issue.path);
    // A refinement's own issue carries the whole object it refined as input: the value at its path is the one meant.
    const value = issue.code === 'custom' || raw !== undefined || !('input' in issue) ? raw : issue.input;
    const expected = issue.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '');
    return [{ path, message: `${expected}, got ${showValue(value)}` }];
  });
}

/** The loose shape of zod 4's schema definitions, as far as finding an object's fields needs. */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
}
const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The fields the object schema at `path` allows (a union's option chosen by the input's discriminator). */
export function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  let node: z.ZodType | undefined = schema;
  let value: unknown = input;
  for (let depth = 0; node && depth < 64; depth++) {
    const def = defOf(node);
    if (def.innerType) node = def.innerType;
    else if (def.type === 'pipe') node = def.in;
    else if (def.type === 'union' && def.options) {
      const options: z.ZodType[] = def.options;
      const tag = def.discriminator && value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[def.discriminator] : undefined;
      const chosen = options.find((o) => {
        const shape = defOf(o).shape;
        const literal = shape && def.discriminator ? shape[def.discriminator] : undefined;
        return literal !== undefined && (literal as unknown as { _zod: { values?: Set<unknown> } })._zod.values?.has(tag);
      });
      if (chosen) node = chosen;
      else if (path.length === 0) return [...new Set(options.flatMap((o) => Object.keys(defOf(o).shape ?? {})))];
      else return [];
    } else if (path.length === 0) return def.shape ? Object.keys(def.shape) : [];
    else {
      const [head, ...rest] = path;
      value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[head as PropertyKey] : undefined;
      path = rest;
      if (def.type === 'object') node = def.shape?.[String(head)];
      else if (def.type === 'array') node = def.element;
      else if (def.type === 'record') node = def.valueType;
      else return [];
    }
  }
  return [];
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Issues printed for people: binary garbage given as a harness once printed 694 lines (6.6 MB). */
export const MAX_PRINTED_ISSUES = 20;
/** Issues a `--json` report holds; the rest are counted in `more`. */
export const MAX_REPORTED_ISSUES = 200;

/** One line an issue, the first `max` of them, then how many more there are. */
export function renderIssues(issues: readonly InputIssue[], max = MAX_PRINTED_ISSUES): string {
  const lines = issues.slice(0, max).map((i) => `  - ${i.path}: ${i.message}`);
  if (issues.length > max) lines.push(`  … and ${issues.length - max} more`);
  return lines.join('\n');
}
