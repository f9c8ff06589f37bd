import { describe, expect, it } from 'vitest';
import { RUN_HEAD_FIELDS, decodeRun, decodeRunHead, toRunHead } from '../../libs/shared/src/runs/records.js';

/** A run hash as RunStore.createRun, setRunStatus and recordIntegration write it. */
const hash: Record<string, string> = {
  runId: 'r-abcdef12',
  name: 'hello',
  goal: 'greet',
  status: 'succeeded',
  source: '/h.yaml',
  spec: JSON.stringify({ name: 'hello', agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt: 'hi' }] }),
  members: JSON.stringify(['a']),
  skills: JSON.stringify({ lint: 'Lints the code.' }),
  workdir: '/repo',
  baseCommit: 'abc',
  createdAt: '100',
  startedAt: '150',
  endedAt: '200',
  cancelled: '0',
  integration: 'done',
  resultBranch: 'reins/r-abcdef12/result',
  resultCommit: 'def',
  conflicts: '[]',
};

describe('the run record decoder', () => {
  it('reads a whole record, leaving fields that are not set absent', () => {
    expect(decodeRun(hash)).toStrictEqual({
      runId: 'r-abcdef12',
      name: 'hello',
      goal: 'greet',
      status: 'succeeded',
      source: '/h.yaml',
      spec: JSON.parse(hash.spec!),
      members: ['a'],
      workdir: '/repo',
      skills: { lint: 'Lints the code.' },
      baseCommit: 'abc',
      integration: 'done',
      resultBranch: 'reins/r-abcdef12/result',
      resultCommit: 'def',
      conflicts: [],
      createdAt: 100,
      startedAt: 150,
      endedAt: 200,
      cancelled: false,
    });
    const fresh = decodeRun({ runId: 'r-abcdef12', status: 'queued', spec: '{}', members: '[]', skills: '{}', createdAt: '1', cancelled: '0', planOnly: '1' });
    expect(Object.keys(fresh).sort()).toEqual(['cancelled', 'createdAt', 'goal', 'members', 'name', 'planOnly', 'runId', 'skills', 'source', 'spec', 'status']);
    expect(fresh.planOnly).toBe(true);
  });

  it('reads a head from HMGET replies the same way, so lists and detail pages agree', () => {
    const head = decodeRunHead(RUN_HEAD_FIELDS.map((f) => hash[f] ?? null));
    expect(head).toStrictEqual(toRunHead(decodeRun(hash)));
    expect(head).toStrictEqual({ runId: 'r-abcdef12', name: 'hello', status: 'succeeded', members: ['a'], createdAt: 100, startedAt: 150, endedAt: 200, cancelled: false });
  });

  it('still shows a damaged run (unknown status, unreadable members) and leaves out one that is gone', () => {
    expect(decodeRunHead(['r-abcdef12', null, 'exploded', '{not json', '5', null, null, '1'])).toStrictEqual({ runId: 'r-abcdef12', name: '', status: 'queued', members: [], createdAt: 5, cancelled: true });
    expect(decodeRunHead(RUN_HEAD_FIELDS.map(() => null))).toBeUndefined();
  });

  it('refuses a record whose harness is not JSON, naming the run and the field', () => {
    expect(() => decodeRun({ ...hash, spec: '{oops' })).toThrow(/run record r-abcdef12 is malformed: spec: expected JSON/);
  });
});
