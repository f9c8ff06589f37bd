import { describe, it, expect } from 'vitest';
import { MEMBER_STATUSES, RUN_STATUSES, deriveRunStatus, isFinalMemberStatus, isFinalRunStatus, type MemberStatus } from '../../libs/shared/src/runs/status.js';

const of = (...statuses: MemberStatus[]) => statuses.map((status) => ({ status }));

describe('deriveRunStatus', () => {
  it('is cancelled when the run was cancelled, whatever its members', () => {
    expect(deriveRunStatus(of('running', 'pending'), true)).toBe('cancelled');
    expect(deriveRunStatus(of('succeeded'), true)).toBe('cancelled');
  });

  it('is succeeded when every member succeeded', () => {
    expect(deriveRunStatus(of('succeeded'), false)).toBe('succeeded');
    expect(deriveRunStatus(of('succeeded', 'succeeded', 'succeeded'), false)).toBe('succeeded');
  });

  it('is failed once every member ended and one did not succeed', () => {
    expect(deriveRunStatus(of('succeeded', 'failed'), false)).toBe('failed');
    expect(deriveRunStatus(of('failed', 'skipped'), false)).toBe('failed');
    expect(deriveRunStatus(of('succeeded', 'cancelled'), false)).toBe('failed');
  });

  it('keeps running while a sibling of a failed member still works', () => {
    expect(deriveRunStatus(of('failed', 'running'), false)).toBe('running');
    expect(deriveRunStatus(of('failed', 'pending'), false)).toBe('running');
  });

  it('is running once any member left pending/queued', () => {
    expect(deriveRunStatus(of('running', 'pending'), false)).toBe('running');
    expect(deriveRunStatus(of('retrying'), false)).toBe('running');
    expect(deriveRunStatus(of('succeeded', 'pending'), false)).toBe('running');
  });

  it('is queued while every member is pending or queued', () => {
    expect(deriveRunStatus(of('pending', 'queued'), false)).toBe('queued');
    expect(deriveRunStatus(of('queued'), false)).toBe('queued');
  });
});

describe('final statuses', () => {
  it('marks the final member statuses', () => {
    expect(MEMBER_STATUSES.filter(isFinalMemberStatus)).toEqual(['succeeded', 'failed', 'skipped', 'cancelled']);
  });

  it('marks the final run statuses', () => {
    expect(RUN_STATUSES.filter(isFinalRunStatus)).toEqual(['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'refused']);
  });
});
