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
  constructor(
    readonly socketPath: string,
    /** The tmux server inherits this environment; keep secrets out of it. */
    private readonly serverEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' },
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

  async has(name: string): Promise<boolean> {
    const result = await this.run(['has-session', '-t', `=${name}`], false);
    return result.exitCode === 0;
  }

  /** Kills one session; true when it existed. */
  async kill(name: string): Promise<boolean> {
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
