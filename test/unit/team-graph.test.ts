import { describe, expect, it } from 'vitest';
import { memberActivity, teamLayers, teamTree } from '../../libs/shared/src/runs/team-graph.js';

const team = (spec: Record<string, string[]>) => Object.entries(spec).map(([name, dependsOn]) => ({ name, dependsOn }));

describe('teamLayers', () => {
  it('puts each member one layer right of its deepest dependency', () => {
    const { layers, depth, edges, cyclic } = teamLayers(team({ plan: [], build: ['plan'], test: ['plan'], ship: ['build', 'test'], docs: [], late: ['docs', 'ship'] }));
    expect(layers).toEqual([['plan', 'docs'], ['build', 'test'], ['ship'], ['late']]);
    expect(depth.get('late')).toBe(3);
    expect(edges).toEqual([
      { from: 'plan', to: 'build' },
      { from: 'plan', to: 'test' },
      { from: 'build', to: 'ship' },
      { from: 'test', to: 'ship' },
      { from: 'docs', to: 'late' },
      { from: 'ship', to: 'late' },
    ]);
    expect(cyclic).toEqual([]);
  });

  it('orders a layer by where its dependencies sit, so arrows stay short', () => {
    // b2 depends on the second root, so it goes below b1 though it comes first in the team.
    const { layers } = teamLayers(team({ a1: [], a2: [], b2: ['a2'], b1: ['a1'] }));
    expect(layers).toEqual([
      ['a1', 'a2'],
      ['b1', 'b2'],
    ]);
  });

  it('survives what validation forbids: cycles, self-dependencies, unknown names and repeats', () => {
    const { layers, edges, cyclic } = teamLayers(team({ a: ['c'], b: ['a', 'a'], c: ['b'], self: ['self'], lost: ['ghost'] }));
    expect(layers.flat().sort()).toEqual(['a', 'b', 'c', 'lost', 'self']);
    // The edge that closes the cycle (found from a, the first member) is left out; the others stay, each
    // once; the unknown and self edges go.
    expect(cyclic).toEqual([
      { from: 'a', to: 'b' },
      { from: 'self', to: 'self' },
    ]);
    expect(edges).toEqual([
      { from: 'c', to: 'a' },
      { from: 'b', to: 'c' },
    ]);
    expect(teamLayers([]).layers).toEqual([]);
  });
});

describe('teamTree', () => {
  it('draws each member once, under its first dependency, noting the others', () => {
    const rows = teamTree(team({ plan: [], build: ['plan'], test: ['plan'], ship: ['build', 'test'], docs: [] }));
    expect(rows.map((r) => [r.name, r.level, r.last, r.rails, r.alsoAfter])).toEqual([
      ['plan', 0, false, [], []],
      ['build', 1, false, [], []],
      ['ship', 2, true, [true], ['test']],
      ['test', 1, true, [], []],
      ['docs', 0, true, [], []],
    ]);
  });

  it('never loops on a cycle, and still shows every member', () => {
    const rows = teamTree(team({ a: ['b'], b: ['a'], c: ['c'] }));
    expect(rows.map((r) => r.name).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('memberActivity', () => {
  it('marks running and waiting members with why, and leaves the rest alone', () => {
    expect(memberActivity({ status: 'running', attempts: 2, host: 'vm' })).toEqual({ state: 'running', why: 'attempt 2 on vm' });
    expect(memberActivity({ status: 'queued', attempts: 0, error: 'no live worker has the labels tpu; it waits for one' })).toEqual({ state: 'waiting', why: 'no live worker has the labels tpu; it waits for one' });
    expect(memberActivity({ status: 'queued', attempts: 0 })?.why).toBe('queued for a free worker');
    expect(memberActivity({ status: 'retrying', attempts: 1, errorClass: 'crash', error: 'exit 3\nmore', retryAt: Date.UTC(2030, 0, 1, 12, 0, 5) })?.why).toBe('retrying after crash: exit 3; next try 12:00:05 UTC');
    for (const status of ['pending', 'succeeded', 'failed', 'skipped', 'cancelled']) expect(memberActivity({ status, attempts: 1 })).toBeUndefined();
  });
});
