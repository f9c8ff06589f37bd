import { cp, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { gitTopLevel } from './git/git.js';
import { openMirror, type Mirror } from './git/mirror.js';
import { repoWorktree } from './git/repo-worktree.js';
import { memberBranch, memberWorktree } from './git/worktree.js';

export interface Workspace {
  path: string;
  kind: 'git-worktree' | 'workdir' | 'scratch';
  /** For git worktrees: the member's own branch. */
  branch?: string;
  /** For a harness `repo`: this host's mirror of it, which the worktree is made from and pushes through. */
  mirror?: Mirror;
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
  /** The harness repo (instead of a workdir): the worktree comes from this host's mirror of it. */
  repo?: { url: string } | undefined;
  /** With a repo: the member's dependencies, in dependency order, whose branches it starts from. */
  dependsOn?: readonly string[];
}

/**
 * Each member gets its own place to work: a git worktree on `reins/<run>/<member>` when the harness names
 * a repo (from this host's mirror of it) or its workdir is a repository, the workdir itself when it is a
 * plain folder, and a fresh folder under the data dir otherwise. A later attempt on the same host finds
 * and reuses what an earlier one made.
 */
export async function prepareWorkspace(request: WorkspaceRequest): Promise<Workspace> {
  const { dataDir, runId, member, workdir, shared = false, baseCommit, repo } = request;
  if (repo !== undefined && baseCommit !== undefined) {
    const mirror = await openMirror(dataDir, repo.url);
    // The planner only reads the repository: its worktree is at the base, and nothing of it is pushed.
    const dir = path.join(dataDir, 'worktrees', runId, member);
    const { branch } = await repoWorktree({ mirror, dir, runId, member, baseCommit, dependsOn: shared ? [] : (request.dependsOn ?? []) });
    return { path: dir, kind: 'git-worktree', branch, mirror };
  }
  if (workdir === undefined) {
    const dir = path.join(dataDir, 'workspaces', runId, member);
    await mkdir(dir, { recursive: true });
    return { path: dir, kind: 'scratch' };
  }
  const top = shared ? undefined : await gitTopLevel(workdir);
  if (top === undefined) return { path: workdir, kind: 'workdir' };

  const branch = memberBranch(runId, member);
  const dir = path.join(dataDir, 'worktrees', runId, member);
  await memberWorktree(top, dir, branch, baseCommit, workdir);
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
