import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setprivPath } from '../agent-user.js';

/** What tmux answered to one command: its output lines, or its error's. */
export interface TmuxReply {
  ok: boolean;
  lines: string[];
}

class ClientGone extends Error {}

const SETPRIV = setprivPath();

/** The session a control client sits in. Agents' sessions are all named `reins-…`, so none can be this one. */
export const CONTROL_SESSION = 'control';

/**
 * Quotes one argument for tmux's command parser: single quotes keep everything literal (no `~`, `$`, `;`,
 * braces or `#{}` expansion by the parser), and a single quote is written as '\''. A line break cannot be
 * sent on a command line at all.
 */
export function tmuxQuote(arg: string): string {
  if (/[\n\r]/.test(arg)) throw new Error(`a tmux argument contains a line break: ${JSON.stringify(arg)}`);
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * One tmux client in control mode (`tmux -C`) that stays connected: each command is a line on its stdin
 * and its answer a `%begin … %end` (or `%error`) block on its stdout, in the order they were sent. It saves
 * a process per command: a spawn blocks the worker's event loop until the child has exec'd, which on a busy
 * 2-core machine was 5 to 10 ms for each of the two tmux calls every agent made.
 *
 * The client sits in a session of its own (CONTROL_SESSION, whose pane sleeps), which also keeps the server
 * up between agents: no new session can meet a server shutting down with its last one. A client that
 * exits (the server was killed) fails what it had in flight; the next command starts another.
 */
export class TmuxControlClient {
  private connection: Connection | undefined;

  constructor(
    /** tmux's own arguments before the command: `-f /dev/null -S <socket>`. */
    private readonly tmuxArgs: readonly string[],
    private readonly env: Record<string, string>,
  ) {}

  /** Sends one command. One that met a client going away (the server killed under it) is sent again, once, through a new one. */
  async run(args: readonly string[]): Promise<TmuxReply> {
    const line = `${args.map(tmuxQuote).join(' ')}\n`;
    try {
      return await this.connect().send(line);
    } catch (error) {
      if (!(error instanceof ClientGone)) throw error;
      return this.connect().send(line);
    }
  }

  /** Detaches: the client exits, the control session stays (a restarted worker attaches to it again). */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private connect(): Connection {
    if (!this.connection?.open) this.connection = new Connection(this.tmuxArgs, this.env);
    return this.connection;
  }
}

/** One control-mode client process and the commands it has in flight. */
class Connection {
  open = true;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: { resolve(reply: TmuxReply): void; reject(error: Error): void }[] = [];
  private block: { guard: string; lines: string[]; ours: boolean } | undefined;

  constructor(tmuxArgs: readonly string[], env: Record<string, string>) {
    // -A: attach to the control session a previous client (an earlier run of this worker) left.
    // --pdeathsig: the client goes when the worker does, however it died. Left behind (a worker killed with -9),
    // a client did not always notice, and a server asked to exit then waited for it for good (tmux 3.3a).
    // A host without it (util-linux is essential on Debian, not everywhere) runs the client bare.
    const tmux = ['tmux', ...tmuxArgs, '-C', 'new-session', '-A', '-s', CONTROL_SESSION, '--', 'sleep', 'infinity'];
    const argv = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...tmux] : tmux;
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: 'pipe' });
    this.child = child;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2_000);
    });
    child.stdin.on('error', () => undefined); // a client gone is reported by 'close'
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    const fail = (why: string) => {
      this.open = false;
      const error = new ClientGone(`the tmux control client ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
      for (const waiter of this.pending.splice(0)) waiter.reject(error);
    };
    child.once('error', (error) => fail(`could not run: ${error.message}`));
    child.once('close', (code) => fail(`exited (${code ?? 'signal'})`));
  }

  send(line: string): Promise<TmuxReply> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(line);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise((resolve) => this.child.once('close', resolve));
    this.child.stdin.end();
    await closed;
  }

  private onLine(line: string): void {
    // Notifications (%sessions-changed, %exit, …) come only between blocks; a block's own lines are output.
    const guard = /^%(begin|end|error) (\d+ \d+ (\d+))$/.exec(line);
    if (!this.block) {
      // The server went (or detached us): what is sent from now on goes to a new client.
      if (line.startsWith('%exit')) this.open = false;
      // Flags 1: a command this client sent; the first block (flags 0) is the new-session it started with.
      if (guard?.[1] === 'begin') this.block = { guard: guard[2]!, lines: [], ours: guard[3] === '1' };
      return;
    }
    // The block ends at the %end or %error that repeats its %begin's time, number and flags.
    if (guard && guard[1] !== 'begin' && guard[2] === this.block.guard) {
      const { lines, ours } = this.block;
      this.block = undefined;
      if (ours) this.pending.shift()?.resolve({ ok: guard[1] === 'end', lines });
      return;
    }
    this.block.lines.push(line);
  }
}
