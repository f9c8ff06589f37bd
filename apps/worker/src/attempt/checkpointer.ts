import type { Cursor, RunStore } from '@reins/shared';
import { checkpointCommit, checkpointRef } from '../git/checkpoint.js';
import type { AgentUser } from '../agent-user.js';
import { importRef, pushRef } from '../git/push.js';
import { findTranscript, packTranscript } from '../claude/transcript.js';
import type { Workspace } from '../workspace.js';

export interface CheckpointTarget {
  runId: string;
  member: string;
  attempt: number;
  epoch: number;
  home: string;
  attemptDir: string;
  workspace: Workspace;
  /** The claude session, when the agent is claude. */
  sessionId?: string | undefined;
  /** Who runs git in the workspace (agent-user.ts), and the run's base (what the mirror surely has). */
  as?: AgentUser | undefined;
  base?: string | undefined;
}

/**
 * Takes a member's checkpoints: the session transcript (compressed, capped) and, in a git workspace, a
 * commit of the worktree. A checkpoint is written only when something moved since the last one, and only
 * while this attempt's epoch is current.
 */
export class Checkpointer {
  private lastTranscriptBytes = -1;
  private lastCommit: string | undefined;
  lastAt = 0;
  /** Why the last checkpoint commit could not be pushed, for the caller to log. */
  pushFailure: string | undefined;

  constructor(
    private readonly store: RunStore,
    private readonly target: CheckpointTarget,
    private readonly transcriptMaxBytes: number,
  ) {}

  /** Returns true when a checkpoint was written. */
  async take(numTurns: number, now = Date.now()): Promise<boolean> {
    const t = this.target;
    this.lastAt = now;
    const cursor: Partial<Omit<Cursor, 'epoch'>> = { attempt: t.attempt, at: now, numTurns };
    let moved = false;
    if (t.sessionId) {
      cursor.sessionId = t.sessionId;
      const transcript = await findTranscript(t.home, t.sessionId);
      if (transcript && transcript.bytes !== this.lastTranscriptBytes) {
        Object.assign(cursor, await packTranscript(transcript.file, this.transcriptMaxBytes));
        this.lastTranscriptBytes = transcript.bytes;
        moved = true;
      }
    }
    if (t.workspace.kind === 'git-worktree') {
      const commit = await checkpointCommit(t.workspace.path, checkpointRef(t.runId, t.member), `reins checkpoint: ${t.runId}/${t.member}, attempt ${t.attempt}`, t.as);
      // With a repo, the commit travels through the remote, pushed before the cursor names it, so a host
      // that resumes the member can fetch it. One not pushed is left for the next checkpoint.
      if (commit !== this.lastCommit && (await this.travelled(commit))) {
        cursor.commit = commit;
        this.lastCommit = commit;
        moved = true;
      }
    }
    if (!moved) return false;
    await this.store.writeCursor(t.runId, t.member, t.epoch, cursor);
    return true;
  }

  private async travelled(commit: string): Promise<boolean> {
    const { mirror, path: workspace } = this.target.workspace;
    if (!mirror) return true;
    const ref = checkpointRef(this.target.runId, this.target.member);
    const pushed = await importRef(mirror, workspace, this.target.as, ref, commit, this.target.base)
      .then(() => pushRef(mirror, commit, ref))
      .catch((error: unknown) => ({ ok: false as const, refused: (error as Error).message }));
    if (!pushed.ok) this.pushFailure = pushed.refused;
    return pushed.ok;
  }
}
