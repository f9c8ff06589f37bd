import { formatBytes, measureFolder, packFolder, type AgentJobData } from '@reins/shared';
import { commitLeftovers, importRef, pushRef } from '../git/push.js';
import { REINS_OWN_PATHS, type Workspace } from '../workspace.js';
import type { Verdict } from './conclude.js';
import type { AttemptDeps } from './deps.js';

type PublishDeps = Pick<AttemptDeps, 'worker' | 'config' | 'files' | 'store' | 'now' | 'agentUser'>;

/**
 * The last step of a member's work, once its checks passed and before `succeeded` is recorded: hand the
 * work on where its dependants and the merge-back, on any host, can reach it.
 * - With a repo: what the agent left uncommitted is committed and the branch pushed to the remote. A
 *   refused push fails the member (push_rejected); the commit stays in this host's mirror.
 * - A scratch member (no repository, no workdir) packs its workspace into the run's files in Redis,
 *   leaving out what reins put there (skills, inputs); dependants unpack it to `inputs/<member>/`.
 * - A workdir member's work is already where it is shared.
 */
export async function publishWork(deps: PublishDeps, data: AgentJobData, workspace: Pick<Workspace, 'kind' | 'path' | 'branch' | 'mirror'>): Promise<Verdict> {
  if (data.mode !== 'member') return { kind: 'done' };
  if (workspace.mirror && workspace.branch) return pushBranch(deps, data, workspace.path, workspace.mirror, workspace.branch);
  if (workspace.kind === 'scratch') return packWorkspace(deps, data, workspace.path);
  return { kind: 'done' };
}

async function pushBranch(deps: PublishDeps, data: AgentJobData, dir: string, mirror: NonNullable<Workspace['mirror']>, branch: string): Promise<Verdict> {
  const commit = await commitLeftovers(dir, data.member, deps.agentUser);
  // The mirror takes the branch from the member's clone (the agent's user made the bundle), then pushes it.
  await importRef(mirror, dir, deps.agentUser, `refs/heads/${branch}`, commit, data.baseCommit);
  const pushed = await pushRef(mirror, commit, `refs/heads/${branch}`);
  if (!pushed.ok) {
    const where = `the commit ${commit} is kept on ${deps.worker.host} in ${mirror.dir} (branch ${branch})`;
    return { kind: 'fail', failureClass: 'push_rejected', message: `the remote refused ${branch}: ${pushed.refused}; ${where}` };
  }
  await deps.store.appendEvents(data.runId, data.member, [{ at: deps.now(), kind: 'publish', text: `pushed ${branch} at ${commit.slice(0, 12)}` }]);
  return { kind: 'done', commit };
}

async function packWorkspace(deps: PublishDeps, data: AgentJobData, dir: string): Promise<Verdict> {
  const cap = deps.config.artifactMaxBytes;
  // Measured before packing: a workspace over the cap costs no archive.
  const measure = await measureFolder(dir, { exclude: REINS_OWN_PATHS });
  if (measure.bytes > cap) {
    return {
      kind: 'fail',
      failureClass: 'artifact_too_large',
      message: `the workspace holds ${formatBytes(measure.bytes)} (${measure.bytes} bytes) in ${measure.files} files, over the cap of ${formatBytes(cap)} (${cap} bytes, REINS_ARTIFACT_MAX_BYTES) a member without a repository may hand on through Redis; give this work a repository (repo: in the harness)`,
    };
  }
  await deps.files.putArtifact(data.runId, data.member, await packFolder(dir, { exclude: REINS_OWN_PATHS }));
  const leftOut = measure.outsideLinks.length > 0 ? `; left out ${measure.outsideLinks.length} links pointing outside the workspace: ${measure.outsideLinks.slice(0, 5).join(', ')}` : '';
  await deps.store.appendEvents(data.runId, data.member, [{ at: deps.now(), kind: 'publish', text: `published the workspace for dependants: ${formatBytes(measure.bytes)} in ${measure.files} files${leftOut}` }]);
  return { kind: 'done' };
}
