import { Mailbox, NotFoundError, UsageError, escapeControlChars, terminalJson, type Message } from '@reins/shared';
import { RefusedByWorker, askOwnWorker, speaker } from '../agent-identity.js';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const MSG_HELP = `Usage: reins msg send MEMBER|all TEXT | inbox [--all]   [--json] [--run RUN --as MEMBER]

Messages between the members of a run. Inside an agent it needs no flags; a person gives --run and --as.
inbox shows new messages and marks them read; --all shows every message received.`;

export async function msg(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'msg',
    argv,
    { json: { type: 'boolean' }, all: { type: 'boolean' }, run: { type: 'string' }, as: { type: 'string' } },
    { min: 1, max: 3, names: 'send MEMBER|all TEXT | inbox' },
  );
  if (values.help) return help(MSG_HELP);
  const [verb, to, text] = positionals as [string, string | undefined, string | undefined];
  if (verb === 'send' && (!to || !text?.trim())) throw new UsageError('reins msg send: expected a MEMBER (or all) and a TEXT');
  if (verb !== 'send' && verb !== 'inbox') throw new UsageError(`reins msg: expected send or inbox, got ${JSON.stringify(verb)}`);
  if (verb === 'inbox' && to !== undefined) throw new UsageError(`reins msg inbox: takes no arguments, got ${JSON.stringify(to)}`);
  const who = speaker('msg', values);
  if (who.via === 'worker') {
    try {
      if (verb === 'send') printSent(values, ((await askOwnWorker('msg send', who, { op: 'msg.send', to: to!, text: text! })) as { sent: string[] }).sent);
      else printInbox(values, (await askOwnWorker('msg inbox', who, { op: 'msg.inbox', all: Boolean(values.all) })) as Message[]);
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof RefusedByWorker)) throw error;
      console.error(escapeControlChars(error.message));
      return EXIT.failed;
    }
  }
  const { runId, member } = who;
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const run = await (await ctx.store()).requireRun(runId);
    const mailbox = new Mailbox(await ctx.redis(), ctx.keys, runId);
    if (verb === 'send') {
      if (to !== 'all' && !run.members.includes(to!)) throw new NotFoundError(`run ${runId} has no member ${JSON.stringify(to)} (members: ${run.members.join(', ')})`);
      printSent(values, await mailbox.send(member, to!, text!, run.members));
      return EXIT.ok;
    }
    printInbox(values, await mailbox.inbox(member, { all: Boolean(values.all) }));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function printSent(values: { json?: boolean | undefined }, recipients: string[]): void {
  console.log(values.json ? terminalJson({ sent: recipients }) : escapeControlChars(`sent to ${recipients.join(', ') || 'nobody'}`));
}

function printInbox(values: { json?: boolean | undefined }, messages: Message[]): void {
  if (values.json) console.log(terminalJson(messages));
  else if (messages.length === 0) console.log('no new messages');
  // A message is a teammate's (an agent's) own words.
  else for (const m of messages) console.log(escapeControlChars(`${new Date(m.at).toISOString().slice(11, 19)}  from ${m.from}${m.to === 'all' ? ' (to all)' : ''}: ${m.text}`));
}
