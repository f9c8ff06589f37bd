import { execa } from 'execa';
import { tmuxAttachCommand } from '@reins/shared';

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

  constructor(
    readonly socketPath: string,
    /** The tmux server inherits this environment; keep secrets out of it. */
    private readonly serverEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    /** How old a list of sessions may be for has() to answer "yes" from it (0: ask tmux each time). */
    private readonly censusMaxAgeMs = 1_000,
  ) {}

  private run(args: readonly string[], reject = true) {
    // -f /dev/null: the user's ~/.tmux.conf must not change how agents run.
    return execa('tmux', ['-f', '/dev/null', '-S', this.socketPath, ...args], {
      env: this.serverEnv,
      extendEnv: false,
      reject,
      stdin: 'ignore',
    });
  }

  /** Starts a detached session. If tmux fails half-way, the session is killed before the error is thrown. */
  async start({ name, cwd, argv }: StartSessionOptions): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        // No remain-on-exit: a finished session must disappear, as "session gone" is a signal that the agent ended.
        await this.run(['new-session', '-d', '-s', name, '-c', cwd, '-x', '200', '-y', '50', '--', ...argv]);
        return;
      } catch (error) {
        await this.kill(name).catch(() => undefined);
        // tmux shuts its server down with the last session; a new session asked for at that instant fails
        // with "server exited unexpectedly" (measured: a few in a hundred quick agents). Ask again.
        const raced = /server exited unexpectedly|lost server|no server running/i.test(String((error as { stderr?: unknown }).stderr ?? ''));
        if (!raced || attempt >= 3) throw error;
      }
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
    const result = await this.run(['has-session', '-t', `=${name}`], false);
    return result.exitCode === 0;
  }

  /** Kills one session; true when it existed. */
  async kill(name: string): Promise<boolean> {
    // A session killed here must not live on in the census.
    this.census = undefined;
    const result = await this.run(['kill-session', '-t', `=${name}`], false);
    return result.exitCode === 0;
  }

  /** Names of live sessions; empty when no server runs on the socket. */
  async list(): Promise<string[]> {
    const result = await this.run(['list-sessions', '-F', '#{session_name}'], false);
    if (result.exitCode !== 0) return [];
    return result.stdout.split('\n').filter(Boolean);
  }

  /** The pid of the process in the session's first pane, if the session lives. */
  async panePid(name: string): Promise<number | undefined> {
    const result = await this.run(['list-panes', '-t', `=${name}`, '-F', '#{pane_pid}'], false);
    if (result.exitCode !== 0) return undefined;
    const pid = Number.parseInt(result.stdout.split('\n')[0] ?? '', 10);
    return Number.isFinite(pid) ? pid : undefined;
  }

  async killServer(): Promise<void> {
    await this.run(['kill-server'], false);
  }

  /** The command a person runs to watch a session live. */
  attachCommand(name: string): string {
    return tmuxAttachCommand(this.socketPath, name);
  }
}
