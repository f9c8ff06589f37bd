import { describe, expect, it } from 'vitest';
import { runIdOfEvent } from '../../apps/scheduler/src/scheduler.js';

// The scheduler passes a run when one of its events arrives; a few events can change no decision.
describe('runIdOfEvent', () => {
  it('asks for a pass at the events decisions depend on', () => {
    for (const event of ['attempt_started', 'succeeded', 'attempt_failed', 'cancelled', 'waiting']) {
      expect(runIdOfEvent(JSON.stringify({ runId: 'r-1', member: 'a', event }))).toBe('r-1');
    }
    expect(runIdOfEvent(JSON.stringify({ runId: 'r-1', status: 'cancelled' }))).toBe('r-1');
  });

  it("asks for none at a round's session name or at the scheduler's own writes", () => {
    for (const event of ['round_started', 'released', 'noted']) expect(runIdOfEvent(JSON.stringify({ runId: 'r-1', member: 'a', event }))).toBeUndefined();
  });

  it('takes nothing from a message that is not a run event', () => {
    expect(runIdOfEvent('not json')).toBeUndefined();
    expect(runIdOfEvent(JSON.stringify({ runId: 7 }))).toBeUndefined();
  });
});
