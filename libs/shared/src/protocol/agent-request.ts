import { z } from 'zod';

/**
 * What an agent may ask of its worker, over its attempt's socket (the worker's attempt/agent-socket.ts):
 * the in-agent `reins task|msg|checkpoint` commands and Claude Code's tool hooks. The agent names no run
 * and no member: the socket and its token are the attempt's, so an agent can reach only its own.
 */
export const AgentRequestSchema = z.discriminatedUnion('op', [
  /** A tool hook: PreToolUse (a tool starts) or PostToolUse. */
  z.object({ op: z.literal('beat'), event: z.string().max(64).optional() }),
  z.object({ op: z.literal('task.add'), title: z.string().trim().min(1).max(1_000) }),
  z.object({ op: z.literal('task.list') }),
  z.object({ op: z.literal('task.claim'), id: z.number().int().positive().optional() }),
  z.object({ op: z.literal('task.done'), id: z.number().int().positive(), note: z.string().max(10_000).default('') }),
  z.object({ op: z.literal('msg.send'), to: z.string().min(1).max(200), text: z.string().trim().min(1).max(100_000) }),
  z.object({ op: z.literal('msg.inbox'), all: z.boolean().default(false) }),
  z.object({ op: z.literal('checkpoint'), data: z.unknown() }),
]);
export type AgentRequest = z.input<typeof AgentRequestSchema>;
export type ParsedAgentRequest = z.output<typeof AgentRequestSchema>;

/** One request per connection, one JSON line each way. */
export const AgentEnvelopeSchema = z.object({ token: z.string().min(1).max(200), request: z.unknown() });

/** Why a request was refused: the CLI maps each to its exit code. */
export type AgentRefusal = 'bad_request' | 'refused' | 'not_found' | 'conflict' | 'internal';

export type AgentReply = { ok: true; result: unknown } | { ok: false; kind: AgentRefusal; error: string };

/** A request line over this is cut off: the worker reads no more of it. */
export const AGENT_REQUEST_MAX_BYTES = 1024 * 1024;
