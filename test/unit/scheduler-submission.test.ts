import { describe, expect, it } from 'vitest';
import { RunSubmitDataSchema } from '../../libs/shared/src/jobs/catalogue.js';
import { refusalOf, runFromSubmission } from '../../apps/scheduler/src/submission.js';

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

describe('refusalOf', () => {
  it('keeps the claimed run id, name and source, and the issues a line each', () => {
    const refusal = refusalOf(
      { runId: 'r-abcdef12', source: '/h.yaml', spec: { name: 'sneaky' } },
      [
        { path: 'spec.team[0].prompt', message: 'bad' },
        { path: 'skill x', message: 'worse' },
      ],
      42,
    );
    expect(refusal).toEqual({ runId: 'r-abcdef12', name: 'sneaky', source: '/h.yaml', createdAt: 42, refusal: 'spec.team[0].prompt: bad\nskill x: worse' });
  });

  it('takes nothing from the job that is not well-formed: a fresh run id, no name, control characters escaped, lines and count capped', () => {
    const issues = Array.from({ length: 30 }, (_, i) => ({ path: `p${i}`, message: i === 0 ? `\x1b]0;title\x07${'m'.repeat(1_000)}` : 'm' }));
    const refusal = refusalOf({ runId: '../../etc', source: 'x\x1b[2J', spec: { name: 'bad name\n' } }, issues, 42);
    expect(refusal.runId).toMatch(/^r-[a-z0-9]+$/);
    expect(refusal.name).toBe('(unnamed)');
    expect(refusal.source).toBe('x\\x1b[2J');
    const lines = refusal.refusal.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]!.startsWith('p0: \\x1b]0;title\\x07mmm')).toBe(true);
    expect(lines[0]!.length).toBeLessThanOrEqual(305);
    expect(lines[20]).toBe('… and 10 more');
    expect(refusalOf('not an object', [{ path: '(root)', message: 'expected object' }], 7)).toMatchObject({ name: '(unnamed)', source: '(not given)', createdAt: 7 });
  });
});
