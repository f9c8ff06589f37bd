import { describe, expect, it } from 'vitest';
import { isCrashedPredecessor, readClaimReply, readProcess, WorkerIdTakenError, workerRegistration } from '../../apps/worker/src/registration.js';

const holder = (fields: { host: string; pid: number }) => ({ ...workerRegistration({ workerId: 'w1', host: fields.host, startedAt: Date.UTC(2026, 0, 1), slots: 4, used: 1, state: 'running' }), pid: fields.pid });
const self = { host: 'h1', pid: 4242 };

describe('who holds a worker id', () => {
  it("takes over a crashed predecessor's registration only on the same host: its pid gone, taken by a later process, or this very pid", () => {
    const gone = () => ({ alive: false });
    const theWorker = () => ({ alive: true, startedAt: Date.UTC(2026, 0, 1) - 400 });
    const later = () => ({ alive: true, startedAt: Date.UTC(2026, 0, 1) + 60_000 });
    expect(isCrashedPredecessor(holder({ host: 'h1', pid: 17 }), self, gone)).toBe(true);
    expect(isCrashedPredecessor(holder({ host: 'h1', pid: 17 }), self, later)).toBe(true);
    expect(isCrashedPredecessor(holder({ host: 'h1', pid: 4242 }), self, theWorker)).toBe(true);
    expect(isCrashedPredecessor(holder({ host: 'h1', pid: 17 }), self, theWorker)).toBe(false);
    expect(isCrashedPredecessor(holder({ host: 'h1', pid: 17 }), self, () => ({ alive: true }))).toBe(false);
    expect(isCrashedPredecessor(holder({ host: 'h2', pid: 17 }), self, gone)).toBe(false);
    expect(isCrashedPredecessor(undefined, self, gone)).toBe(false);
  });

  it('reads from /proc when a live process started, and knows a pid nobody has', () => {
    const me = readProcess(process.pid);
    expect(me.alive).toBe(true);
    if (process.platform === 'linux') {
      expect(me.startedAt).toBeLessThanOrEqual(Date.now());
      expect(me.startedAt).toBeGreaterThan(Date.now() - process.uptime() * 1000 - 2_000);
    }
    expect(readProcess(2 ** 22 + 1).alive).toBe(false);
  });

  it("reads the tick script's reply: refreshed or taken with the pools, or held with the holder's registration", () => {
    expect(readClaimReply([1, 'agent@gpu'])).toEqual({ kind: 'refreshed', pools: ['agent@gpu'] });
    expect(readClaimReply([2])).toEqual({ kind: 'taken', pools: [] });
    const raw = JSON.stringify(holder({ host: 'h2', pid: 9 }));
    expect(readClaimReply([0, raw])).toMatchObject({ kind: 'held', raw, holder: { host: 'h2', pid: 9 } });
    expect(readClaimReply([0, 'not json'])).toEqual({ kind: 'held', raw: 'not json', holder: undefined });
  });

  it('the refusal names the id, the host and the pid that hold it, and what to do', () => {
    const error = new WorkerIdTakenError('w1', holder({ host: 'h2', pid: 9 }), 30_000);
    expect(error.message).toContain('worker id "w1" is held by the worker on host h2 (pid 9, up since 2026-01-01T00:00:00.000Z)');
    expect(error.message).toContain('--id, REINS_WORKER_ID');
    expect(error.message).toContain('30000 ms');
  });
});
