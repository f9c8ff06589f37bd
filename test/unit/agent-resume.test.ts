import { describe, it, expect } from 'vitest';
import type { AttemptRecord, Cursor } from '@reins/shared';
import { continuationPrompt, type ContinuationInput } from '../../apps/worker/src/agent/resume.js';

const TASK = `Write hello.txt — then "test" it: $(not run) \`nor this\`\nsecond line 🌍`;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const AT = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

const PREVIOUS: AttemptRecord = {
  attempt: 2,
  epoch: 4,
  outcome: 'rate_limit',
  message: 'API Error: 429 rate_limit_error',
  startedAt: AT - 60_000,
  endedAt: AT + 1_000,
  workerId: 'box-1',
  host: 'box-1',
};

const CURSOR: Cursor = { attempt: 2, epoch: 4, at: AT, sessionId: 's-1', numTurns: 12, commit: COMMIT, data: { step: 3, note: 'half "done"' } };

function input(overrides: Partial<ContinuationInput> = {}): ContinuationInput {
  return { prompt: TASK, attempt: 3, previous: PREVIOUS, cursor: CURSOR, restoredCommit: true, resumed: false, ...overrides };
}

describe('continuationPrompt', () => {
  it('tells a resumed session what happened and where to pick up, without the task', () => {
    expect(continuationPrompt(input({ resumed: true }))).toBe(
      [
        '[reins] This is attempt 3. Attempt 2 stopped (rate_limit: API Error: 429 rate_limit_error).',
        'Last checkpoint: 2024-01-02T03:04:05.678Z (attempt 2, after 12 turns).',
        "The workspace is at the checkpoint's commit 0123456789ab.",
        'Checkpoint data you saved: {"step":3,"note":"half \\"done\\""}',
        'Continue the task from where the conversation left off. Do not redo steps that are already done; check the workspace if unsure.',
      ].join('\n'),
    );
  });

  it('gives a fresh session the same account and then the original task, byte for byte, last', () => {
    const text = continuationPrompt(input({ resumed: false }));
    expect(text).toBe(
      [
        '[reins] This is attempt 3. Attempt 2 stopped (rate_limit: API Error: 429 rate_limit_error).',
        'Last checkpoint: 2024-01-02T03:04:05.678Z (attempt 2, after 12 turns).',
        "The workspace is at the checkpoint's commit 0123456789ab.",
        'Checkpoint data you saved: {"step":3,"note":"half \\"done\\""}',
        'Check the workspace for work already done, then finish the task.',
        '',
        'The task:',
        TASK,
      ].join('\n'),
    );
    expect(text.endsWith(`\nThe task:\n${TASK}`)).toBe(true);
  });

  it('includes the original task only when the session is not resumed', () => {
    expect(continuationPrompt(input({ resumed: false }))).toContain(TASK);
    expect(continuationPrompt(input({ resumed: true }))).not.toContain(TASK);
    expect(continuationPrompt(input({ resumed: true }))).not.toContain('The task:');
    expect(continuationPrompt(input({ resumed: true, cursor: undefined }))).not.toContain('Write hello.txt');
  });

  it("names the previous attempt's number, outcome and message", () => {
    for (const outcome of ['crash', 'hang', 'shutdown', 'max_turns']) {
      const text = continuationPrompt(input({ previous: { ...PREVIOUS, attempt: 4, outcome, message: `why ${outcome}` }, attempt: 5 }));
      expect(text.split('\n')[0]).toBe(`[reins] This is attempt 5. Attempt 4 stopped (${outcome}: why ${outcome}).`);
    }
  });

  it('says only that the previous attempt stopped when there is no attempt record', () => {
    expect(continuationPrompt(input({ previous: undefined })).split('\n')[0]).toBe('[reins] This is attempt 3. The previous attempt stopped.');
  });

  it('works without a cursor: no checkpoint lines', () => {
    const fresh = continuationPrompt(input({ cursor: undefined, restoredCommit: undefined }));
    expect(fresh).toBe(
      ['[reins] This is attempt 3. Attempt 2 stopped (rate_limit: API Error: 429 rate_limit_error).', 'Check the workspace for work already done, then finish the task.', '', 'The task:', TASK].join('\n'),
    );
    expect(continuationPrompt(input({ cursor: undefined, restoredCommit: undefined, resumed: true }))).toBe(
      [
        '[reins] This is attempt 3. Attempt 2 stopped (rate_limit: API Error: 429 rate_limit_error).',
        'Continue the task from where the conversation left off. Do not redo steps that are already done; check the workspace if unsure.',
      ].join('\n'),
    );
  });

  it('says the commit is not here when it could not be restored', () => {
    const text = continuationPrompt(input({ restoredCommit: false }));
    expect(text).toContain("The checkpoint's commit 0123456789ab could not be restored here; check the workspace for what is already done.");
    expect(text).not.toContain("The workspace is at the checkpoint's commit");
  });

  it('says the workspace is at the commit when it was restored', () => {
    const text = continuationPrompt(input({ restoredCommit: true }));
    expect(text).toContain("The workspace is at the checkpoint's commit 0123456789ab.");
    expect(text).not.toContain('could not be restored');
    expect(text).not.toContain(COMMIT);
  });

  // restoredCommit is undefined when no restore was tried (attempt/prepare.ts only restores in a git
  // worktree): the agent must not be told its workspace is at the checkpoint's commit.
  it('does not claim the workspace is at the commit when no restore was attempted (restoredCommit undefined)', () => {
    const text = continuationPrompt(input({ restoredCommit: undefined }));
    expect(text).not.toContain("The workspace is at the checkpoint's commit");
  });

  it('mentions no commit when the cursor has none', () => {
    for (const restoredCommit of [true, false, undefined]) {
      const text = continuationPrompt(input({ cursor: { attempt: 1, epoch: 1, at: AT }, restoredCommit }));
      expect(text).not.toContain('commit');
    }
  });

  it('leaves out the turn count when there is none, and the data line when no data was saved', () => {
    const text = continuationPrompt(input({ cursor: { attempt: 1, epoch: 1, at: AT } }));
    expect(text.split('\n')[1]).toBe('Last checkpoint: 2024-01-02T03:04:05.678Z (attempt 1).');
    expect(text).not.toContain('Checkpoint data');
    expect(continuationPrompt(input({ cursor: { attempt: 1, epoch: 1, at: AT, numTurns: 0 } })).split('\n')[1]).toBe('Last checkpoint: 2024-01-02T03:04:05.678Z (attempt 1).');
  });

  it('shows saved data as JSON, including falsy values', () => {
    const line = (data: unknown) =>
      continuationPrompt(input({ cursor: { attempt: 1, epoch: 1, at: AT, data } }))
        .split('\n')
        .find((l) => l.startsWith('Checkpoint data'));
    expect(line('step 2 of 5')).toBe('Checkpoint data you saved: "step 2 of 5"');
    expect(line(0)).toBe('Checkpoint data you saved: 0');
    expect(line(false)).toBe('Checkpoint data you saved: false');
    expect(line(null)).toBe('Checkpoint data you saved: null');
    expect(line([1, { a: 'b\nc' }])).toBe('Checkpoint data you saved: [1,{"a":"b\\nc"}]');
  });

  it('starts with the [reins] marker in every case', () => {
    for (const resumed of [true, false]) {
      for (const cursor of [CURSOR, undefined]) {
        for (const previous of [PREVIOUS, undefined]) {
          expect(continuationPrompt(input({ resumed, cursor, previous })).startsWith('[reins] This is attempt 3. ')).toBe(true);
        }
      }
    }
  });
});
