import { describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { JOB_CATALOGUE, parseJob, type AgentJobInput } from '../../libs/shared/src/jobs/catalogue.js';
import { HARNESS_AGENT_SCOPE, REDACTED, memberAgentScope, revealEnv, secretNames, separateSecrets } from '../../libs/shared/src/runs/run-secrets.js';
import type { Harness } from '../../libs/shared/src/spec/harness.js';

const SPEC: Harness = {
  name: 'secretive',
  agent: { kind: 'command', argv: ['true'], env: { TOKEN: 'harness-secret', EMPTY: '' } },
  team: [
    { name: 'plain', prompt: 'p' },
    { name: 'own', prompt: 'p', agent: { kind: 'claude', env: { API_KEY: 'member-secret' } } },
    { name: 'bare', prompt: 'p', agent: { kind: 'command', argv: ['true'] } },
  ],
};

describe('separateSecrets', () => {
  it('keeps every agent.env value apart by scope and leaves only names, [redacted], in the spec', () => {
    const { spec, secrets } = separateSecrets(SPEC);
    expect(secrets).toEqual({ [HARNESS_AGENT_SCOPE]: { TOKEN: 'harness-secret', EMPTY: '' }, [memberAgentScope('own')]: { API_KEY: 'member-secret' } });
    expect(spec.agent.env).toEqual({ TOKEN: REDACTED, EMPTY: REDACTED });
    expect(spec.team![1]!.agent!.env).toEqual({ API_KEY: REDACTED });
    expect(spec.team![2]!.agent).toEqual({ kind: 'command', argv: ['true'] });
    expect(JSON.stringify(spec)).not.toMatch(/harness-secret|member-secret/);
    // The caller's harness is left as it was; a second pass changes nothing.
    expect(SPEC.agent.env!.TOKEN).toBe('harness-secret');
    expect(separateSecrets(spec).spec).toEqual(spec);
    expect(secretNames(SPEC)).toEqual({ agent: ['TOKEN', 'EMPTY'], 'member:own': ['API_KEY'] });
  });
});

describe('revealEnv', () => {
  it('puts stored values back, keeps other values, and reports a redacted name with no value as missing', () => {
    expect(revealEnv({ TOKEN: REDACTED, PLAIN: 'given' }, { TOKEN: 'harness-secret' })).toEqual({ env: { TOKEN: 'harness-secret', PLAIN: 'given' }, missing: [] });
    expect(revealEnv({ TOKEN: REDACTED, OTHER: REDACTED }, undefined)).toEqual({ env: {}, missing: ['TOKEN', 'OTHER'] });
    expect(revealEnv({ EMPTY: REDACTED }, { EMPTY: '' })).toEqual({ env: { EMPTY: '' }, missing: [] });
    // A name inherited from Object.prototype is not a stored value.
    expect(revealEnv({ toString: REDACTED }, {})).toEqual({ env: {}, missing: ['toString'] });
    expect(revealEnv(undefined, { TOKEN: 'x' })).toEqual({ env: undefined, missing: [] });
  });
});

describe('job payloads carry no agent.env value', () => {
  const fakeJob = (name: string, data: unknown) => ({ name, data }) as unknown as Job;

  it('a run.submit spec and an agent.run agent are redacted by their schemas, when added and when taken', () => {
    const submit = JOB_CATALOGUE['run.submit'].schema.parse({ runId: 'r-secret0001', source: '/h.yaml', spec: SPEC, skills: {}, submittedAt: 1 });
    expect(JSON.stringify(submit)).not.toMatch(/harness-secret|member-secret/);
    expect(submit.spec.team![1]!.agent!.env).toEqual({ API_KEY: REDACTED });

    const agentJob: AgentJobInput = { runId: 'r-secret0001', runName: 'n', goal: 'g', member: 'own', prompt: 'p', agent: { kind: 'claude', env: { API_KEY: 'member-secret' } }, skills: [], team: [], limits: {} };
    expect(parseJob('agent.run', fakeJob('agent.run', agentJob)).agent.env).toEqual({ API_KEY: REDACTED });
  });
});
