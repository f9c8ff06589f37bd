import { afterEach, describe, expect, it, vi } from 'vitest';
import { toRunView, type AttemptRecord, type MemberRecord, type RunRecord } from '@reins/shared';
import { renderLiveTable } from '../../apps/cli/src/live-table.js';
import { renderRun, renderTeamTree } from '../../apps/cli/src/render.js';
import { renderTeam } from '../../apps/cli/src/team-render.js';
import { formatEntry } from '../../apps/cli/src/timeline.js';

// What issue 11 measured an agent could make a terminal do, through `reins status` and `reins logs`.
const HOSTILE = '\u001b]52;c;cm0gLXJmIH4=\u0007\u001b]0;pwned\u0007\u001b[2J\u009b2J\u202eevil\u2066';
const SHOWN = '\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]0;pwned\\x07\\x1b[2J\\x9b2J\\u202eevil\\u2066';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters the test looks for.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: reins's own colours, which must stay.
const SGR = /\u001b\[[0-9;]*m/g;

const pipe = { write: () => true, isTTY: false };
const terminal = { write: () => true, isTTY: true, columns: 200, rows: 50 };

const now = 1_800_000_000_000;
const member = (name: string, over: Partial<MemberRecord> = {}): MemberRecord => ({ runId: 'r-abc', name, status: 'pending', dependsOn: [], jobId: `r-abc.${name}`, attempts: 0, ...over });
const members = [
  member('loud', { status: 'succeeded', attempts: 1, summary: `first\nprinted ${HOSTILE}`, sessionId: `s${HOSTILE}`, host: `vm${HOSTILE}`, branch: `reins/${HOSTILE}` }),
  member('broken', { status: 'failed', attempts: 2, dependsOn: ['loud'], error: `exited: ${HOSTILE}`, errorClass: 'crash' }),
  member('waiting', { status: 'running', attempts: 1, dependsOn: ['loud'], host: `h${HOSTILE}`, workerId: `w${HOSTILE}`, startedAt: now - 1_000, epoch: 1 }),
];
const run = {
  runId: 'r-abc',
  name: 'hostile',
  goal: '',
  status: 'running',
  source: 'x.yaml',
  spec: { name: 'hostile', agent: { kind: 'command', argv: ['x'] }, team: [] },
  members: members.map((m) => m.name),
  skills: {},
  createdAt: now - 5_000,
  startedAt: now - 4_000,
  conflicts: [{ member: 'loud', files: [`a${HOSTILE}.txt`] }],
} as unknown as RunRecord;
const attempts = new Map<string, AttemptRecord[]>([
  [
    'broken',
    [
      { attempt: 1, epoch: 1, outcome: 'crash', message: `boom ${HOSTILE}`, startedAt: now - 3_000, endedAt: now - 2_500, workerId: `w${HOSTILE}`, host: 'vm' },
      { attempt: 2, epoch: 2, outcome: 'crash', message: `again ${HOSTILE}`, startedAt: now - 2_000, endedAt: now - 1_500, workerId: 'w1', host: 'vm' },
    ],
  ],
]);

/** Nothing a terminal acts on is left but reins's colours, and the agent's text is there, escaped. */
function expectSafe(text: string, stream: { isTTY: boolean }): void {
  if (stream.isTTY) expect(text).toMatch(SGR);
  expect(text.replace(SGR, '')).not.toMatch(UNSAFE);
  expect(text).toContain(SHOWN);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the CLI escapes what agents and run data say before it colours it', () => {
  it('reins status: summaries, errors, attempts, hosts, sessions, branches and conflicts', () => {
    vi.stubEnv('NO_COLOR', '');
    for (const stream of [pipe, terminal]) {
      const text = renderRun(run, members, attempts, stream);
      expectSafe(text, stream);
      expect(text).toContain(`summary:   first\n             printed ${SHOWN}`);
      expect(text).toContain(`error:     [crash] exited: ${SHOWN}`);
      expect(text).toContain(`boom ${SHOWN}`);
      expect(text).toContain(`conflict: loud could not be merged (a${SHOWN}.txt)`);
    }
    expect(renderRun(run, members, attempts, terminal)).toContain('\u001b[32msucceeded\u001b[0m');
  });

  it('reins status under NO_COLOR on a terminal: no escape sequence at all', () => {
    vi.stubEnv('NO_COLOR', '1');
    const text = `${renderRun(run, members, attempts, terminal)}\n${renderTeamTree(members, terminal)}`;
    expect(text).not.toMatch(UNSAFE);
    expect(text).toContain(SHOWN);
  });

  it('the live table of status --watch: the newest event and the heartbeat', () => {
    vi.stubEnv('NO_COLOR', '');
    const snapshot = { view: toRunView(run, members), run, members, attempts };
    const activity = {
      heartbeatTtlMs: 10_000,
      heartbeats: new Map([['r-abc.waiting', { workerId: `w${HOSTILE}`, host: `h${HOSTILE}`, beatAt: now - 500, lastHookAt: undefined, inTool: false }]]),
      lastEvents: new Map([['waiting', { id: '1-0', at: now - 200, kind: `output${HOSTILE}`, text: `said ${HOSTILE}` }]]),
    };
    for (const stream of [pipe, terminal]) {
      const lines = renderLiveTable(snapshot, activity, stream, now);
      expectSafe(lines.join('\n'), stream);
      expect(lines.join('\n')).toContain(`said ${SHOWN}`);
    }
  });

  it('reins logs: the event text, its kind and its member', () => {
    vi.stubEnv('NO_COLOR', '');
    for (const stream of [pipe, terminal]) {
      const line = formatEntry({ member: `m${HOSTILE}`, id: '1-0', at: now, kind: 'tool', text: `Bash echo ${HOSTILE}` }, { memberWidth: 8, stream });
      expectSafe(line, stream);
      expect(line).toContain(`Bash echo ${SHOWN}`);
    }
    expect(formatEntry({ member: 'm', id: '1-0', at: now, kind: 'tool', text: 'x' }, { stream: terminal })).toContain('\u001b[36mtool');
  });

  it("a planned team's YAML: YAML escapes C0 itself, and leaves C1 and bidi raw without this", () => {
    const yaml = renderTeam([{ name: 'a', prompt: HOSTILE }]);
    expect(yaml).not.toMatch(UNSAFE);
    expect(yaml).toContain('\\x9b2J\\u202eevil\\u2066');
  });
});
