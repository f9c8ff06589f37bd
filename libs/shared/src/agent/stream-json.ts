import { z } from 'zod';
import { UsageSchema } from './usage.js';

/**
 * Claude Code's `--output-format stream-json` lines, as 2.1.328 writes them. Schemas are loose:
 * they check what reins reads and let every other field through, so a newer CLI adding fields is fine.
 */
const ContentBlockSchema = z.union([
  z.looseObject({ type: z.literal('text'), text: z.string() }),
  z.looseObject({ type: z.literal('tool_use'), id: z.string().optional(), name: z.string(), input: z.unknown() }),
  z.looseObject({
    type: z.literal('tool_result'),
    tool_use_id: z.string().optional(),
    is_error: z.boolean().optional(),
    content: z.unknown(),
  }),
  z.looseObject({ type: z.string() }),
]);

const InitSchema = z.looseObject({
  type: z.literal('system'),
  subtype: z.literal('init'),
  session_id: z.string(),
  model: z.string().optional(),
  cwd: z.string().optional(),
  tools: z.array(z.string()).optional(),
  skills: z.array(z.unknown()).optional(),
  claude_code_version: z.string().optional(),
});

const ApiRetrySchema = z.looseObject({
  type: z.literal('system'),
  subtype: z.literal('api_retry'),
  attempt: z.number().optional(),
  max_retries: z.number().optional(),
  retry_delay_ms: z.number().optional(),
  error_status: z.number().nullable().optional(),
  error: z.string().optional(),
});

/** Lenient: a usage that is not an object leaves the line readable, without usage. */
const OptionalUsage = UsageSchema.optional().catch(undefined);

const AssistantSchema = z.looseObject({
  type: z.literal('assistant'),
  /** One API message can come as several lines (a line per content block), each with the same id and usage. */
  message: z.looseObject({ id: z.string().optional().catch(undefined), content: z.array(ContentBlockSchema), usage: OptionalUsage }),
  session_id: z.string().optional(),
});

const UserSchema = z.looseObject({
  type: z.literal('user'),
  message: z.looseObject({ content: z.union([z.string(), z.array(ContentBlockSchema)]) }),
});

export const ResultSchema = z.looseObject({
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean(),
  result: z.string().optional(),
  num_turns: z.number().optional(),
  duration_ms: z.number().optional(),
  total_cost_usd: z.number().optional(),
  /** The invocation's own tokens (a resumed session's result counts only what it sent and got since). */
  usage: OptionalUsage,
  permission_denials: z.array(z.unknown()).optional(),
  api_error_status: z.number().nullable().optional(),
  terminal_reason: z.string().optional(),
  session_id: z.string().optional(),
  errors: z.array(z.unknown()).optional(),
});

const WindowInfoSchema = z.looseObject({ status: z.string().optional(), resetsAt: z.number().optional(), utilization: z.number().optional() });

/** A subscription's usage windows, from the API's `anthropic-ratelimit-unified-*` headers (../shared/CLAUDE-CODE.md). */
const RateLimitEventSchema = z.looseObject({
  type: z.literal('rate_limit_event'),
  rate_limit_info: z.looseObject({
    status: z.string(),
    /** Epoch seconds. */
    resetsAt: z.number().optional(),
    rateLimitType: z.string().optional(),
    utilization: z.number().optional(),
    unifiedWindows: z.record(z.string(), WindowInfoSchema.nullable()).optional(),
  }),
  session_id: z.string().optional(),
});

export type InitEvent = z.infer<typeof InitSchema>;
export type ApiRetryEvent = z.infer<typeof ApiRetrySchema>;
export type AssistantEvent = z.infer<typeof AssistantSchema>;
export type UserEvent = z.infer<typeof UserSchema>;
export type ResultEvent = z.infer<typeof ResultSchema>;
export type RateLimitEvent = z.infer<typeof RateLimitEventSchema>;
export type RateLimitInfo = RateLimitEvent['rate_limit_info'];
export type OtherEvent = { type: 'other'; raw: Record<string, unknown> };
/** A stdout line that is not JSON: what a command agent prints (`cat together.txt`), or a stray print. */
export type OutputEvent = { type: 'output'; text: string };

export type StreamEvent = InitEvent | ApiRetryEvent | AssistantEvent | UserEvent | ResultEvent | RateLimitEvent | OtherEvent | OutputEvent;

/**
 * The schema a line's `type` (and a system line's `subtype`) can match: one check per line, not five (a flood
 * of 40 000 lines a tick spent most of its time failing the others).
 */
function schemaFor(value: Record<string, unknown>): z.ZodType | undefined {
  switch (value.type) {
    case 'system':
      return value.subtype === 'init' ? InitSchema : value.subtype === 'api_retry' ? ApiRetrySchema : undefined;
    case 'assistant':
      return AssistantSchema;
    case 'user':
      return UserSchema;
    case 'result':
      return ResultSchema;
    case 'rate_limit_event':
      return RateLimitEventSchema;
    default:
      return undefined;
  }
}

/** One stdout line to an event; undefined when the line is not a JSON object (a stray print, say). */
export function parseStreamLine(line: string): StreamEvent | undefined {
  const trimmed = line.trim();
  // A failed JSON.parse costs microseconds (it throws): 2 million lines of `{` took a reader 11.6 s.
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const parsed = schemaFor(value as Record<string, unknown>)?.safeParse(value);
  if (parsed?.success) return parsed.data as StreamEvent;
  return { type: 'other', raw: value as Record<string, unknown> };
}

export const isResult = (e: StreamEvent): e is ResultEvent => e.type === 'result';
export const isRateLimit = (e: StreamEvent): e is RateLimitEvent => e.type === 'rate_limit_event';
export const isInit = (e: StreamEvent): e is InitEvent => e.type === 'system' && 'subtype' in e && e.subtype === 'init';

/**
 * The longest line held whole. Past it a line is cut (its first MAX_LINE_BYTES kept) and flagged: an agent's
 * 50 MB line without a newline once took a worker 14 s and 580 MB to hold.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

/** A line of the stream, without its newline. */
export interface SplitLine {
  /** The line, or its first maxLineBytes when it was cut (decoded as UTF-8). */
  text: string;
  /** The whole line's length in bytes, cut or not. */
  bytes: number;
  cut: boolean;
}

/**
 * Splits a byte stream into lines, keeping a partial last line for the next chunk. Linear in the bytes it is
 * given: a partial line is kept as a list of pieces and joined once, when its newline arrives (joining it
 * with every chunk made 100 MB of lines starting with `{` cost 20 s and 1 GB). A line over maxLineBytes
 * keeps only its first maxLineBytes; the rest is counted, never held. Lines are decoded once whole, so a
 * character split over two chunks stays intact.
 */
export class LineSplitter {
  private pieces: Buffer[] = [];
  /** Bytes held in pieces (at most maxLineBytes). */
  private held = 0;
  /** Bytes of the partial line, held or not. */
  private partialBytes = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** The whole lines a chunk completes; empty lines are left out. The chunk may be reused once this returns. */
  push(chunk: Buffer | string): SplitLine[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const lines: SplitLine[] = [];
    let start = 0;
    for (let newline = bytes.indexOf(10, start); newline !== -1; newline = bytes.indexOf(10, start)) {
      const line = this.partialBytes === 0 ? this.lineOf(bytes.subarray(start, newline), newline - start) : this.finish(bytes.subarray(start, newline));
      if (line) lines.push(line);
      start = newline + 1;
    }
    this.hold(bytes.subarray(start), true);
    return lines;
  }

  /** The unterminated rest, when the stream has ended. */
  flush(): SplitLine[] {
    const line = this.finish(Buffer.alloc(0));
    return line ? [line] : [];
  }

  /** Drops the partial line (the stream jumps ahead); returns how many bytes of it were seen. */
  reset(): number {
    const dropped = this.partialBytes;
    this.pieces = [];
    this.held = 0;
    this.partialBytes = 0;
    return dropped;
  }

  private hold(piece: Buffer, copy: boolean): void {
    if (piece.length === 0) return;
    this.partialBytes += piece.length;
    const room = this.maxLineBytes - this.held;
    if (room <= 0) return;
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    // The caller may reuse its buffer once push returns: a piece held past it is copied.
    this.pieces.push(copy ? Buffer.from(kept) : kept);
    this.held += kept.length;
  }

  private finish(last: Buffer): SplitLine | undefined {
    this.hold(last, false);
    const total = this.partialBytes;
    const line = this.lineOf(this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.held), total);
    this.reset();
    return line;
  }

  private lineOf(kept: Buffer, total: number): SplitLine | undefined {
    if (total === 0) return undefined;
    const cut = total > this.maxLineBytes;
    return { text: (cut ? kept.subarray(0, this.maxLineBytes) : kept).toString('utf8'), bytes: total, cut };
  }
}

const clip = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** What a tool call works on, for a one-line summary: the file, the command, the pattern. */
export function toolTarget(input: unknown): string {
  if (input === null || typeof input !== 'object') return '';
  const i = input as Record<string, unknown>;
  for (const field of ['file_path', 'path', 'command', 'pattern', 'url', 'skill', 'description', 'prompt']) {
    const value = i[field];
    if (typeof value === 'string' && value) return clip(value, 120);
  }
  return '';
}

export interface EventLine {
  kind: 'init' | 'text' | 'tool' | 'tool_error' | 'retry' | 'limit' | 'result' | 'error' | 'output';
  text: string;
}

/** Concise lines for people: what the agent said, which tools it called on what, and how it ended. */
export function describeEvent(event: StreamEvent): EventLine[] {
  switch (event.type) {
    case 'system': {
      if ('subtype' in event && event.subtype === 'init') {
        const e = event as InitEvent;
        const skills = (e.skills ?? []).map(String);
        return [{ kind: 'init', text: `session ${e.session_id} started${e.model ? ` (${e.model})` : ''}${skills.length ? `, skills: ${skills.join(', ')}` : ''}` }];
      }
      const e = event as ApiRetryEvent;
      const delay = e.retry_delay_ms !== undefined ? ` in ${(e.retry_delay_ms / 1000).toFixed(1)} s` : '';
      return [{ kind: 'retry', text: `API retry ${e.attempt ?? '?'}/${e.max_retries ?? '?'}${delay} (${e.error_status ?? '-'} ${e.error ?? ''})`.trim() }];
    }
    case 'assistant':
      return event.message.content.flatMap((block): EventLine[] => {
        if (block.type === 'text' && typeof block.text === 'string' && block.text.trim()) return [{ kind: 'text', text: clip(block.text, 300) }];
        if (block.type === 'tool_use' && typeof block.name === 'string') {
          const target = toolTarget(block.input);
          return [{ kind: 'tool', text: target ? `${block.name} ${target}` : block.name }];
        }
        return [];
      });
    case 'user': {
      const content = event.message.content;
      if (typeof content === 'string') return [];
      return content.flatMap((block): EventLine[] => (block.type === 'tool_result' && block.is_error === true ? [{ kind: 'tool_error', text: clip(stringifyContent(block.content), 300) }] : []));
    }
    case 'result': {
      const cost = event.total_cost_usd !== undefined ? `, $${event.total_cost_usd.toFixed(4)}` : '';
      const turns = event.num_turns !== undefined ? ` in ${event.num_turns} turn${event.num_turns === 1 ? '' : 's'}` : '';
      const status = event.is_error ? `error${event.api_error_status ? ` ${event.api_error_status}` : ''} (${event.subtype})` : event.subtype;
      return [{ kind: event.is_error ? 'error' : 'result', text: `${status}${turns}${cost}${event.result ? `: ${clip(event.result, 300)}` : ''}` }];
    }
    case 'rate_limit_event': {
      const info = event.rate_limit_info;
      const used = info.utilization !== undefined ? `, ${Math.round(info.utilization * 100)}% used` : '';
      const resets = info.resetsAt !== undefined ? `, resets ${new Date(info.resetsAt * 1000).toISOString()}` : '';
      return [{ kind: 'limit', text: `usage ${info.rateLimitType ?? 'window'}: ${info.status}${used}${resets}` }];
    }
    case 'output':
      return event.text.trim() ? [{ kind: 'output', text: clip(event.text, 300) }] : [];
    default:
      return [];
  }
}

function stringifyContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((c) => (c && typeof c === 'object' && 'text' in c ? String((c as { text: unknown }).text) : '')).join(' ');
  }
  return JSON.stringify(content) ?? '';
}
