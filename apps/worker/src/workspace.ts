import { lstat, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { unpackFolder, type RunFiles } from '@reins/shared';
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

/** What reins puts in a workspace, relative to it: never part of the member's own work. */
export const REINS_OWN_PATHS = ['.claude/skills', 'inputs'] as const;

/**
 * `<workspace>/<parts…>`, with every folder on the way a real folder: a link or file an agent left where
 * reins unpacks (an `inputs` link to elsewhere, say) is removed, so nothing is written through it.
 */
async function placeIn(workspace: string, parts: readonly string[]): Promise<string> {
  let dir = workspace;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    const info = await lstat(dir).catch(() => undefined);
    if (info && !info.isDirectory()) await rm(dir, { force: true });
    if (!info?.isDirectory()) await mkdir(dir);
  }
  return path.join(dir, parts.at(-1)!);
}

/** Unpacks each skill the run stored in Redis to <workspace>/.claude/skills/<name>, where Claude Code discovers it. */
export async function injectSkills(files: RunFiles, runId: string, workspace: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const archive = await files.skill(runId, name);
    if (!archive) throw new Error(`skill ${name} is not stored with run ${runId}: it is packed by \`reins submit\`, and this run has no copy of it`);
    await unpackFolder(archive, await placeIn(workspace, ['.claude', 'skills', name]));
  }
}

/**
 * Unpacks the work each dependency published (publish.ts) to <workspace>/inputs/<member>, from Redis, so a
 * dependant finds it on any host. Returns the members that had published work (a repository member has none).
 */
export async function fetchInputs(files: RunFiles, runId: string, workspace: string, dependencies: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const member of dependencies) {
    const archive = await files.artifact(runId, member);
    if (!archive) continue;
    await unpackFolder(archive, await placeIn(workspace, ['inputs', member]));
    found.push(member);
  }
  return found;
}
