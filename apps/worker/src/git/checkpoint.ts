import path from 'node:path';
import { rm } from 'node:fs/promises';
import { git, gitSucceeds } from './git.js';

/**
 * Records the worktree as a commit whose parent is the member branch's HEAD, without touching the
 * agent's index, HEAD or files (it builds the tree in a private index). The commit is kept under
 * refs/reins/checkpoints/<run>/<member>; a resumed attempt moves the member's branch onto it.
 * Returns HEAD itself when nothing changed.
 */
export async function checkpointCommit(workspace: string, scratchDir: string, ref: string, message: string): Promise<string> {
  const index = path.join(scratchDir, 'checkpoint.index');
  const env = { env: { GIT_INDEX_FILE: index } };
  try {
    const head = (await git(workspace, ['rev-parse', 'HEAD'])).stdout.trim();
    await git(workspace, ['read-tree', 'HEAD'], env);
    // reins copies skills into .claude/skills: they are not the agent's work.
    await git(workspace, ['add', '-A', '--', '.', ':(exclude).claude/skills'], env);
    const tree = (await git(workspace, ['write-tree'], env)).stdout.trim();
    const headTree = (await git(workspace, ['rev-parse', 'HEAD^{tree}'])).stdout.trim();
    const commit = tree === headTree ? head : (await git(workspace, ['commit-tree', tree, '-p', head, '-m', message])).stdout.trim();
    await git(workspace, ['update-ref', ref, commit]);
    return commit;
  } finally {
    await rm(index, { force: true });
  }
}

/**
 * Puts the member's worktree back at a checkpoint commit: the branch moves onto it, files are reset,
 * and untracked files the checkpoint does not know are removed (ignored files and skills stay).
 * Returns false when the commit is not in this repository (it was taken on another host).
 */
export async function restoreCommit(workspace: string, commit: string): Promise<boolean> {
  if (!(await gitSucceeds(workspace, ['cat-file', '-e', `${commit}^{commit}`]))) return false;
  await git(workspace, ['reset', '-q', '--hard', commit]);
  await git(workspace, ['clean', '-fdq', '-e', '.claude/skills']);
  return true;
}

export const checkpointRef = (runId: string, member: string): string => `refs/reins/checkpoints/${runId}/${member}`;
