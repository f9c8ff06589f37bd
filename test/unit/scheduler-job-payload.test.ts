import { describe, expect, it } from 'vitest';
import { AgentJobDataSchema } from '../../libs/shared/src/jobs/catalogue.js';
import type { RunRecord } from '@reins/shared';
import type { Harness } from '../../libs/shared/src/spec/harness.js';
import { buildAgentJob } from '../../apps/scheduler/src/job-payload.js';
import { KillMemory } from '../../apps/scheduler/src/watchdog.js';

function makeRun(spec: Partial<Harness>, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: 'r-abcdef12',
    name: 'pay',
    goal: 'ship it',
    status: 'running',
    source: '/tmp/h.yaml',
    spec: { name: 'pay', agent: { kind: 'claude' }, ...spec } as Harness,
    members: [],
    skills: { lint: 'lints' },
    createdAt: 1,
    cancelled: false,
    ...extra,
  };
}

describe('buildAgentJob', () => {
  const team = [
    { name: 'a', prompt: 'do a', skills: ['lint'] },
    { name: 'b', prompt: 'do b', depends_on: ['a'], agent: { kind: 'command' as const, argv: ['true'] }, verify: { commands: [['npm', 'test']] } },
  ];

  it("builds a member's job: its prompt, skills, the team, and the options BullMQ needs", () => {
    const run = makeRun({ team, priority: 3, retry: { attempts: 5 } } as Partial<Harness>, { workdir: '/repo', baseCommit: 'abc' });
    const job = buildAgentJob(run, { name: 'a', jobId: 'r-abcdef12.a' }, { defaultAttempts: 2 });
    expect(job.queue).toBe('agent');
    expect(job.opts).toEqual({ jobId: 'r-abcdef12.a', attempts: 5, backoff: { type: 'reins' }, priority: 3 });
    expect(job.data).toMatchObject({ mode: 'member', member: 'a', prompt: 'do a', workdir: '/repo', baseCommit: 'abc', skills: ['lint'], concurrency: { key: 'claude' } });
    expect(job.data.team).toEqual([
      { name: 'a', dependsOn: [] },
      { name: 'b', dependsOn: ['a'] },
    ]);
    expect(AgentJobDataSchema.safeParse(job.data).success).toBe(true);
  });

  it('gives a member its own agent and checks, and no shared concurrency key to a command agent', () => {
    const job = buildAgentJob(makeRun({ team } as Partial<Harness>), { name: 'b', jobId: 'r-abcdef12.b', queue: 'agent@gpu' }, { defaultAttempts: 2 });
    expect(job.queue).toBe('agent@gpu');
    expect(job.opts.attempts).toBe(2);
    expect(job.data.agent).toEqual({ kind: 'command', argv: ['true'] });
    expect(job.data.verify).toEqual({ commands: [['npm', 'test']] });
    expect(job.data.concurrency).toBeUndefined();
  });

  it("builds the planner's job from the goal and the skills it may hand out, with none of its own", () => {
    const run = makeRun({ plan: 'auto', goal: 'ship it', concurrency: { key: 'acct', max: 2 } } as Partial<Harness>);
    const job = buildAgentJob(run, { name: '_planner', jobId: 'r-abcdef12._planner' }, { defaultAttempts: 2 });
    expect(job.data).toMatchObject({ mode: 'plan', member: '_planner', skills: [], availableSkills: [{ name: 'lint', description: 'lints' }], concurrency: { key: 'acct', max: 2 }, team: [] });
    expect(job.data.prompt).toContain('ship it');
    expect(job.data.verify).toBeUndefined();
    expect(AgentJobDataSchema.safeParse(job.data).success).toBe(true);
  });

  it('refuses a member the spec does not have', () => {
    expect(() => buildAgentJob(makeRun({ team } as Partial<Harness>), { name: 'ghost', jobId: 'x' }, { defaultAttempts: 1 })).toThrow(/ghost is not in the spec/);
  });
});

describe('KillMemory: a kill per job per heartbeat TTL', () => {
  it('claims a job once within a TTL, and again after it', () => {
    const memory = new KillMemory(1_000);
    expect(memory.claim('j1', 0)).toBe(true);
    expect(memory.claim('j1', 999)).toBe(false);
    expect(memory.claim('j2', 999)).toBe(true);
    expect(memory.claim('j1', 1_000)).toBe(true);
  });
});
