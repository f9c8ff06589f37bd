import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MemberRecord } from '@reins/shared';
import { renderTeamTree } from '../../apps/cli/src/render.js';

const member = (name: string, over: Partial<MemberRecord> = {}): MemberRecord => ({ runId: 'r-abcdef', name, status: 'pending', dependsOn: [], jobId: `r-abcdef.${name}`, attempts: 0, ...over });
const team = [
  member('plan', { status: 'succeeded', attempts: 1 }),
  member('build', { status: 'running', attempts: 2, host: 'vm', dependsOn: ['plan'] }),
  member('ship', { status: 'pending', dependsOn: ['build', 'test'] }),
  member('test', { status: 'queued', dependsOn: ['plan'], error: 'waiting for one of 1 slots under "account-a"' }),
  member('docs', { status: 'skipped' }),
];
const pipe = { write: () => true, isTTY: false };
const terminal = { write: () => true, isTTY: true };

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('reins status: the team as a tree', () => {
  it('puts members under their first dependency, notes the others, and says why the running and waiting ones are', () => {
    expect(renderTeamTree(team, pipe)).toBe(
      ['plan  succeeded', '├─ build  running  ◀ attempt 2 on vm', '│  └─ ship  pending  (also after test)', '└─ test  queued  ◀ waiting: waiting for one of 1 slots under "account-a"', 'docs  skipped'].join('\n'),
    );
  });

  it('is coloured on a terminal, and plain under NO_COLOR', () => {
    vi.stubEnv('NO_COLOR', '');
    expect(renderTeamTree(team, terminal)).toContain('\u001b[36mrunning\u001b[0m');
    vi.stubEnv('NO_COLOR', '1');
    expect(renderTeamTree(team, terminal)).toBe(renderTeamTree(team, pipe));
    expect(renderTeamTree(team, terminal)).not.toContain('\u001b[');
  });
});
