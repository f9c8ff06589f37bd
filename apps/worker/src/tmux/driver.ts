import { execa } from 'execa';
import { tmuxAttachCommand } from '@reins/shared';
import { CONTROL_SESSION, TmuxControlClient, type TmuxReply } from './control-client.js';

/** tmux forbids "." and ":" in session names and treats other punctuation badly in targets. */
export function cleanSessionName(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 200);
}

export interface StartSessionOptions {
  name: string;
  cwd: string;
  /** The program and its arguments; tmux runs them directly, without a shell. */
  argv: readonly string[];
}

/**
 * A small driver over one private tmux server (`tmux -S <socket>`), never the user's default server.
 * Sessions are targeted as `=name`, because a plain `-t name` prefix-matches another session.
 */
export class TmuxDriver {
  /** The last list of live sessions, shared by every has() asked within censusMaxAgeMs of it. */
  private census: { at: number; names: Promise<Set<string>> } | undefined;
  /** With `control`, every command goes through one client that stays connected (control-client.ts). */
  private readonly client: TmuxControlClient | undefined;
  private readonly serverEnv: Record<string, string>;
  private readonly censusMaxAgeMs: number;

  constructor(
    readonly socketPath: string,
    options: {
      /** The tmux server inherits this environment; keep secrets out of it. */
      serverEnv?: Record<string, string>;
      /** How old a list of sessions may be for has() to answer "yes" from it (0: ask tmux each time). */
      censusMaxAgeMs?: number;
      /** One control-mode client for every command, instead of a tmux process each (a worker's own socket). */
      control?: boolean;
    } = {},
  ) {
    this.serverEnv = options.serverEnv ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    this.censusMaxAgeMs = options.censusMaxAgeMs ?? 1_000;
    if (options.control) this.client = new TmuxControlClient(this.tmuxArgs(), this.serverEnv);
  }

  // -f /dev/null: the user's ~/.tmux.conf must not change how agents run.
  private tmuxArgs(): string[] {
    return ['-f', '/dev/null', '-S', this.socketPath];
  }

  private run(args: readonly string[]): Promise<TmuxReply> {
    return this.client ? this.client.run(args) : this.exec(args);
  }

  /** One tmux process for one command. */
  private async exec(args: readonly string[]): Promise<TmuxReply> {
    const result = await execa('tmux', [...this.tmuxArgs(), ...args], { env: this.serverEnv, extendEnv: false, reject: false, stdin: 'ignore' });
    const ok = result.exitCode === 0;
    return { ok, lines: (ok ? result.stdout : result.stderr).split('\n').filter(Boolean) };
  }

  /** Starts a detached session. If tmux fails half-way, the session is killed before the error is thrown. */
  async start({ name, cwd, argv }: StartSessionOptions): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      // No remain-on-exit: a finished session must disappear, as "session gone" is a signal that the agent ended.
      // -c is expanded as a format by tmux: "##" keeps a "#" in the path literal.
      const reply = await this.run(['new-session', '-d', '-s', name, '-c', cwd.replace(/#/g, '##'), '-x', '200', '-y', '50', '--', ...argv]);
      if (reply.ok) return;
      // A session of that name already there is not one this call half-made: it is left alone.
      if (reply.lines.some((line) => /duplicate session/.test(line))) throw new Error(`tmux new-session ${name}: ${reply.lines.join('; ')}`);
      await this.kill(name).catch(() => undefined);
      // Without a control client, tmux shuts its server down with the last session; a new session asked for
      // at that instant fails with "server exited unexpectedly" (measured: a few in a hundred quick agents).
      const raced = reply.lines.some((line) => /server exited unexpectedly|lost server|no server running/i.test(line));
      if (!raced || attempt >= 3) throw new Error(`tmux new-session ${name}: ${reply.lines.join('; ') || 'failed'}`);
    }
  }

  /**
   * Whether the session lives. Every agent's monitor asks each tick: one `tmux has-session` each was 200
   * processes a second for 1,000 agents on a 2-core machine. So a "yes" may come from a list of sessions
   * at most censusMaxAgeMs old (one list-sessions answers a whole tick's worth of agents), while a "no"
   * is always asked of tmux itself: a session started after the list, or missing from it, is looked up,
   * so a live agent is never taken for gone. A gone one is seen at most censusMaxAgeMs late (its exit
   * file is seen at once anyway).
   */
  async has(name: string): Promise<boolean> {
    if (this.censusMaxAgeMs > 0) {
      const now = Date.now();
      if (!this.census || now - this.census.at > this.censusMaxAgeMs) {
        this.census = { at: now, names: this.list().then((names) => new Set(names)) };
      }
      if ((await this.census.names).has(name)) return true;
    }
    return (await this.run(['has-session', '-t', `=${name}`])).ok;
  }

  /** Kills one session; true when it existed. */
  async kill(name: string): Promise<boolean> {
    // A session killed here must not live on in the census.
    this.census = undefined;
    return (await this.run(['kill-session', '-t', `=${name}`])).ok;
  }

  /** Names of live agents' sessions (not the control client's); empty when no server runs on the socket. */
  async list(): Promise<string[]> {
    const reply = await this.run(['list-sessions', '-F', '#{session_name}']);
    return reply.ok ? reply.lines.filter((name) => name !== CONTROL_SESSION) : [];
  }

  /** The pid of the process in the session's first pane, if the session lives. */
  async panePid(name: string): Promise<number | undefined> {
    const reply = await this.run(['list-panes', '-t', `=${name}`, '-F', '#{pane_pid}']);
    if (!reply.ok) return undefined;
    const pid = Number.parseInt(reply.lines[0] ?? '', 10);
    return Number.isFinite(pid) ? pid : undefined;
  }

  async killServer(): Promise<void> {
    this.census = undefined;
    // A process of its own: the control client goes down with the server, before it could answer.
    await this.exec(['kill-server']);
    await this.client?.close();
  }

  /**
   * Disconnects the control client. When no agent's session is left, the server goes too (as it did with
   * its last session before there was a control session); otherwise it stays with them.
   */
  async close(): Promise<void> {
    if (!this.client) return;
    if ((await this.list().catch(() => ['unknown'])).length === 0) await this.killServer();
    else await this.client.close();
  }

  /** The command a person runs to watch a session live. */
  attachCommand(name: string): string {
    return tmuxAttachCommand(this.socketPath, name);
  }
}
