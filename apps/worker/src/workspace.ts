import { cp, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { gitTopLevel } from './git/git.js';
import { memberBranch, memberWorktree } from './git/worktree.js';

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
  await memberWorktree(repo, dir, branch, baseCommit, workdir);
  return { path: dir, kind: 'git-worktree', branch };
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
