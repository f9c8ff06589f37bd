import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { unpackFolder, type RunFiles } from '@reins/shared';
import { handOver, handOverAgain, placeIn, type AgentUser } from './agent-user.js';
import { gitTopLevel } from './git/git.js';
import { openMirror, type Mirror } from './git/mirror.js';
import { repoClone } from './git/repo-clone.js';
import { memberBranch, memberWorktree } from './git/worktree.js';
import { ClassifiedFailure } from './attempt/retry-error.js';

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
  /** Who the agent runs as, when not the worker's own user: it owns the workspace (agent-user.ts). */
  as?: AgentUser | undefined;
}

/**
 * Each member gets its own place to work on `reins/<run>/<member>`: a clone of this host's mirror when the
 * harness names a repo, a git worktree when its workdir is a repository, the workdir itself when it is a
 * plain folder, and a fresh folder under the data dir otherwise. A later attempt on the same host finds
 * and reuses what an earlier one made. Agents that run as a user of their own work only in what reins
 * made for them: a harness workdir (the submitter's own folder) is refused for them.
 */
export async function prepareWorkspace(request: WorkspaceRequest): Promise<Workspace> {
  const { dataDir, runId, member, workdir, shared = false, baseCommit, repo, as } = request;
  if (repo !== undefined && baseCommit !== undefined) {
    const mirror = await openMirror(dataDir, repo.url);
    // The planner only reads the repository: its clone is at the base, and nothing of it is pushed.
    const dir = path.join(dataDir, 'worktrees', runId, member);
    const { branch } = await repoClone({ mirror, dataDir, dir, runId, member, baseCommit, dependsOn: shared ? [] : (request.dependsOn ?? []), as });
    return { path: dir, kind: 'git-worktree', branch, mirror };
  }
  if (workdir === undefined) {
    const dir = path.join(dataDir, 'workspaces', runId, member);
    const made = await mkdir(dir, { recursive: true });
    await (made === undefined ? handOverAgain : handOver)(as, dataDir, dir);
    return { path: dir, kind: 'scratch' };
  }
  if (as !== undefined) {
    throw new ClassifiedFailure(
      'permission_denied',
      `the harness names a workdir (${workdir}), and this worker starts agents as the user ${as.name} (REINS_AGENT_USER), who may not work in another user's folder; give the harness a repo (repo: {url}) instead, or run this worker with REINS_AGENT_USER set to the workdir's owner or to root`,
    );
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
