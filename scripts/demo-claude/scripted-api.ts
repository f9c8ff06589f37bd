/**
 * A scripted Anthropic Messages API for `npm run demo:claude`: the real Claude Code CLI talks to it through
 * ANTHROPIC_BASE_URL, and "the model" is this file. It plays each member of examples/claude-team.yaml with a
 * fixed script (tool calls, then a closing answer), so a newcomer sees real agents, tools, tmux sessions and
 * costs offline, with no key. Nothing here is a model: it is a demo, and the README says so.
 *
 * What the CLI sends and expects is in the project's notes on Claude Code 2.1.328 (the SSE sequence, unique
 * tool ids, the non-streaming fallback); the test suite has its own, fuller fake (test/helpers/messages-api.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

interface Block {
  type: string;
  text?: string;
  [key: string]: unknown;
}
interface Message {
  role: string;
  content: string | Block[];
}
interface RequestBody {
  model?: string;
  system?: string | Block[];
  messages?: Message[];
  stream?: boolean;
  tools?: unknown[];
}

/** One scripted step: tool calls to make, or the closing answer. */
type Step = { tools: { name: string; input: Record<string, unknown> }[] } | { answer: string };

/** What each member of examples/claude-team.yaml does; `cwd` is its workspace, as the CLI reports it. */
const SCRIPTS: Record<string, (cwd: string) => Step[]> = {
  designer: (cwd) => [
    {
      tools: [
        {
          name: 'Write',
          input: {
            file_path: path.join(cwd, 'DESIGN.md'),
            content:
              '# roman.py\n\n- `to_roman(n: int) -> str`: 1 to 3999, else ValueError.\n- `from_roman(s: str) -> int`: canonical numerals only (`IIII` is refused), else ValueError.\n\nEdge cases: 1, 4, 9, 40, 90, 400, 900, 3999; 0 and 4000; lower case; empty string.\n',
          },
        },
      ],
    },
    { answer: 'Wrote DESIGN.md: to_roman and from_roman, their contracts, and the edge cases to test.' },
  ],
  implementer: (cwd) => [
    { tools: [{ name: 'Read', input: { file_path: path.join(cwd, 'inputs/designer/DESIGN.md') } }] },
    {
      tools: [
        {
          name: 'Write',
          input: {
            file_path: path.join(cwd, 'roman.py'),
            content:
              '"""Roman numerals, 1 to 3999."""\n\nVALUES = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),\n          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]\n\n\ndef to_roman(n: int) -> str:\n    if not 1 <= n <= 3999:\n        raise ValueError(f"out of range: {n}")\n    out = ""\n    for value, numeral in VALUES:\n        while n >= value:\n            out += numeral\n            n -= value\n    return out\n\n\ndef from_roman(s: str) -> int:\n    for n in range(1, 4000):\n        if to_roman(n) == s:\n            return n\n    raise ValueError(f"not a canonical numeral: {s!r}")\n',
          },
        },
        {
          name: 'Write',
          input: {
            file_path: path.join(cwd, 'test_roman.py'),
            content:
              'import unittest\n\nfrom roman import from_roman, to_roman\n\n\nclass RomanTest(unittest.TestCase):\n    def test_round_trip(self):\n        for n in (1, 4, 9, 40, 90, 400, 900, 3999):\n            self.assertEqual(from_roman(to_roman(n)), n)\n\n    def test_refused(self):\n        for bad in (0, 4000):\n            self.assertRaises(ValueError, to_roman, bad)\n        self.assertRaises(ValueError, from_roman, "IIII")\n\n\nif __name__ == "__main__":\n    unittest.main()\n',
          },
        },
      ],
    },
    { tools: [{ name: 'Bash', input: { command: 'ls -l roman.py test_roman.py', description: 'List the module and its tests' } }] },
    { answer: 'Implemented roman.py as DESIGN.md describes, with round-trip and range tests in test_roman.py.' },
  ],
  writer: (cwd) => [
    {
      tools: [
        {
          name: 'Write',
          input: {
            file_path: path.join(cwd, 'README.md'),
            content:
              '# roman\n\nConverts between integers and Roman numerals (1 to 3999).\n\nRun the tests: `python3 -m unittest test_roman`\n\n```python\n>>> to_roman(1994)\n\'MCMXCIV\'\n>>> from_roman("XLII")\n42\n```\n',
          },
        },
      ],
    },
    { answer: 'Wrote README.md: what the module does, how to run its tests, and two usage examples.' },
  ],
};

const textOf = (content: string | Block[] | undefined): string => (typeof content === 'string' ? content : (content ?? []).map((b) => (typeof b.text === 'string' ? b.text : '')).join('\n'));

/** The member a request speaks for: reins' appended system prompt says `You are "<member>"`. */
function memberOf(body: RequestBody): string | undefined {
  const system = [textOf(body.system), ...(body.messages ?? []).filter((m) => m.role === 'system').map((m) => textOf(m.content))].join('\n');
  return /You are "([A-Za-z0-9_-]+)"/.exec(system)?.[1];
}

function cwdOf(body: RequestBody): string {
  const all = [textOf(body.system), ...(body.messages ?? []).map((m) => textOf(m.content))].join('\n');
  return /Primary working directory: (\S+)/.exec(all)?.[1] ?? process.cwd();
}

/** The step due: one per answer the model already gave in this conversation. */
function nextStep(body: RequestBody): Step {
  const member = memberOf(body);
  const script = member ? SCRIPTS[member] : undefined;
  if (!script || !body.tools?.length) return { answer: 'Done.' }; // the CLI's side requests (titles, summaries)
  const steps = script(cwdOf(body));
  const answered = (body.messages ?? []).filter((m) => m.role === 'assistant').length;
  return steps[Math.min(answered, steps.length - 1)]!;
}

let toolIds = 0;
let messageIds = 0;

function reply(body: RequestBody, step: Step): { content: Block[]; stopReason: string; usage: Record<string, number> } {
  const content: Block[] = 'answer' in step ? [{ type: 'text', text: step.answer }] : step.tools.map((t) => ({ type: 'tool_use', id: `toolu_demo_${process.pid}_${++toolIds}`, name: t.name, input: t.input }));
  // Rough counts (4 characters a token): enough for the CLI to report a plausible cost.
  const tokens = (value: unknown) => Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
  return {
    content,
    stopReason: 'answer' in step ? 'end_turn' : 'tool_use',
    usage: { input_tokens: tokens(body.messages), output_tokens: tokens(content), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  };
}

function send(res: ServerResponse, body: RequestBody, step: Step): void {
  const { content, stopReason, usage } = reply(body, step);
  const message = { id: `msg_demo_${++messageIds}`, type: 'message', role: 'assistant', model: body.model ?? 'claude-sonnet-4-5', stop_sequence: null };
  if (body.stream === false) {
    // The CLI's fallback after a stalled stream asks for plain JSON.
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...message, content, stop_reason: stopReason, usage }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event('message_start', { message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else {
      event('content_block_start', { index, content_block: { ...block, input: {} } });
      event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
    }
    event('content_block_stop', { index });
  });
  event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  event('message_stop', {});
  res.end();
}

async function readBody(req: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RequestBody;
}

export interface ScriptedApi {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (a free port unless told). `stepDelayMs` paces the answers, so that there is time
 * to watch an agent in its tmux session or on the board.
 */
export async function startScriptedApi({ port = 0, stepDelayMs = 0 }: { port?: number; stepDelayMs?: number } = {}): Promise<ScriptedApi> {
  const api: ScriptedApi = { url: '', requests: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (req.method === 'HEAD') return void res.writeHead(200).end();
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
      return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no ${req.url}` } }));
    }
    readBody(req)
      .then(async (body) => {
        api.requests += 1;
        const step = nextStep(body);
        if (stepDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, stepDelayMs));
        send(res, body, step);
      })
      .catch((error: unknown) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: String(error) } })));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return api;
}
