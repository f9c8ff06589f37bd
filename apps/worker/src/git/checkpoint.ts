import path from 'node:path';
import type { AgentUser } from '../agent-user.js';
import { git, gitOutput, gitSucceeds } from './git.js';
import { commitId } from './push.js';

/**
 * Records the worktree as a commit whose parent is the member branch's HEAD, without touching the
 * agent's index, HEAD or files (it builds the tree in a private index). The commit is kept under
 * refs/reins/checkpoints/<run>/<member>; a resumed attempt moves the member's branch onto it.
 * Returns HEAD itself when nothing changed.
 */
export async function checkpointCommit(workspace: string, ref: string, message: string, as?: AgentUser): Promise<string> {
  // The private index lives in the repository's own git folder, which the agent's user owns.
  const gitDir = await gitOutput(workspace, ['rev-parse', '--path-format=absolute', '--git-dir'], as);
  if (gitDir === undefined) throw new Error(`${workspace} is not a git repository any more`);
  const index = path.join(gitDir, 'reins-checkpoint.index');
  const options = { as, env: { GIT_INDEX_FILE: index } };
  const head = commitId((await git(workspace, ['rev-parse', 'HEAD'], { as })).stdout);
  await git(workspace, ['read-tree', 'HEAD'], options);
  // reins copies skills into .claude/skills: they are not the agent's work.
  await git(workspace, ['add', '-A', '--', '.', ':(exclude).claude/skills'], options);
  const tree = (await git(workspace, ['write-tree'], options)).stdout.trim();
  const headTree = (await git(workspace, ['rev-parse', 'HEAD^{tree}'], { as })).stdout.trim();
  const commit = tree === headTree ? head : commitId((await git(workspace, ['commit-tree', tree, '-p', head, '-m', message], { as })).stdout);
  await git(workspace, ['update-ref', ref, commit], { as });
  return commit;
}

/**
 * Puts the member's worktree back at a checkpoint commit: the branch moves onto it, files are reset,
 * and untracked files the checkpoint does not know are removed (ignored files and skills stay).
 * Returns false when the commit is not in this repository (it was taken on another host).
 */
export async function restoreCommit(workspace: string, commit: string, as?: AgentUser): Promise<boolean> {
  if (!(await gitSucceeds(workspace, ['cat-file', '-e', `${commit}^{commit}`], as))) return false;
  await git(workspace, ['reset', '-q', '--hard', commit], { as });
  await git(workspace, ['clean', '-fdq', '-e', '.claude/skills'], { as });
  return true;
}

export const checkpointRef = (runId: string, member: string): string => `refs/reins/checkpoints/${runId}/${member}`;
