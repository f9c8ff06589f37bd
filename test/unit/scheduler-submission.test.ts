import { describe, expect, it } from 'vitest';
import { RunSubmitDataSchema } from '../../libs/shared/src/jobs/catalogue.js';
import { runFromSubmission } from '../../apps/scheduler/src/submission.js';

const submission = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  RunSubmitDataSchema.parse({ runId: 'r-abcdef12', source: '/h.yaml', spec: { name: 'sub', agent: { kind: 'command', argv: ['true'] }, ...spec }, skills: {}, submittedAt: 42, ...extra });

describe('runFromSubmission', () => {
  it('makes a run of the team, members in harness order with their dependencies and stable job ids', () => {
    const { run, members } = runFromSubmission(
      submission(
        {
          goal: 'g',
          team: [
            { name: 'b', prompt: 'x', depends_on: ['a'] },
            { name: 'a', prompt: 'y' },
          ],
        },
        { workdir: '/repo', baseCommit: 'abc' },
      ),
    );
    expect(run).toMatchObject({ runId: 'r-abcdef12', name: 'sub', goal: 'g', source: '/h.yaml', members: ['b', 'a'], workdir: '/repo', baseCommit: 'abc', createdAt: 42 });
    expect(run.planOnly).toBeUndefined();
    expect(members).toEqual([
      { name: 'b', dependsOn: ['a'], jobId: 'r-abcdef12.b' },
      { name: 'a', dependsOn: [], jobId: 'r-abcdef12.a' },
    ]);
  });

  it('starts a planned run with the planner alone, and names it after its goal-less harness when there is no goal', () => {
    const planned = runFromSubmission(submission({ plan: 'auto', goal: 'ship' }, { planOnly: true }));
    expect(planned.members).toEqual([{ name: '_planner', dependsOn: [], jobId: 'r-abcdef12._planner' }]);
    expect(planned.run).toMatchObject({ members: ['_planner'], planOnly: true, goal: 'ship' });
    expect(runFromSubmission(submission({ team: [{ name: 'a', prompt: 'y' }] })).run.goal).toBe('sub');
  });
});
