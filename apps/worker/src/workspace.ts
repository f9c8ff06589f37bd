import { cp, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export interface Workspace {
  path: string;
  kind: 'git-worktree' | 'workdir' | 'scratch';
  /** For git worktrees: the member's own branch. */
  branch?: string;
}

export interface WorkspaceRequest {
  dataDir: string;
  runId: string;
  member: string;
  /** The harness workdir, absolute; undefined for a scratch directory. */
  workdir: string | undefined;
  /** Work in the workdir itself, even when it is a repository (the planner only reads it). */
  shared?: boolean;
  /** The run's base commit: every member's branch starts there. */
  baseCommit?: string | undefined;
}

export const memberBranch = (runId: string, member: string): string => `reins/${runId}/${member}`;

const git = (cwd: string, args: readonly string[]) => execa('git', ['-C', cwd, ...args], { stdin: 'ignore' });

/** `git worktree add` takes locks in the shared .git folder; two at once on one repo can collide. */
const repoQueues = new Map<string, Promise<unknown>>();
function serialised<T>(repo: string, work: () => Promise<T>): Promise<T> {
  const previous = repoQueues.get(repo) ?? Promise.resolve();
  const next = previous.then(work, work);
  repoQueues.set(repo, next.catch(() => undefined));
  return next;
}

async function gitTopLevel(dir: string): Promise<string | undefined> {
  const result = await execa('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { reject: false, stdin: 'ignore' });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/**
 * Each member gets its own place to work: a git worktree on `reins/<run>/<member>` when the workdir is a
 * repository, the workdir itself when it is a plain folder, and a fresh folder under the data dir otherwise.
 * A later attempt finds and reuses what an earlier one made.
 */
export async function prepareWorkspace(request: WorkspaceRequest): Promise<Workspace> {
  const { dataDir, runId, member, workdir, shared = false, baseCommit } = request;
  if (workdir === undefined) {
    const dir = path.join(dataDir, 'workspaces', runId, member);
    await mkdir(dir, { recursive: true });
    return { path: dir, kind: 'scratch' };
  }
  const repo = shared ? undefined : await gitTopLevel(workdir);
  if (repo === undefined) return { path: workdir, kind: 'workdir' };

  const branch = memberBranch(runId, member);
  const dir = path.join(dataDir, 'worktrees', runId, member);
  return serialised(repo, async () => {
    if ((await gitTopLevel(dir)) === dir) return { path: dir, kind: 'git-worktree' as const, branch };
    const head = await execa('git', ['-C', repo, 'rev-parse', '--verify', '--quiet', 'HEAD'], { reject: false, stdin: 'ignore' });
    if (head.exitCode !== 0) throw new Error(`workdir ${workdir} is a git repository without commits; commit once so members can branch from it`);
    await git(repo, ['worktree', 'prune']);
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    const branchExists = (await execa('git', ['-C', repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { reject: false, stdin: 'ignore' })).exitCode === 0;
    await git(repo, branchExists ? ['worktree', 'add', dir, branch] : ['worktree', 'add', '-b', branch, dir, baseCommit ?? 'HEAD']);
    return { path: dir, kind: 'git-worktree' as const, branch };
  });
}

/** Copies each skill folder to <workspace>/.claude/skills/<name>, where Claude Code discovers it. */
export async function injectSkills(workspace: string, skills: readonly { name: string; dir: string }[]): Promise<void> {
  for (const skill of skills) {
    const info = await stat(path.join(skill.dir, 'SKILL.md')).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`skill ${skill.name}: ${skill.dir}/SKILL.md is missing on this worker`);
    const target = path.join(workspace, '.claude', 'skills', skill.name);
    await rm(target, { recursive: true, force: true });
    await cp(skill.dir, target, { recursive: true });
  }
}

/** `git diff --shortstat` of a member's work since the run's base: "3 files changed, 40 insertions(+)". */
export async function diffStat(workspace: string, baseCommit: string): Promise<string> {
  const result = await execa('git', ['-C', workspace, 'diff', '--shortstat', baseCommit, 'HEAD'], { reject: false, stdin: 'ignore' });
  return result.exitCode === 0 ? result.stdout.trim() || 'no changes' : 'unknown';
}

/** The environment verify commands run with: the agent's, less its API settings. */
export function checkEnv(identity: { workspace: string; runId: string; member: string }): Record<string, string> {
  const env: Record<string, string> = { REINS_RUN_ID: identity.runId, REINS_MEMBER: identity.member, REINS_WORKSPACE: identity.workspace };
  for (const name of ['PATH', 'LANG', 'LC_ALL', 'HOME', 'TZ'] as const) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
