import type { AttemptRecord, Cursor } from '@reins/shared';

export interface ContinuationInput {
  prompt: string;
  attempt: number;
  previous: AttemptRecord | undefined;
  cursor: Cursor | undefined;
  /** The workspace was put back at the cursor's commit (false: the commit is not on this host). */
  restoredCommit: boolean | undefined;
  /** The session is resumed (--resume), so the model already has the conversation. */
  resumed: boolean;
}

function describeCursor(cursor: Cursor, restoredCommit: boolean | undefined): string[] {
  const lines = [`Last checkpoint: ${new Date(cursor.at).toISOString()} (attempt ${cursor.attempt}${cursor.numTurns ? `, after ${cursor.numTurns} turns` : ''}).`];
  if (cursor.commit) {
    lines.push(
      restoredCommit === true
        ? `The workspace is at the checkpoint's commit ${cursor.commit.slice(0, 12)}.`
        : `The checkpoint's commit ${cursor.commit.slice(0, 12)} could not be restored here; check the workspace for what is already done.`,
    );
  }
  if (cursor.data !== undefined) lines.push(`Checkpoint data you saved: ${JSON.stringify(cursor.data)}`);
  return lines;
}

/**
 * The prompt of a later attempt. A resumed session already holds the conversation, so it is told only
 * what happened and where to pick up; a fresh one is also given the original task.
 */
export function continuationPrompt(input: ContinuationInput): string {
  const why = input.previous ? `Attempt ${input.previous.attempt} stopped (${input.previous.outcome}: ${input.previous.message}).` : 'The previous attempt stopped.';
  const lines = [`[reins] This is attempt ${input.attempt}. ${why}`];
  if (input.cursor) lines.push(...describeCursor(input.cursor, input.restoredCommit));
  if (input.resumed) {
    lines.push('Continue the task from where the conversation left off. Do not redo steps that are already done; check the workspace if unsure.');
    return lines.join('\n');
  }
  lines.push('Check the workspace for work already done, then finish the task.', '', 'The task:', input.prompt);
  return lines.join('\n');
}
