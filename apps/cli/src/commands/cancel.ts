import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError, broadcastCancel, cancelIdleMembers, escapeControlChars, isFinalMemberStatus } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const CANCEL_HELP = `Usage: reins cancel RUN [--wait-ms N]

Marks the run cancelled, removes its queued agents and stops the running ones (their tmux sessions are
killed by their workers). Waits up to --wait-ms (default 15000) for running agents to stop.`;

export async function cancel(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('cancel', argv, { 'wait-ms': { type: 'string' } }, { min: 1, max: 1, names: 'one RUN id' });
  if (values.help) return help(CANCEL_HELP);
  const waitMs = Number(values['wait-ms'] ?? 15_000);
  if (!Number.isInteger(waitMs) || waitMs < 0) {
    throw new UsageError(`reins cancel: expected --wait-ms to be a whole number of milliseconds, got ${JSON.stringify(values['wait-ms'])}`);
  }
  const runId = positionals[0]!;
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const store = await ctx.store();
    const run = await store.requireRun(runId);
    if (!(await store.markCancelled(runId))) {
      console.error(escapeControlChars(`run ${runId} already ended: ${run.status}`));
      return EXIT.failed;
    }
    // The cancel mark is in Redis first; then workers are told, so one that restarts still sees it.
    await broadcastCancel(await ctx.redis(), ctx.keys, runId);
    const agentQueue = await ctx.agentQueues();
    const deadline = Date.now() + waitMs;
    let running = await cancelIdleMembers(store, agentQueue, runId, await store.getMembers(run));
    while (running.length > 0 && Date.now() < deadline) {
      await sleep(200);
      const members = await store.getMembers(run);
      running = members.filter((m) => !isFinalMemberStatus(m.status)).map((m) => m.name);
      if (running.length > 0) running = await cancelIdleMembers(store, agentQueue, runId, members);
    }
    console.error(escapeControlChars(`cancelled ${runId}${running.length > 0 ? `; still stopping: ${running.join(', ')}` : ''}`));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
