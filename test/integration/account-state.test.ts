import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Accounts, createKeys } from '@reins/shared';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();
const fresh = () => new Accounts(redis.client, createKeys(`t${randomBytes(4).toString('hex')}`), 30_000);

describe('account state in Redis', () => {
  it('a broken mark is taken back only by a worker that brings other credentials', async () => {
    const accounts = fresh();
    await accounts.announce([{ name: 'a', fingerprint: 'f1' }]);
    await accounts.markBroken('a', 'Invalid API key', 'f1');
    // The same credentials again (a restart of the same worker): still broken.
    await accounts.announce([{ name: 'a', fingerprint: 'f1' }]);
    expect((await accounts.states(['a']))[0]!.broken?.message).toBe('Invalid API key');
    // Other credentials for it: someone fixed them.
    await accounts.announce([{ name: 'a', fingerprint: 'f2' }]);
    expect((await accounts.states(['a']))[0]!.broken).toBeUndefined();
    expect(await accounts.names()).toEqual(['a']);
  });

  it("holds at most an account's max agents fleet-wide, a holder renewing its place", async () => {
    const accounts = fresh();
    const now = Date.now();
    expect(await accounts.acquire('a', 'job-1', 2, now)).toBe(true);
    expect(await accounts.acquire('a', 'job-2', 2, now)).toBe(true);
    expect(await accounts.acquire('a', 'job-3', 2, now)).toBe(false);
    expect(await accounts.acquire('a', 'job-1', 2, now)).toBe(true);
    expect(await accounts.running(['a', 'b'], now)).toEqual([2, 0]);
    await accounts.release('a', 'job-2');
    expect(await accounts.acquire('a', 'job-3', 2, now)).toBe(true);
    // A dead worker's place frees itself once its lease (30 s here) has run out.
    expect(await accounts.acquire('a', 'job-4', 2, now + 31_000)).toBe(true);
  });

  it('a later pause wins over an earlier one; a rejected window pauses the account until its reset', async () => {
    const accounts = fresh();
    const now = Date.now();
    await accounts.pause('a', now + 60_000, 'first', now);
    await accounts.pause('a', now + 10_000, 'earlier', now);
    expect((await accounts.states(['a']))[0]).toMatchObject({ pausedUntil: now + 60_000, pausedWhy: 'first' });
    const resetsAt = Math.floor(now / 1000) + 7200;
    await accounts.observe('b', { status: 'rejected', rateLimitType: 'five_hour', utilization: 1, resetsAt }, now);
    expect((await accounts.states(['b']))[0]).toMatchObject({ pausedUntil: resetsAt * 1000, windows: { five_hour: { status: 'rejected', utilization: 1 } } });
  });

  it("adds each attempt's tokens and cost to the account's UTC day", async () => {
    const accounts = fresh();
    await accounts.addUsage('a', { tokens: 1200, costUsd: 0.25 });
    await accounts.addUsage('a', { tokens: 800, costUsd: 0.5 });
    expect(await accounts.usage('a')).toEqual({ tokens: 2000, costUsd: 0.75, attempts: 2 });
  });
});
