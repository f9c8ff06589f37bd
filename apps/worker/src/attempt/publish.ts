import { formatBytes, measureFolder, packFolder, type AgentJobData } from '@reins/shared';
import { REINS_OWN_PATHS, type Workspace } from '../workspace.js';
import type { Verdict } from './conclude.js';
import type { AttemptDeps } from './deps.js';

/**
 * The last step of a member's work, once its checks passed and before `succeeded` is recorded: hand the
 * work on where its dependants, on any host, can reach it. A scratch member (no repository, no workdir)
 * packs its workspace into the run's files in Redis, leaving out what reins put there (skills, inputs);
 * dependants unpack it to `inputs/<member>/`. A workdir member's work is already where it is shared, and a
 * git worktree's is merged back by the run. A failed verdict fails the member (conclude.ts).
 */
export async function publishWork(deps: Pick<AttemptDeps, 'config' | 'files' | 'store' | 'now'>, data: AgentJobData, workspace: Workspace): Promise<Verdict> {
  if (data.mode !== 'member' || workspace.kind !== 'scratch') return { kind: 'done' };
  const cap = deps.config.artifactMaxBytes;
  // Measured before packing: a workspace over the cap costs no archive.
  const measure = await measureFolder(workspace.path, { exclude: REINS_OWN_PATHS });
  if (measure.bytes > cap) {
    return {
      kind: 'fail',
      failureClass: 'artifact_too_large',
      message: `the workspace holds ${formatBytes(measure.bytes)} (${measure.bytes} bytes) in ${measure.files} files, over the cap of ${formatBytes(cap)} (${cap} bytes, REINS_ARTIFACT_MAX_BYTES) a member without a repository may hand on through Redis; give this work a repository (repo: in the harness)`,
    };
  }
  await deps.files.putArtifact(data.runId, data.member, await packFolder(workspace.path, { exclude: REINS_OWN_PATHS }));
  const leftOut = measure.outsideLinks.length > 0 ? `; left out ${measure.outsideLinks.length} links pointing outside the workspace: ${measure.outsideLinks.slice(0, 5).join(', ')}` : '';
  await deps.store.appendEvents(data.runId, data.member, [{ at: deps.now(), kind: 'publish', text: `published the workspace for dependants: ${formatBytes(measure.bytes)} in ${measure.files} files${leftOut}` }]);
  return { kind: 'done' };
}
