import { NotFoundError, type AgentEvent } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const LOGS_HELP = `Usage: reins logs RUN [MEMBER]

Prints an agent's events, readable: what it said, the tools it called and on what, retries, and the result.
Without MEMBER, every member's events in time order.`;

export async function logs(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('logs', argv, {}, { min: 1, max: 2, names: 'RUN [MEMBER]' });
  if (values.help) return help(LOGS_HELP);
  const [runId, member] = positionals as [string, string | undefined];
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const store = await ctx.store();
    const run = await store.requireRun(runId);
    if (member !== undefined && !run.members.includes(member)) {
      throw new NotFoundError(`run ${runId} has no member ${JSON.stringify(member)} (members: ${run.members.join(', ')})`);
    }
    const names = member !== undefined ? [member] : run.members;
    const events: (AgentEvent & { member: string })[] = [];
    for (const name of names) {
      for (const event of await store.readEvents(runId, name, '-', 100_000)) events.push({ ...event, member: name });
    }
    events.sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
    const width = Math.max(...names.map((n) => n.length));
    for (const e of events) {
      const time = new Date(e.at).toISOString().slice(11, 19);
      const who = names.length > 1 ? `${e.member.padEnd(width)}  ` : '';
      console.log(`${time}  ${who}${e.kind.padEnd(10)} ${e.text}`);
    }
    if (events.length === 0) console.error(`no events yet for ${member ?? `run ${runId}`}`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
