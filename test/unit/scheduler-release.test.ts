import { describe, it, expect } from 'vitest';
import type { MemberStatus } from '@reins/shared';
import { decideRelease } from '../../apps/scheduler/src/release.js';

const statuses =
  (map: Record<string, MemberStatus>) =>
  (name: string): MemberStatus | undefined =>
    map[name];

describe('decideRelease', () => {
  it('releases a member without dependencies', () => {
    expect(decideRelease({ dependsOn: [] }, statuses({}))).toEqual({ action: 'release' });
  });

  it('releases when every dependency succeeded', () => {
    expect(decideRelease({ dependsOn: ['a', 'b'] }, statuses({ a: 'succeeded', b: 'succeeded' }))).toEqual({ action: 'release' });
  });

  it('waits while any dependency is still in flight', () => {
    for (const status of ['pending', 'queued', 'running', 'retrying'] as const) {
      expect(decideRelease({ dependsOn: ['a', 'b'] }, statuses({ a: 'succeeded', b: status })), status).toEqual({ action: 'wait' });
    }
  });

  it('waits when a dependency is unknown', () => {
    expect(decideRelease({ dependsOn: ['ghost'] }, statuses({}))).toEqual({ action: 'wait' });
  });

  it('skips when a dependency failed, was skipped or was cancelled, naming them', () => {
    expect(decideRelease({ dependsOn: ['a'] }, statuses({ a: 'failed' }))).toEqual({ action: 'skip', reason: 'skipped: a failed' });
    expect(decideRelease({ dependsOn: ['a'] }, statuses({ a: 'skipped' }))).toEqual({ action: 'skip', reason: 'skipped: a skipped' });
    expect(decideRelease({ dependsOn: ['a'] }, statuses({ a: 'cancelled' }))).toEqual({ action: 'skip', reason: 'skipped: a cancelled' });
  });

  it('skips as soon as one dependency is blocked, even while others still run, listing all blocked ones', () => {
    expect(decideRelease({ dependsOn: ['a', 'b', 'c', 'd'] }, statuses({ a: 'failed', b: 'running', c: 'cancelled', d: 'succeeded' }))).toEqual({ action: 'skip', reason: 'skipped: a failed, c cancelled' });
  });
});
