import { describe, it, expect } from 'vitest';
import { UnrecoverableError, type Job } from 'bullmq';
import { JOB_CATALOGUE, QUEUES, agentJobId, parseAgentJobId, parseJob, type AgentJobInput } from '../../libs/shared/src/jobs/catalogue.js';

const fakeJob = (name: string, data: unknown) => ({ name, data }) as unknown as Job;

const AGENT_DATA: AgentJobInput = {
  runId: 'r-mhx1k2f3a9c2',
  runName: 'hello',
  goal: 'say hi',
  member: 'writer',
  prompt: 'Write hello.txt',
  agent: { kind: 'claude', model: 'sonnet' },
  workdir: '/abs/work',
  skills: ['review'],
  team: [
    { name: 'writer', dependsOn: [] },
    { name: 'reviewer', dependsOn: ['writer'] },
  ],
  limits: { timeoutMs: 60_000 },
};

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('agentJobId / parseAgentJobId', () => {
  it('joins run and member with a dot', () => {
    expect(agentJobId('r-mhx1k2f3a9c2', 'writer')).toBe('r-mhx1k2f3a9c2.writer');
  });

  it('round-trips', () => {
    for (const [runId, member] of [
      ['r-mhx1k2f3a9c2', 'writer'],
      ['r-abcdef', 'a'],
      ['r-0123456789', 'Member_2-x'],
    ] as const) {
      expect(parseAgentJobId(agentJobId(runId, member))).toEqual({ runId, member });
    }
  });

  it('returns undefined for an id that is not an agent job id', () => {
    expect(parseAgentJobId('nodot')).toBeUndefined();
    expect(parseAgentJobId('.writer')).toBeUndefined();
    expect(parseAgentJobId('')).toBeUndefined();
  });
});

describe('JOB_CATALOGUE', () => {
  it('puts agent.run on the agent queue and run.submit on the control queue', () => {
    expect(QUEUES).toEqual({ agent: 'agent', integrate: 'integrate', control: 'control', notify: 'notify' });
    expect(JOB_CATALOGUE['run.integrate'].queue).toBe('integrate');
    expect(JOB_CATALOGUE['notify.deliver'].queue).toBe('notify');
    expect(JOB_CATALOGUE['agent.run'].queue).toBe('agent');
    expect(JOB_CATALOGUE['run.submit'].queue).toBe('control');
  });
});

describe('parseJob', () => {
  it('returns the payload of a valid agent.run job', () => {
    // mode defaults to a team member's job.
    expect(parseJob('agent.run', fakeJob('agent.run', AGENT_DATA))).toEqual({ ...AGENT_DATA, mode: 'member' });
  });

  it('throws UnrecoverableError for a payload that does not fit, naming the field and value', () => {
    const error = thrown(() => parseJob('agent.run', fakeJob('agent.run', { ...AGENT_DATA, runId: 'bad id' })));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe('invalid agent.run payload: runId: expected a run id like r-mhx1k2f3a9c2, got "bad id"');
  });

  it('throws UnrecoverableError for an unknown field', () => {
    const error = thrown(() => parseJob('agent.run', fakeJob('agent.run', { ...AGENT_DATA, extra: 1 })));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toMatch(/^invalid agent\.run payload: .*extra/);
  });

  it('throws UnrecoverableError for a missing payload', () => {
    const error = thrown(() => parseJob('agent.run', fakeJob('agent.run', undefined)));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message.startsWith('invalid agent.run payload: ')).toBe(true);
  });

  it('throws UnrecoverableError for a job of another name', () => {
    const error = thrown(() => parseJob('agent.run', fakeJob('run.submit', AGENT_DATA)));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toMatch(/^expected an? agent\.run job, got run\.submit$/);
  });

  it('checks run.submit payloads with the harness schema', () => {
    const good = {
      runId: 'r-abcdef12',
      source: 'h.yaml',
      spec: { name: 'h', agent: { kind: 'claude' }, team: [{ name: 'a', prompt: 'p' }] },
      skills: {},
      submittedAt: 1,
    };
    expect(parseJob('run.submit', fakeJob('run.submit', good))).toEqual(good);
    const cyclic = { ...good, spec: { ...good.spec, team: [{ name: 'a', prompt: 'p', depends_on: ['a'] }] } };
    const error = thrown(() => parseJob('run.submit', fakeJob('run.submit', cyclic)));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toContain('spec.team[0].depends_on[0]: "a" depends on itself');
  });
});
