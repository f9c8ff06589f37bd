/**
 * A fake Anthropic Messages API for tests that drive the real Claude Code CLI.
 *
 * The CLI is pointed at it through ANTHROPIC_BASE_URL (see `claudeEnv`). Each
 * `POST /v1/messages` is recorded and answered by a test-supplied handler, so a
 * test can script exactly what "the model" does: call tools, answer, fail, or
 * never answer. Only node:http is used, so the helper adds no dependencies.
 *
 * Facts about the CLI this relies on are in /work/shared/CLAUDE-CODE.md.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

// ---------------------------------------------------------------------------
// Request shapes (only the parts tests read; the CLI sends much more)
// ---------------------------------------------------------------------------

export interface TextBlock {
  type: 'text';
  text: string;
}

export interface ToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | ContentBlock[];
  is_error?: boolean;
}

/** Any other block the CLI may send (thinking, image, …), kept as-is. */
export interface OtherBlock {
  type: string;
  [key: string]: unknown;
}

export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock | OtherBlock;

export interface Message {
  /** The CLI also puts `role: "system"` messages (environment, cwd) inside `messages`. */
  role: 'user' | 'assistant' | 'system' | (string & {});
  content: string | ContentBlock[];
}

export interface MessagesRequestBody {
  model: string;
  messages: Message[];
  system?: string | ContentBlock[];
  stream?: boolean;
  tools?: { name: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  headers: IncomingHttpHeaders;
  body: MessagesRequestBody;
  /** Arrival time, ms since the epoch. */
  time: number;
  /**
   * Identifies one CLI conversation. It is the CLI's session id (sent as the
   * `x-claude-code-session-id` header, and also inside `metadata.user_id`), which
   * `--resume` keeps, so a resumed run lands in the same conversation. Falls back
   * to the first user message text for clients that send neither.
   */
  conversationKey: string;
  /**
   * All system prompt text, joined by newlines: `body.system` (a string or text
   * blocks) followed by any `role: "system"` messages, which is where the CLI
   * puts the environment section ("Primary working directory: …").
   */
  systemText: string;
  /**
   * Text of the first user message. Note that the CLI prepends
   * `<system-reminder>` blocks to it, so this is not just the `-p` prompt; use
   * `promptText` for that.
   */
  firstUserText: string;
  /** `firstUserText` without the blocks that are wholly a `<system-reminder>`. */
  promptText: string;
  /** Assistant messages already in `body.messages`: 0 for a fresh conversation. */
  turn: number;
}

/** Requests that are not `POST /v1/messages`, kept so tests can assert there were none. */
export interface OtherRequest {
  method: string;
  path: string;
  time: number;
}

// ---------------------------------------------------------------------------
// Replies (what "the model" does)
// ---------------------------------------------------------------------------

export interface TextReply {
  text: string;
  /** Response headers: a subscription's usage windows, say (`unifiedLimitHeaders`). */
  headers?: Record<string, string>;
  /** The message's usage, over the estimate (see `buildMessage`): what token budgets are tested with. */
  usage?: Partial<Usage>;
}

export interface ToolUseReply {
  toolUse: { name: string; input: object }[];
  /** Optional text sent before the tool calls, as a model often does. */
  text?: string;
  headers?: Record<string, string>;
  usage?: Partial<Usage>;
}

export interface ErrorReply {
  error: {
    status: number;
    /** Anthropic error type; defaults from the status (see `defaultErrorType`). */
    type?: string;
    message?: string;
    /** Sent as a `retry-after` header, to steer the CLI's backoff in retry tests. */
    retryAfterSeconds?: number;
    headers?: Record<string, string>;
  };
}

export interface HangReply {
  hang: true;
}

export type Reply = TextReply | ToolUseReply | ErrorReply | HangReply;

export type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

export interface MessagesApiOptions {
  handler: Handler;
}

export interface MessagesApi {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Every `POST /v1/messages`, in arrival order. */
  requests: RecordedRequest[];
  /** Every other request (HEAD probes, unknown paths). */
  otherRequests: OtherRequest[];
  /** Handler failures; the CLI was sent a 400 for each so it fails fast. */
  handlerErrors: unknown[];
  /** Stops the server and destroys every socket, including hung ones. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

// Ids are unique for the whole process, not per server or per conversation: the
// CLI replaces a repeated tool_use id with "[Tool use interrupted]", and a
// resumed conversation may be served by a fresh server in the same test run.
let toolUseCounter = 0;
let messageCounter = 0;

function nextId(prefix: string, n: number): string {
  return `${prefix}_reins_${String(n).padStart(6, '0')}`;
}

export async function startMessagesApi(options: MessagesApiOptions): Promise<MessagesApi> {
  const requests: RecordedRequest[] = [];
  const otherRequests: OtherRequest[] = [];
  const handlerErrors: unknown[] = [];
  // Tracked by hand so close() can cut hung requests and idle keep-alive
  // connections at once instead of waiting for the CLI to give up.
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      handlerErrors.push(err);
      if (!res.headersSent && !res.destroyed) sendError(res, { status: 500, message: String(err) });
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const pathname = path.split('?')[0];
    const time = Date.now();
    const raw = await readBody(req);

    // The CLI probes connectivity with HEAD (only when non-essential traffic is on).
    if (req.method === 'HEAD') {
      otherRequests.push({ method: req.method, path, time });
      res.writeHead(200).end();
      return;
    }
    if (req.method !== 'POST' || pathname !== '/v1/messages') {
      otherRequests.push({ method: req.method ?? '?', path, time });
      sendError(res, { status: 404, type: 'not_found_error', message: `fake messages api: no route ${req.method} ${path}` });
      return;
    }

    const body = parseBody(raw);
    if (typeof body === 'string') {
      sendError(res, { status: 400, message: `fake messages api: ${body}` });
      return;
    }
    const recorded = describeRequest(req.method, path, req.headers, body, time);
    requests.push(recorded);

    let reply: Reply;
    try {
      reply = await options.handler(recorded);
    } catch (err) {
      // A 400 rather than a 5xx: the CLI does not retry it, so a broken script
      // fails the run in well under a second with this message in its result.
      handlerErrors.push(err);
      reply = { error: { status: 400, message: `fake messages api handler failed: ${errorMessage(err)}` } };
    }
    // The CLI may have hung up (timeout, kill) while an async handler ran.
    if (res.destroyed) return;

    if ('hang' in reply) return; // Left open on purpose; close() destroys it.
    if ('error' in reply) {
      sendError(res, reply.error);
      return;
    }
    const message = buildMessage(recorded, reply);
    if (body.stream === true) sendStream(res, message, reply.headers);
    else sendJson(res, 200, message, reply.headers);
  }

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    otherRequests,
    handlerErrors,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Returns the body, or a string describing why it is not a Messages request. */
function parseBody(raw: string): MessagesRequestBody | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return 'body is not JSON';
  }
  if (!isRecord(parsed)) return 'body is not a JSON object';
  if (typeof parsed.model !== 'string') return 'model: expected a string';
  if (!Array.isArray(parsed.messages)) return 'messages: expected an array';
  return parsed as MessagesRequestBody;
}

function describeRequest(method: string, path: string, headers: IncomingHttpHeaders, body: MessagesRequestBody, time: number): RecordedRequest {
  const firstUser = body.messages.find((m) => m.role === 'user');
  const firstUserBlocks = firstUser ? textsOf(firstUser.content) : [];
  const firstUserText = firstUserBlocks.join('\n');
  const systemParts = [...(body.system === undefined ? [] : textsOf(body.system)), ...body.messages.filter((m) => m.role === 'system').flatMap((m) => textsOf(m.content))];
  const sessionHeader = headers['x-claude-code-session-id'];
  const sessionId = (typeof sessionHeader === 'string' ? sessionHeader : undefined) ?? metadataSessionId(body);
  return {
    method,
    path,
    headers,
    body,
    time,
    conversationKey: sessionId ?? `first-user:${firstUserText}`,
    systemText: systemParts.join('\n'),
    firstUserText,
    promptText: firstUserBlocks.filter((t) => !isSystemReminder(t)).join('\n'),
    turn: body.messages.filter((m) => m.role === 'assistant').length,
  };
}

/** The CLI also puts its session id in `metadata.user_id`, a JSON string. */
function metadataSessionId(body: MessagesRequestBody): string | undefined {
  const metadata = body.metadata;
  if (!isRecord(metadata) || typeof metadata.user_id !== 'string') return undefined;
  try {
    const userId: unknown = JSON.parse(metadata.user_id);
    return isRecord(userId) && typeof userId.session_id === 'string' ? userId.session_id : undefined;
  } catch {
    return undefined;
  }
}

function isSystemReminder(text: string): boolean {
  const trimmed = text.trim();
  return trimmed.startsWith('<system-reminder>') && trimmed.endsWith('</system-reminder>');
}

function textsOf(content: string | ContentBlock[]): string[] {
  if (typeof content === 'string') return [content];
  return content.filter(isTextBlock).map((b) => b.text);
}

function isTextBlock(block: ContentBlock): block is TextBlock {
  return block.type === 'text' && typeof block.text === 'string';
}

function isToolResultBlock(block: ContentBlock): block is ToolResultBlock {
  return block.type === 'tool_result';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

type ResponseBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: object };

interface ResponseMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ResponseBlock[];
  stop_reason: 'end_turn' | 'tool_use';
  stop_sequence: null;
  usage: Usage;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

// Rough token counts (4 characters a token) so the CLI reports plausible,
// non-zero usage and total_cost_usd; nothing checks them against a tokenizer.
// A reply's own `usage` replaces them field by field. The stream's message_start
// carries output_tokens 1 (provisional), as the real API's does: Claude Code's
// assistant lines show that, and its result line the final count.
function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function buildMessage(req: RecordedRequest, reply: TextReply | ToolUseReply): ResponseMessage {
  const content: ResponseBlock[] = [];
  if (reply.text !== undefined) content.push({ type: 'text', text: reply.text });
  if ('toolUse' in reply) {
    for (const call of reply.toolUse) {
      content.push({ type: 'tool_use', id: nextId('toolu', ++toolUseCounter), name: call.name, input: call.input });
    }
  }
  return {
    id: nextId('msg', ++messageCounter),
    type: 'message',
    role: 'assistant',
    model: req.body.model,
    content,
    stop_reason: 'toolUse' in reply ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: estimateTokens(JSON.stringify(req.body.messages)),
      output_tokens: estimateTokens(JSON.stringify(content)),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      ...reply.usage,
    },
  };
}

/** Streams `message` as the SSE event sequence the real API sends. */
function sendStream(res: ServerResponse, message: ResponseMessage, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': `req_${message.id}`,
    ...headers,
  });
  const event = (type: string, data: object): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  // message_start carries the message with no content yet; output_tokens here is
  // provisional and the final count comes in message_delta, as with the real API.
  event('message_start', {
    message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else {
      event('content_block_start', { index, content_block: { ...block, input: {} } });
      event('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    event('content_block_stop', { index });
  });
  event('message_delta', {
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  event('message_stop', {});
  res.end();
}

function defaultErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

function sendError(res: ServerResponse, error: ErrorReply['error']): void {
  const type = error.type ?? defaultErrorType(error.status);
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  Object.assign(headers, error.headers);
  sendJson(res, error.status, { type: 'error', error: { type, message: error.message ?? type } }, headers);
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * The headers a subscription's answer carries about its five-hour window, which Claude Code reports as a
 * `rate_limit_event` (../shared/CLAUDE-CODE.md, "Usage limits"; it reads them only with OAuth credentials).
 */
export function unifiedLimitHeaders(window: { status: 'allowed' | 'allowed_warning' | 'rejected'; utilization: number; resetsAt: number }): Record<string, string> {
  const reset = String(Math.floor(window.resetsAt / 1000));
  return {
    'anthropic-ratelimit-unified-status': window.status,
    'anthropic-ratelimit-unified-reset': reset,
    'anthropic-ratelimit-unified-5h-status': window.status,
    'anthropic-ratelimit-unified-5h-utilization': String(window.utilization),
    'anthropic-ratelimit-unified-5h-reset': reset,
    ...(window.utilization >= 0.9 ? { 'anthropic-ratelimit-unified-5h-surpassed-threshold': '0.9' } : {}),
    'anthropic-ratelimit-unified-representative-claim': 'five_hour',
  };
}

/** The credential a request carried: an OAuth or auth token (Bearer), or an API key. */
export const credentialOf = (req: { headers: IncomingHttpHeaders }): string => {
  const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
  return bearer ?? String(req.headers['x-api-key'] ?? '');
};

// ---------------------------------------------------------------------------
// Handler builders and request helpers
// ---------------------------------------------------------------------------

/**
 * Answers the n-th turn of each conversation with `turns[n]`. The turn is the
 * number of assistant messages already sent, so a resumed conversation carries
 * on from where it stopped rather than starting over. Running past the script
 * is a 400, which the CLI reports at once instead of retrying.
 */
export function scripted(turns: readonly Reply[]): Handler {
  return (req) =>
    turns[req.turn] ?? {
      error: { status: 400, message: `fake messages api: script has no reply for turn ${req.turn} (${turns.length} turns)` },
    };
}

/**
 * Dispatches each request to `handlers[route(req)]`, e.g. to give each agent of
 * a multi-agent test its own script. An unknown key is a 400, so a routing
 * mistake fails the run quickly and says why.
 */
export function byConversation(route: (req: RecordedRequest) => string, handlers: Record<string, Handler>): Handler {
  return (req) => {
    const key = route(req);
    const handler = handlers[key];
    if (handler === undefined) {
      return { error: { status: 400, message: `fake messages api: no handler for route key ${JSON.stringify(key)}` } };
    }
    return handler(req);
  };
}

/** The tool_result blocks of the last user message: what the tools just returned. */
export function lastToolResults(req: RecordedRequest): ToolResultBlock[] {
  // Not findLast: the repo's tsc invocation for tests targets es2022 libs.
  const lastUser = [...req.body.messages].reverse().find((m) => m.role === 'user');
  if (lastUser === undefined || typeof lastUser.content === 'string') return [];
  return lastUser.content.filter(isToolResultBlock);
}

/** A tool result's content as plain text (it may be a string or text blocks). */
export function toolResultText(block: ToolResultBlock): string {
  if (block.content === undefined) return '';
  return textsOf(block.content).join('\n');
}

// ---------------------------------------------------------------------------
// CLI environment
// ---------------------------------------------------------------------------

/**
 * The whole environment for a `claude` child process talking to `api`. It is
 * meant to replace process.env, not extend it, so nothing from the developer's
 * own setup (real API keys, ~/.claude) leaks into a test.
 *
 * CLAUDE_CODE_MAX_RETRIES and API_TIMEOUT_MS are left to each test: the CLI's
 * defaults are part of what some tests observe.
 */
export function claudeEnv(api: Pick<MessagesApi, 'url'>, home: string): Record<string, string> {
  const env: Record<string, string> = {
    HOME: home,
    // Otherwise the CLI writes sockets and scratch files under /tmp, shared by all tests.
    CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
    ANTHROPIC_BASE_URL: api.url,
    ANTHROPIC_API_KEY: 'test-key',
    // With this the only connection the CLI makes is to ANTHROPIC_BASE_URL.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    // Tests run as root, where --dangerously-skip-permissions is refused without it.
    IS_SANDBOX: '1',
  };
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  return env;
}
