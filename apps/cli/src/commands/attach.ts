import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import { NotFoundError, escapeControlChars, findOnPath, isFinalMemberStatus, tmuxAttachArgv, tmuxAttachCommand, type MemberStatus } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const ATTACH_HELP = `Usage: reins attach RUN MEMBER

Attaches this terminal to the tmux session of a running agent, when it runs on this host; detach with
the tmux prefix then d (Ctrl-b d), which leaves the agent running. When it runs on another host, prints
that host and the exact command to run there. Exit 1 if the member is not running.`;

export async function attach(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('attach', argv, {}, { min: 2, max: 2, names: 'RUN MEMBER' });
  if (values.help) return help(ATTACH_HELP);
  const [runId, name] = positionals as [string, string];
  const ctx = CliContext.fromEnv(flagOverrides(values));
  let target: { socket: string; session: string; host: string | undefined };
  try {
    const store = await ctx.store();
    const run = await store.requireRun(runId);
    if (!run.members.includes(name)) throw new NotFoundError(`run ${runId} has no member ${JSON.stringify(name)} (members: ${run.members.join(', ')})`);
    const member = await store.getMember(runId, name);
    if (member?.status !== 'running' || !member.tmuxSocket || !member.tmuxSession) {
      console.error(
        escapeControlChars(
          `${name} of run ${runId} ${notRunning(member?.status)}, so there is no session to attach to${member && isFinalMemberStatus(member.status) ? `; reins logs ${runId} ${name} shows what it did` : ''}`,
        ),
      );
      return EXIT.failed;
    }
    target = { socket: member.tmuxSocket, session: member.tmuxSession, host: member.host };
  } finally {
    // Closed before attaching: a session can last hours, and Redis need not see an idle client that long.
    await ctx.close();
  }

  const command = tmuxAttachArgv(target.socket, target.session);
  // The socket, session and host are what the worker wrote into the member's record: escaped for printing.
  const printable = escapeControlChars(tmuxAttachCommand(target.socket, target.session));
  const here = target.host === os.hostname() && (await isSocket(target.socket));
  if (!here) {
    console.log(`${escapeControlChars(`${name} runs on ${target.host ?? 'an unknown host'}`)}; to watch it, run there:\n  ${printable}`);
    return EXIT.ok;
  }
  if (!process.stdin.isTTY) {
    console.error(`reins attach: needs a terminal (stdin is not one); run it in a terminal, or run:\n  ${printable}`);
    return EXIT.failed;
  }
  const tmux = findOnPath('tmux');
  if (!tmux) {
    console.error('reins attach: tmux is not installed here. Install it with `apt-get install -y tmux` (Debian/Ubuntu).');
    return EXIT.failed;
  }
  // TMUX is dropped so that attaching from inside another tmux works: this is another server (its own
  // socket), and the person asked for it; tmux would otherwise refuse to nest.
  const { TMUX: _nested, ...env } = process.env;
  const child = spawn(tmux, command.slice(1), { stdio: 'inherit', env });
  const code = await new Promise<number>((resolve) => {
    child.on('exit', (exitCode) => resolve(exitCode ?? 1));
    child.on('error', () => resolve(1));
  });
  return code === 0 ? EXIT.ok : EXIT.failed;
}

async function isSocket(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isSocket();
  } catch {
    return false;
  }
}

/** Why a member has no live session, in words: "has succeeded", "is queued", "was skipped". */
function notRunning(status: MemberStatus | undefined): string {
  switch (status) {
    case undefined:
      return 'has no record';
    case 'succeeded':
    case 'failed':
      return `has ${status}`;
    case 'cancelled':
    case 'skipped':
      return `was ${status}`;
    case 'retrying':
      return 'is waiting for its next attempt';
    default:
      return `is ${status}`;
  }
}
