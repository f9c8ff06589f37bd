import type { AgentJobData } from '@reins/shared';
import { commitLeftovers, pushRef } from '../git/push.js';
import type { Workspace } from '../workspace.js';
import type { Verdict } from './conclude.js';
import type { AttemptDeps } from './deps.js';

/**
 * After a member's checks pass, its work is put where any host can find it, before its success is
 * recorded: with a repo, what the agent left uncommitted is committed and the branch pushed to the remote.
 * A refused push fails the member (class push_rejected); the commit stays in this host's mirror.
 */
export async function publishWork(deps: Pick<AttemptDeps, 'worker'>, data: AgentJobData, workspace: Pick<Workspace, 'path' | 'branch' | 'mirror'>): Promise<Verdict> {
  if (data.mode !== 'member') return { kind: 'done' };
  const { mirror, branch } = workspace;
  if (mirror && branch) {
    const commit = await commitLeftovers(workspace.path, data.member);
    const pushed = await pushRef(mirror, workspace.path, commit, `refs/heads/${branch}`);
    if (!pushed.ok) {
      const where = `the commit ${commit} is kept on ${deps.worker.host} in ${mirror.dir} (branch ${branch})`;
      return { kind: 'fail', failureClass: 'push_rejected', message: `the remote refused ${branch}: ${pushed.refused}; ${where}` };
    }
    return { kind: 'done', commit };
  }
  return { kind: 'done' };
}
