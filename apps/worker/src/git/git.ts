import { execa } from 'execa';
import type { AgentUser } from '../agent-user.js';

/** Who reins' own commits (checkpoints, merge-backs) are by; defined once, for every git call the worker makes. */
export const REINS_GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'reins',
  GIT_AUTHOR_EMAIL: 'reins@localhost',
  GIT_COMMITTER_NAME: 'reins',
  GIT_COMMITTER_EMAIL: 'reins@localhost',
} as const;

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface GitOptions {
  /** Extra environment (GIT_INDEX_FILE for a private index). */
  env?: Record<string, string>;
  /** Throw on a non-zero exit (the default); false to read exitCode instead. */
  reject?: boolean;
  /** It talks to a remote: never prompt for credentials (nobody is there to answer), ssh in batch mode. */
  remote?: boolean;
  /**
   * Run as the agent user, in a repository the agent owns (its workspace). The worker never runs git as
   * itself there: the agent controls that repository's config and hooks. The environment is built from
   * scratch, so nothing of the worker's reaches what those hooks run.
   */
  as?: AgentUser | undefined;
  /** Write stdout to this file (opened by the worker) instead of returning it. */
  stdoutFile?: string;
}

/** Unattended remote access; a worker's own GIT_SSH_COMMAND (a key, a known_hosts file) is kept. */
const remoteEnv = (): Record<string, string> => ({ GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes' });

/** What git as the agent user gets: a PATH, and no configuration but the repository's own. */
const agentGitEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
});

/**
 * The worker's one git runner: `git -C <cwd> …` with reins' identity, never reading stdin. Workspace,
 * checkpoint, merge-back and worktree clean-up all go through it.
 */
export async function git(cwd: string, args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  const base = options.remote ? remoteEnv() : {};
  const as = options.as && { uid: options.as.uid, gid: options.as.gid, extendEnv: false, env: { ...agentGitEnv(), ...REINS_GIT_IDENTITY, ...options.env } };
  const result = await execa('git', ['-C', cwd, ...args], {
    env: { ...REINS_GIT_IDENTITY, ...base, ...options.env },
    reject: options.reject ?? true,
    stdin: 'ignore',
    ...as,
    ...(options.stdoutFile ? { stdout: { file: options.stdoutFile } } : {}),
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Whether a git command succeeds (exit 0), for questions such as "is this ref there?". */
export async function gitSucceeds(cwd: string, args: readonly string[], as?: AgentUser): Promise<boolean> {
  return (await git(cwd, args, { reject: false, as })).exitCode === 0;
}

/** A git command's trimmed stdout, or undefined when it fails. */
export async function gitOutput(cwd: string, args: readonly string[], as?: AgentUser): Promise<string | undefined> {
  const result = await git(cwd, args, { reject: false, as });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** The top folder of the repository (or worktree) that holds `dir`, if any. */
export const gitTopLevel = (dir: string, as?: AgentUser): Promise<string | undefined> => gitOutput(dir, ['rev-parse', '--show-toplevel'], as);
