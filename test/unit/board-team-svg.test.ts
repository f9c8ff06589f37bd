import { describe, expect, it } from 'vitest';
import type { AgentEvent, AttemptRecord, MemberRecord } from '@reins/shared';
import { buildTimeline } from '../../apps/board/src/runs/timeline.js';
import { teamGraphSvg } from '../../apps/board/src/views/team-graph-svg.js';
import { timelineSvg } from '../../apps/board/src/views/timeline-svg.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const member = (name: string, over: Partial<MemberRecord> = {}): MemberRecord => ({ runId: 'r-abcdef', name, status: 'pending', dependsOn: [], jobId: `r-abcdef.${name}`, attempts: 0, ...over });
const attempt = (n: number, outcome: string, startedAt: number, endedAt: number): AttemptRecord => ({
  attempt: n,
  epoch: n,
  outcome,
  message: outcome === 'succeeded' ? 'done' : `exit ${n}`,
  startedAt,
  endedAt,
  workerId: 'w1',
  host: 'vm',
});
const hostile = '<script>alert("x")</script>&\'';

describe('the team graph', () => {
  it('draws a box per member by status, an arrow per dependency, and marks the running and waiting members with why', () => {
    const svg = teamGraphSvg([
      member('plan', { status: 'succeeded', attempts: 1 }),
      member('build', { status: 'running', attempts: 2, host: 'vm', dependsOn: ['plan'] }),
      member('fit', { status: 'queued', error: 'waiting for one of 1 slots under "acct"', dependsOn: ['plan'] }),
      member('ship', { status: 'pending', dependsOn: ['build', 'fit'] }),
    ]).value;
    expect(svg.startsWith('<svg class="team-graph"')).toBe(true);
    expect(svg.match(/<g class="tg-node/g)).toHaveLength(4);
    expect(svg).toContain('<g class="tg-node s-succeeded" data-node="plan"');
    expect(svg).toContain('<g class="tg-node s-running tg-active tg-running" data-node="build"');
    expect(svg).toContain('<g class="tg-node s-queued tg-active tg-waiting" data-node="fit" data-status="queued" data-activity="waiting"');
    expect(svg.match(/<path class="tg-edge"/g)).toHaveLength(4);
    expect(svg).toContain('data-from="fit" data-to="ship"');
    expect(svg).toContain('<b>fit</b> waits: waiting for one of 1 slots under &quot;acct&quot;');
    expect(svg).toContain('<b>build</b> runs: attempt 2 on vm');
    // Three columns: ship sits right of build and fit.
    expect(svg).toMatch(/data-node="ship"[^>]*transform="translate\(520,12\)"/);
    expect(svg).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('escapes names and notes that come from users and agents', () => {
    const svg = teamGraphSvg([member('m', { status: 'queued', error: hostile }), member('n', { status: 'skipped', error: hostile, dependsOn: ['m'] })]).value;
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('"x"');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });
});

describe('the timeline', () => {
  const retried = member('build', { status: 'succeeded', attempts: 2, endedAt: T0 + 9_000 });
  const skipped = member('ship', { status: 'skipped', dependsOn: ['broken'], endedAt: T0 + 4_000, error: 'broken failed' });
  const waiting = member('fit', { status: 'queued', error: hostile });
  const running = member('run', { status: 'running', attempts: 1, epoch: 1, startedAt: T0 + 2_000, host: 'vm' });
  const retrying = member('flaky', { status: 'retrying', attempts: 1, errorClass: 'crash', retryAt: T0 + 20_000 });
  const verify: AgentEvent = { id: '1-0', at: T0 + 7_000, kind: 'verify', text: 'check failed: npm test' };
  const input = {
    run: { createdAt: T0 },
    members: [
      { member: retried, attempts: [attempt(2, 'succeeded', T0 + 5_000, T0 + 9_000), attempt(1, 'crash', T0 + 1_000, T0 + 3_000)], events: [verify] },
      { member: skipped, attempts: [], events: [] },
      { member: waiting, attempts: [], events: [] },
      { member: running, attempts: [], events: [] },
      { member: retrying, attempts: [attempt(1, 'crash', T0 + 1_000, T0 + 2_000)], events: [] },
    ],
  };

  it("derives every member's spans on one axis: queued, attempts with their outcome, the backoff before a retry, waits with why", () => {
    const tl = buildTimeline(input, T0 + 10_000);
    expect(tl.startMs).toBe(T0);
    expect(tl.endMs).toBe(T0 + 20_000);
    const row = (name: string) => tl.rows.find((r) => r.member === name)!;
    expect(row('build').spans.map((s) => [s.kind, s.fromMs - T0, s.toMs - T0, s.outcome])).toEqual([
      ['queued', 0, 1_000, undefined],
      ['failed', 1_000, 3_000, 'crash'],
      ['backoff', 3_000, 5_000, undefined],
      ['succeeded', 5_000, 9_000, 'succeeded'],
    ]);
    expect(row('build').spans[2]!.label).toBe('retry after crash');
    expect(row('build').marks).toEqual([{ kind: 'verify', atMs: T0 + 7_000, label: 'verify: check failed: npm test' }]);
    expect(row('ship').spans).toEqual([]);
    expect(row('ship').marks).toEqual([{ kind: 'skipped', atMs: T0 + 4_000, label: 'skipped: broken failed' }]);
    expect(row('fit').spans).toEqual([{ kind: 'waiting', fromMs: T0, toMs: T0 + 10_000, label: `waiting: ${hostile}` }]);
    expect(row('run').spans.map((s) => [s.kind, s.fromMs - T0, s.toMs - T0])).toEqual([
      ['queued', 0, 2_000],
      ['running', 2_000, 10_000],
    ]);
    expect(row('flaky').spans.map((s) => s.kind)).toEqual(['queued', 'failed', 'backoff']);
    expect(row('flaky').marks.map((m) => m.kind)).toEqual(['next-try']);
  });

  it('shows a wait that has ended as waiting, from the wait event that marked its start', () => {
    const waited = member('slot', { status: 'running', attempts: 1, epoch: 1, startedAt: T0 + 6_000, host: 'vm' });
    const began: AgentEvent = { id: '2-0', at: T0 + 2_000, kind: 'wait', text: 'waiting for one of 1 slots under "claude"' };
    const tl = buildTimeline({ run: { createdAt: T0 }, members: [{ member: waited, attempts: [], events: [began] }] }, T0 + 8_000);
    expect(tl.rows[0]!.spans.map((s) => [s.kind, s.fromMs - T0, s.toMs - T0, s.label])).toEqual([
      ['queued', 0, 2_000, 'queued: waiting for a worker'],
      ['waiting', 2_000, 6_000, 'waited: waiting for one of 1 slots under "claude"'],
      ['running', 6_000, 8_000, 'attempt 1 on vm: running'],
    ]);
  });

  it('draws the spans as classed bars with titles, escaped', () => {
    const svg = timelineSvg(buildTimeline(input, T0 + 10_000)).value;
    expect(svg.startsWith('<svg class="timeline"')).toBe(true);
    expect(svg.match(/<g class="tl-row/g)).toHaveLength(5);
    expect(svg).toContain('class="tl-span tl-failed" data-kind="failed" data-outcome="crash"');
    expect(svg).toContain('class="tl-span tl-backoff"');
    expect(svg).toContain('class="tl-span tl-waiting"');
    expect(svg).toContain('class="tl-mark tl-verify"');
    expect(svg).toContain('class="tl-mark tl-skipped"');
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('waiting: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });
});
