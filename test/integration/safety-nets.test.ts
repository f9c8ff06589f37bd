import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { agentJobId, createKeys, createLogger } from '@reins/shared';
import { AgentSockets, newAgentChannel } from '../../apps/worker/src/attempt/agent-socket.js';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { startAttempt } from '../helpers/member-fixture.js';
import { blockingAgent } from '../helpers/gate.js';

const redis = useRedis();

const node = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });

describe('safety nets with command agents', () => {
  it('the wall clock stops an attempt past timeoutMs, with class timeout, and the member fails after its attempts', async () => {
    const file = await writeHarness(tempDir('timeout'), { name: 'slow', agent: blockingAgent, limits: { timeoutMs: 700 }, retry: { attempts: 2 }, team: [{ name: 'solo', prompt: 'sleep' }] });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { runId: string; members: { status: string; attempts: number; error?: string }[] };
      expect(view.members[0]).toMatchObject({ status: 'failed', attempts: 2 });
      expect(view.members[0]!.error).toContain('wall-clock limit');
      const store = storeOf(redis.client, fleet);
      expect((await store.readAttempts(view.runId, 'solo')).map((a) => a.outcome)).toEqual(['timeout', 'timeout']);
      expect(await fleet.tmuxSessions()).toEqual([]);
    });
  });

  it('an agent saves its own progress with `reins checkpoint`, and the next attempt gets it in REINS_CURSOR', async () => {
    const dir = tempDir('checkpoint');
    const script = `
      const { execFileSync } = require('child_process');
      const fs = require('fs');
      if (!process.env.REINS_CURSOR) {
        execFileSync('reins', ['checkpoint', '--data', JSON.stringify({ step: 2, note: "it's half done" })], { stdio: 'inherit' });
        process.exit(3);
      }
      fs.writeFileSync(${JSON.stringify(path.join(dir, 'cursor.json'))}, process.env.REINS_CURSOR);`;
    const file = await writeHarness(dir, { name: 'saver', agent: node(script), retry: { attempts: 2 }, team: [{ name: 'solo', prompt: 'save' }] });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    });
    const cursor = JSON.parse(readFileSync(path.join(dir, 'cursor.json'), 'utf8')) as { attempt: number; data: unknown; at: number };
    expect(cursor.data).toEqual({ step: 2, note: "it's half done" });
    expect(cursor.attempt).toBe(1);
  });

  it('`reins checkpoint` from a superseded attempt is refused, through its worker; the current one is saved', async () => {
    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = 'r-fencetest1';
      await store.createRun({ runId, name: 'f', goal: 'f', source: 'x', spec: { name: 'f', agent: { kind: 'claude' }, team: [{ name: 'solo', prompt: 'p' }] }, members: ['solo'], skills: {}, createdAt: Date.now() }, [
        { name: 'solo', dependsOn: [], jobId: 'r-fencetest1.solo' },
      ]);
      // Two workers' sockets: the first still serves the attempt the second superseded.
      const sockets = [0, 1].map(
        () => new AgentSockets({ redis: redis.client, keys: createKeys(fleet.prefix), store, logger: createLogger({ name: 'test', level: 'silent' }), heartbeatTtlMs: 30_000, onHook: () => undefined }),
      );
      try {
        const agents: Record<string, string>[] = [];
        for (const s of sockets) {
          const epoch = await startAttempt(store, runId, 'solo');
          const channel = newAgentChannel(fleet.dataDir);
          await s.listen({ runId, member: 'solo', attempt: epoch, epoch, jobId: `${runId}.solo`, channel });
          agents.push({
            REINS_RUN_ID: runId,
            REINS_MEMBER: 'solo',
            REINS_WORKSPACE: '/',
            REINS_ATTEMPT: String(epoch),
            REINS_EPOCH: String(epoch),
            REINS_JOB_ID: `${runId}.solo`,
            REINS_SOCKET: channel.path,
            REINS_TOKEN: channel.token,
          });
        }
        const [stale, current] = agents as [Record<string, string>, Record<string, string>];
        const refused = await fleet.reins(['checkpoint', '--data', '{"x":1}'], { env: stale });
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toContain('superseded');
        const fresh = await fleet.reins(['checkpoint', '--data', '{"x":2}'], { env: current });
        expect(fresh.exitCode, fresh.stderr).toBe(0);
        expect((await store.readCursor(runId, 'solo'))?.data).toEqual({ x: 2 });
        const bad = await fleet.reins(['checkpoint', '--data', 'not json'], { env: current });
        expect(bad.exitCode).toBe(2);
        expect(bad.stderr).toContain('expected --data to be JSON, got "not json"');
        const outside = await fleet.reins(['checkpoint', '--data', '{}']);
        expect(outside.exitCode).toBe(2);
        expect(outside.stderr).toContain('run it inside a reins agent');
      } finally {
        await Promise.all(sockets.map((s) => s.closeAll()));
      }
    });
  });

  it('the scheduler asks the owning worker to kill a running agent whose heartbeat is missing', async () => {
    await withFleet({ redisUrl: redis.url, workers: 0, env: CHAOS_ENV }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = storeOf(redis.client, fleet);
      const runId = 'r-hbmissing1';
      const jobId = agentJobId(runId, 'solo');
      await store.createRun({ runId, name: 'hb', goal: 'hb', source: 'x', spec: { name: 'hb', agent: { kind: 'claude' }, team: [{ name: 'solo', prompt: 'p' }] }, members: ['solo'], skills: {}, createdAt: Date.now() }, [
        { name: 'solo', dependsOn: [], jobId },
      ]);
      // An agent job held by a worker of the test's own, which never writes a heartbeat.
      const queue = new Queue('agent', { connection: redis.client, prefix: keys.bullPrefix });
      await queue.add('agent.run', {}, { jobId });
      const holder = new Worker('agent', null, { connection: new Redis(redis.url, { maxRetriesPerRequest: null }), prefix: keys.bullPrefix, lockDuration: 60_000 });
      const listener = new Redis(redis.url);
      const messages: string[] = [];
      listener.on('message', (_c, m) => messages.push(m));
      await listener.subscribe(keys.controlChannel);
      try {
        const job = await holder.getNextJob('test-token');
        expect(job?.id).toBe(jobId);
        await startAttempt(store, runId, 'solo', { startedAt: Date.now() - 10_000, workerId: 'w9' });
        await waitFor(() => messages.find((m) => m.includes('"kill"')), 'a kill request');
        expect(JSON.parse(messages.find((m) => m.includes('"kill"'))!)).toEqual({ type: 'kill', jobId, reason: 'heartbeat missing' });
      } finally {
        await holder.close(true);
        await queue.close();
        listener.disconnect();
      }
    });
  });

  it('a restarted worker stops a leftover session whose job moved on (a newer attempt took it)', async () => {
    const file = await writeHarness(tempDir('moved'), { name: 'moved', agent: blockingAgent, team: [{ name: 'solo', prompt: 'sleep' }] });
    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_HEARTBEAT_TTL_MS: '20000' } }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await fleet.tmuxSessions()).length === 1, 'the agent session');
      await fleet.workers[0]!.kill9();
      // Another attempt took the member elsewhere: its epoch moved on.
      await startAttempt(store, runId, 'solo', { workerId: 'elsewhere' });
      expect((await fleet.tmuxSessions()).length).toBe(1);
      const restarted = await fleet.startWorker('w1');
      expect(restarted.log()).toContain('leftover session whose job moved on');
      expect(await fleet.tmuxSessions()).toEqual([]);
      await fleet.reins(['cancel', runId, '--wait-ms', '0']);
      void waitForRunEnd;
    });
  });
});
