import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKeys, WorkerRegistrationSchema } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { repoRoot, spawnRoleProcess, waitForLog, withFleet, writeHarness } from '../helpers/fleet.js';
import { scratchEnv } from '../helpers/test-root.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { gatedNodeAgent, openGate } from '../helpers/gate.js';
import { WorkerIdClaim, workerRegistration } from '../../apps/worker/src/registration.js';

const redis = useRedis();

describe('workers know who they are', () => {
  it('a second `reins worker --id w1` while w1 runs agents exits 2 naming the id and the host, and adopts nothing: each member succeeds once', async () => {
    const dir = tempDir('same-id');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'same-id',
      agent: gatedNodeAgent(gate),
      team: [
        { name: 'a', prompt: 'wait for the gate' },
        { name: 'b', prompt: 'wait for the gate' },
      ],
    });
    await withFleet({ redisUrl: redis.url, workers: 1, env: CHAOS_ENV }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = storeOf(redis.client, fleet);
      const first = fleet.workers[0]!;
      const registration = async () => WorkerRegistrationSchema.parse(JSON.parse((await redis.client.get(keys.worker('w1'))) ?? 'null'));
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const sessions = await waitFor(async () => {
        const live = await fleet.tmuxSessions();
        return live.length === 2 ? live : undefined;
      }, "both agents running on w1's tmux socket");
      const before = await registration();
      expect(before).toMatchObject({ workerId: 'w1', pid: first.pid, host: os.hostname() });

      const second = await fleet.reins(['worker', '--id', 'w1'], { timeoutMs: 30_000 });
      expect(second.exitCode, second.stdout + second.stderr).toBe(2);
      expect(second.stderr).toContain('worker id "w1" is held by the worker on host');
      expect(second.stderr).toContain(`host ${os.hostname()} (pid ${first.pid}`);
      // It refused before touching anything of w1's: no adoption, no session stopped, no registration written.
      expect(second.stdout).not.toContain('leftover session');
      expect(await fleet.tmuxSessions()).toEqual(sessions);
      const after = await registration();
      expect(after).toMatchObject({ pid: first.pid, instance: before.instance });

      openGate(gate);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      for (const member of ['a', 'b']) {
        const outcomes = (await store.readAttempts(runId, member)).map((a) => a.outcome);
        expect(outcomes, member).toEqual(['succeeded']);
      }
      expect(first.log()).not.toContain('Missing lock');
      expect(first.child.exitCode, 'the first w1 keeps running').toBeNull();
    });
  });

  it('the claim: SET NX, refreshed only by its own instance; after an expiry another may take it, and then the first must not write over it', async () => {
    const keys = createKeys(`t-claim-${process.pid}`);
    const ttlMs = 300;
    const a = new WorkerIdClaim(redis.client, keys, 'w1', 'instance-a', ttlMs);
    const b = new WorkerIdClaim(redis.client, keys, 'w1', 'instance-b', ttlMs);
    const reg = () => workerRegistration({ workerId: 'w1', host: 'h', startedAt: 1, slots: 1, used: 0, state: 'running' });
    const holder = async () => JSON.parse((await redis.client.get(keys.worker('w1'))) ?? 'null') as { instance?: string } | null;
    await redis.client.sadd(keys.pools, 'agent@gpu');

    expect(await a.claim(reg())).toEqual({ kind: 'taken', pools: ['agent@gpu'] });
    expect(await a.claim(reg())).toEqual({ kind: 'refreshed', pools: ['agent@gpu'] });
    const refused = await b.claim(reg());
    expect(refused).toMatchObject({ kind: 'held', holder: { workerId: 'w1', instance: 'instance-a' } });
    expect(await b.release()).toBe(false);
    expect((await holder())?.instance).toBe('instance-a');

    // A's registration expires (as in a Redis outage longer than the TTL), and B takes the id meanwhile.
    await waitFor(async () => (await redis.client.exists(keys.worker('w1'))) === 0, "A's registration to expire");
    expect((await b.claim(reg())).kind).toBe('taken');
    expect(await a.claim(reg())).toMatchObject({ kind: 'held', holder: { instance: 'instance-b' } });
    expect(await a.release()).toBe(false);
    expect((await holder())?.instance).toBe('instance-b');

    // A predecessor's registration is replaced only while it is exactly what was read.
    const seen = refused.kind === 'held' ? refused.raw : '';
    expect((await a.claim(reg(), seen)).kind).toBe('held');
    const current = (await redis.client.get(keys.worker('w1')))!;
    expect((await a.claim(reg(), current)).kind).toBe('taken');
    expect((await holder())?.instance).toBe('instance-a');
    expect(await a.release()).toBe(true);
    expect(await redis.client.exists(keys.worker('w1'))).toBe(0);
  });

  it("a worker whose registration expired and whose id another took meanwhile yields: it hands its agent back, exits 2 and leaves the other's registration alone", async () => {
    const dir = tempDir('lost-id');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, { name: 'lost-id', agent: gatedNodeAgent(gate), team: [{ name: 'solo', prompt: 'wait for the gate' }] });
    await withFleet({ redisUrl: redis.url, workers: 1, env: CHAOS_ENV }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = storeOf(redis.client, fleet);
      const first = fleet.workers[0]!;
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await fleet.tmuxSessions()).length === 1, 'the agent running on w1');
      // As if w1's registration had expired in an outage and another process had claimed the id meanwhile.
      const other = JSON.stringify({ ...workerRegistration({ workerId: 'w1', host: 'elsewhere', startedAt: Date.now(), slots: 1, used: 0, state: 'running' }), pid: 1, instance: 'the-other' });
      await redis.client.set(keys.worker('w1'), other, 'PX', 60_000);
      expect(await first.exited).toBe(2);
      expect(first.log()).toContain('worker id w1 was taken by another worker on elsewhere (pid 1)');
      expect(await redis.client.get(keys.worker('w1'))).toBe(other);
      expect(await fleet.tmuxSessions()).toEqual([]);
      expect(await store.getMember(runId, 'solo')).toMatchObject({ status: 'queued', attempts: 0 });

      await fleet.startWorker('w2');
      openGate(gate);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect((await store.readAttempts(runId, 'solo')).map((a) => [a.attempt, a.outcome])).toEqual([
        [1, 'shutdown'],
        [1, 'succeeded'],
      ]);
    });
  });

  it('a worker started before its Redis waits for it to claim its id, then starts', async () => {
    const port = await freePort();
    const dataDir = tempDir('redis-later');
    const env = { ...scratchEnv(path.join(dataDir, 'home')), REINS_REDIS_URL: `redis://127.0.0.1:${port}`, REINS_PREFIX: `t-later-${process.pid}`, REINS_DATA_DIR: dataDir, REINS_WORKER_ID: 'w-early', ...CHAOS_ENV };
    const worker = spawnRoleProcess('worker', 'w-early', { file: process.execPath, args: [path.join(repoRoot, 'apps/worker/dist/main.js')] }, env, path.join(dataDir, 'worker.log'));
    let redisServer: ChildProcess | undefined;
    try {
      await waitForLog(worker.logFile, 'Redis out of reach at start: waiting for it to claim the worker id', 30_000, worker.child);
      redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dataDir], { stdio: 'ignore' });
      await waitForLog(worker.logFile, 'worker started', 30_000, worker.child);
      expect(worker.log()).toContain('"workerId":"w-early"');
    } finally {
      await worker.stop(5_000);
      redisServer?.kill('SIGKILL');
    }
  });
});
