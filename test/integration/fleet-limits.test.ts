import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetLimits, createKeys } from '@reins/shared';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';

const redis = useRedis();

/**
 * Each agent logs its start and end to a shared file, so overlaps can be counted afterwards. It runs until
 * the gate opens, which the test does once it has seen another member held back by the cap meanwhile.
 */
const logged = (log: string, gate: string) => ({
  kind: 'command',
  argv: [
    process.execPath,
    '-e',
    `const fs=require('fs');const [log,gate]=process.argv.slice(1);fs.appendFileSync(log,'start '+Date.now()+'\\n');const t=setInterval(()=>{if(fs.existsSync(gate)){clearInterval(t);fs.appendFileSync(log,'end '+Date.now()+'\\n')}},25)`,
    log,
    gate,
  ],
});

function maxOverlap(log: string): number {
  const events = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([kind, at]) => ({ delta: kind === 'start' ? 1 : -1, at: Number(at) }));
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let live = 0;
  let most = 0;
  for (const e of events) {
    live += e.delta;
    most = Math.max(most, live);
  }
  return most;
}

describe('fleet-wide limits', () => {
  it('a concurrency key caps agents across all workers, and waiting members say why', async () => {
    const dir = tempDir('capped');
    const log = path.join(dir, 'agents.log');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'capped',
      concurrency: { key: 'account-a', max: 1 },
      agent: logged(log, gate),
      team: [
        { name: 'a', prompt: 'a' },
        { name: 'b', prompt: 'b' },
        { name: 'c', prompt: 'c' },
      ],
    });
    await withFleet({ redisUrl: redis.url, workers: 2, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await store.getMembers({ runId, members: ['a', 'b', 'c'] })).some((m) => m.error?.includes('waiting for one of 1 slots under "account-a"')), 'a member waiting for a slot');
      writeFileSync(gate, '');
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members.map((m) => m.attempts)).toEqual([1, 1, 1]);
      expect(maxOverlap(log)).toBe(1);
      // Slots are released when agents end.
      expect(await redis.client.zcard(createKeys(fleet.prefix).semaphore('account-a'))).toBe(0);
    });
  });

  it("the fleet config caps a key too (REINS_CONCURRENCY), below the harness's own cap", async () => {
    const dir = tempDir('fleet-capped');
    const log = path.join(dir, 'agents.log');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'fleetcap',
      concurrency: { key: 'model-x', max: 3 },
      agent: logged(log, gate),
      team: [
        { name: 'a', prompt: 'a' },
        { name: 'b', prompt: 'b' },
        { name: 'c', prompt: 'c' },
      ],
    });
    await withFleet({ redisUrl: redis.url, workers: 1, env: { ...CHAOS_ENV, REINS_CONCURRENCY: 'model-x=1' } }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await store.getMembers({ runId, members: ['a', 'b', 'c'] })).some((m) => m.error?.includes('waiting for one of 1 slots under "model-x"')), 'a member waiting for a slot');
      writeFileSync(gate, '');
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
      expect(maxOverlap(log)).toBe(1);
    });
  });

  it("passes a run's priority to BullMQ: with one free slot, the higher-priority run goes first", async () => {
    const quick = { kind: 'command', argv: ['true'] };
    const low = await writeHarness(tempDir('low'), { name: 'low', priority: 50, agent: quick, team: [{ name: 'm', prompt: 'x' }] });
    const high = await writeHarness(tempDir('high'), { name: 'high', priority: 1, agent: quick, team: [{ name: 'm', prompt: 'x' }] });
    await withFleet({ redisUrl: redis.url, workers: 0, concurrency: 1, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const lowRun = (await fleet.reins(['submit', low])).stdout.trim();
      const highRun = (await fleet.reins(['submit', high])).stdout.trim();
      // Both are queued before any worker exists.
      await waitFor(async () => (await store.getMember(lowRun, 'm'))?.status === 'queued' && (await store.getMember(highRun, 'm'))?.status === 'queued', 'both members queued');
      await fleet.startWorker('solo', { REINS_WORKER_LABELS: 'gpu,region-eu' });
      const [lowView, highView] = await Promise.all([waitForRunEnd(store, lowRun), waitForRunEnd(store, highRun)]);
      expect([lowView.status, highView.status]).toEqual(['succeeded', 'succeeded']);
      expect((await store.getMember(highRun, 'm'))!.startedAt!).toBeLessThan((await store.getMember(lowRun, 'm'))!.startedAt!);
      const workers = JSON.parse((await fleet.reins(['workers', '--json'])).stdout) as { workers: { workerId: string; labels?: string[]; version?: string; slots: number }[] };
      expect(workers.workers).toEqual([expect.objectContaining({ workerId: 'solo', labels: ['gpu', 'region-eu'], version: '0.1.0', slots: 1 })]);
    });
  });

  it('a slot nobody renews frees itself when its lease runs out: a dead worker never leaks one', async () => {
    const limits = new FleetLimits(redis.client, createKeys('lease-test'), 300);
    expect(await limits.acquire('acct', 'job-of-a-dead-worker', 1)).toBe(true);
    expect(await limits.acquire('acct', 'job-b', 1)).toBe(false);
    // Renewing keeps it: the holder is alive.
    expect(await limits.acquire('acct', 'job-of-a-dead-worker', 1)).toBe(true);
    await waitFor(() => limits.acquire('acct', 'job-b', 1), 'the unrenewed slot to free itself');
    expect(await limits.holders('acct')).toEqual(['job-b']);
  });
});
