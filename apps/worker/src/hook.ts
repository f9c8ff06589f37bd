// Claude Code runs this on every PreToolUse and PostToolUse (see claude/invocation.ts). It refreshes the
// agent's heartbeat, which tells "a long tool call" from "hung", and it stops an agent whose attempt was
// superseded: exit 2 blocks the tool and shows the model why. It imports only what it needs, since it
// starts once per tool call, and it never fails a tool because Redis blinked.
import { createKeys } from '@reins/shared/keys';
import { createRedis } from '@reins/shared/connection';
import { withScripts } from '@reins/shared/scripts';
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
  const keys = createKeys(id.prefix);
  const redis = withScripts(createRedis(id.redisUrl, 'command', { maxRetriesPerRequest: 0, connectTimeout: 2_000, commandTimeout: 2_000, retryStrategy: () => null, lazyConnect: true }));
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const result = await redis.reinsHookPing(keys.member(id.runId, id.member), keys.heartbeat(id.jobId), String(id.epoch), String(Date.now()), String(id.heartbeatTtlMs), event === 'PreToolUse' ? '1' : '0');
    if (Number(result) === -1) {
      process.stderr.write(`reins: this attempt (epoch ${id.epoch}) of ${id.member} was superseded by a newer one. Stop now: do not call more tools.\n`);
      return 2;
    }
    return 0;
  } catch {
    return 0;
  } finally {
    redis.disconnect();
  }
}

process.exit(await main());
