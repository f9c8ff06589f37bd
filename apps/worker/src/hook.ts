// Claude Code runs this on every PreToolUse and PostToolUse (see claude/invocation.ts). It tells the agent's
// worker, over the attempt's socket, that a tool starts or ended: the worker refreshes the heartbeat, which
// tells "a long tool call" from "hung", and says when the attempt was superseded: exit 2 blocks the tool
// and shows the model why. It imports only what it needs, since it starts once per tool call, and it never
// fails a tool because the worker blinked.
import { askWorker } from '@reins/shared/agent-client';
import { readAgentIdentity } from '@reins/shared/agent-identity';

/** The hook input names the event; PreToolUse means a tool is starting, so the agent is busy, not hung. */
async function hookEvent(): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { hook_event_name?: unknown };
    return typeof input.hook_event_name === 'string' ? input.hook_event_name : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const event = await hookEvent();
  const id = readAgentIdentity(process.env);
  if (!id) return 0;
  try {
    const reply = await askWorker(id.socket, id.token, { op: 'beat', ...(event ? { event: event.slice(0, 64) } : {}) }, { waitMs: 2_000 });
    if (reply.ok && (reply.result as { superseded?: boolean }).superseded) {
      process.stderr.write(`reins: this attempt (epoch ${id.epoch}) of ${id.member} was superseded by a newer one. Stop now: do not call more tools.\n`);
      return 2;
    }
    return 0;
  } catch {
    return 0;
  }
}

process.exit(await main());
