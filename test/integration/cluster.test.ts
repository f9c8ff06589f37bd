import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskList, agentJobId, createKeys, createRedis, type RedisConnection } from '@reins/shared';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { repoRoot, withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { claimUntilEmpty, messagingTeam } from '../helpers/coordination.js';
import { CHAOS_ENV, readAgentJob, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { blockingAgent, firstAttemptBlocksAgent, openGate } from '../helpers/gate.js';

/**
 * The fleet on a three-master Redis Cluster (REINS_REDIS_URL=redis+cluster://…): the stories of spine.test.ts,
 * coordination.test.ts and worker-death.test.ts, and the key layout checked against the cluster itself.
 */
let cluster: TestCluster;
let client: RedisConnection;

beforeAll(async () => {
  cluster = await startCluster();
  client = createRedis(cluster.url, 'blocking');
  client.on('error', () => undefined);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

const slotOf = (key: string) => cluster.ask(cluster.ports[0]!, async (r) => (await r.call('CLUSTER', 'KEYSLOT', key)) as number);

/** Collects what is published on a channel, through a Cluster subscriber of its own. */
async function listen(channel: string): Promise<{ messages: string[]; close(): void }> {
  const subscriber = createRedis(cluster.url, 'blocking', { enableReadyCheck: false });
  subscriber.on('error', () => undefined);
  const messages: string[] = [];
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) messages.push(message);
  });
  await subscriber.subscribe(channel);
  return { messages, close: () => subscriber.disconnect() };
}

describe('a fleet on Redis Cluster', () => {
  it('the spine: a dependency chain of command agents succeeds, `reins status --json` agrees, and every key it made is in the prefix slot', async () => {
    const before = new Set((await cluster.allKeys()).map((k) => k.key));
    await withFleet({ redisUrl: cluster.url }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const runEvents = await listen(keys.runEventsChannel);
      try {
        const result = await fleet.reins(['submit', path.join(repoRoot, 'examples/hello.yaml'), '--wait', '--json']);
        expect(result.exitCode, result.stderr).toBe(0);
        const view = JSON.parse(result.stdout) as { runId: string; status: string; members: { name: string; status: string; attempts: number; workspace: string }[] };
        expect(view.status).toBe('succeeded');
        expect(view.members.map((m) => [m.name, m.status, m.attempts])).toEqual([
          ['english', 'succeeded', 1],
          ['french', 'succeeded', 1],
          ['together', 'succeeded', 1],
        ]);
        const together = view.members.find((m) => m.name === 'together')!;
        expect(readFileSync(path.join(together.workspace, 'together.txt'), 'utf8')).toBe('Hello, world!\nBonjour, le monde !\n');
        const status = await fleet.reins(['status', view.runId, '--json']);
        expect(status.exitCode, status.stderr).toBe(0);
        expect(JSON.parse(status.stdout)).toEqual(view);

        // Pub/sub across nodes: the run's changes reached a subscriber that may sit on any node.
        await waitFor(() => runEvents.messages.some((m) => m.includes(view.runId) && m.includes('succeeded')), 'the run-events channel to carry the run ending');

        // The key layout, from the cluster itself: every key the fleet made, BullMQ's and reins' own, hashes to
        // the prefix's one slot and lives on the one master that owns it.
        const made = (await cluster.allKeys()).filter((k) => !before.has(k.key));
        const madeNames = made.map((k) => k.key);
        expect(madeNames).toContain(keys.run(view.runId));
        expect(madeNames).toContain(keys.member(view.runId, 'together'));
        expect(madeNames.some((k) => k.startsWith(`${keys.bullPrefix}:agent:`))).toBe(true);
        const slot = await slotOf(keys.bullPrefix);
        const outside: string[] = [];
        for (const { key } of made) if ((await slotOf(key)) !== slot) outside.push(key);
        expect(outside).toEqual([]);
        expect(new Set(made.map((k) => k.port)).size).toBe(1);
      } finally {
        runEvents.close();
      }
    });
  });

  it('the control channel reaches the workers: `reins cancel` stops a running agent', async () => {
    const file = await writeHarness(tempDir('cancel'), { name: 'held', agent: blockingAgent, team: [{ name: 'waits', prompt: 'wait' }] });
    await withFleet({ redisUrl: cluster.url, env: CHAOS_ENV }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = storeOf(client, fleet);
      const control = await listen(keys.controlChannel);
      try {
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        await waitFor(async () => (await store.getMember(runId, 'waits'))?.status === 'running', 'the agent to run');
        const cancelled = await fleet.reins(['cancel', runId]);
        expect(cancelled.exitCode, cancelled.stderr).toBe(0);
        await waitFor(() => control.messages.some((m) => m.includes(runId)), 'the cancel on the control channel');
        const view = await waitForRunEnd(store, runId);
        expect(view.status).toBe('cancelled');
        await waitFor(async () => (await fleet.tmuxSessions()).length === 0, "the worker to stop the agent's session");
      } finally {
        control.close();
      }
    });
  });

  it('coordination: two claimers over 50 tasks claim each exactly once (the claim script runs on the slot owner)', async () => {
    const keys = createKeys('cluster-claims');
    const [a, b] = [createRedis(cluster.url, 'blocking'), createRedis(cluster.url, 'blocking')];
    try {
      const setup = new TaskList(a, keys, 'r-claims0001');
      for (let i = 1; i <= 50; i += 1) await setup.add(`task ${i}`, 'lead');
      const claimer = (connection: RedisConnection, member: string) => claimUntilEmpty(connection, keys, 'r-claims0001', member);
      const [alice, bob] = await Promise.all([claimer(a, 'alice'), claimer(b, 'bob')]);
      expect([...alice, ...bob].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      await expect(setup.claim('carol', alice[0] ?? bob[0])).rejects.toThrow(/is claimed by (alice|bob)/);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('coordination: a message and a task from an agent on one worker reach an agent on another', async () => {
    const dir = tempDir('messages');
    const team = messagingTeam(dir, 'over the cluster');
    const file = await writeHarness(dir, team.harness);
    await withFleet({ redisUrl: cluster.url, workers: 2, concurrency: 1, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      const [listenerRecord, talkerRecord] = await Promise.all([store.getMember(runId, 'listener'), store.getMember(runId, 'talker')]);
      expect(listenerRecord?.workerId).not.toBe(talkerRecord?.workerId);
      const received = team.received();
      expect(received.inbox).toEqual([expect.objectContaining({ from: 'talker', text: 'hello from talker over the cluster' })]);
      expect(received.task).toMatchObject({ title: 'review the greeting', claimedBy: 'listener', status: 'claimed' });
    });
  });

  it('kill -9 of the worker mid-run: the member resumes on the other worker and succeeds once', async () => {
    const started = path.join(tempDir('killed'), 'started');
    const file = await writeHarness(tempDir('killed-run'), { name: 'killed', agent: firstAttemptBlocksAgent(started), retry: { attempts: 3 }, team: [{ name: 'solo', prompt: 'work' }] });
    await withFleet({ redisUrl: cluster.url, workers: 2, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(() => existsSync(started), 'attempt 1 to start');
      const before = await store.getMember(runId, 'solo');
      const victim = fleet.workers.find((w) => w.id === before?.workerId);
      const survivor = fleet.workers.find((w) => w !== victim);
      expect(victim).toBeDefined();
      // `reins workers` finds registrations by SCAN, which a Cluster answers node by node: both are listed.
      const listed = JSON.parse((await fleet.reins(['workers', '--json'])).stdout) as { workers: { workerId: string }[] };
      expect(listed.workers.map((w) => w.workerId)).toEqual(['w1', 'w2']);
      await victim!.kill9();

      const view = await waitForRunEnd(store, runId, 45_000);
      expect(view.status).toBe('succeeded');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts.map((a) => [a.attempt, a.outcome, a.workerId])).toEqual([
        [1, 'stalled', victim!.id],
        [2, 'succeeded', survivor!.id],
      ]);
      const job = await readAgentJob(client, fleet, runId, 'solo');
      expect(job.state).toBe('completed');
    });
  });

  it("an agent's tool hook reaches the heartbeat through the cluster", async () => {
    const dir = tempDir('hook');
    const [go, hooked, done] = [path.join(dir, 'go'), path.join(dir, 'hooked'), path.join(dir, 'done')];
    // Once its worker's heartbeat exists (the hook refreshes it, never creates it), what Claude Code does before
    // a tool call; then a tool that runs until the test has looked.
    const script = `const { execFileSync } = require('child_process'); const fs = require('fs');
      const [go, hooked, done] = process.argv.slice(1);
      const waitFor = (file, then) => { const t = setInterval(() => { if (fs.existsSync(file)) { clearInterval(t); then(); } }, 25); };
      waitFor(go, () => {
        execFileSync('reins-hook', { input: JSON.stringify({ hook_event_name: 'PreToolUse' }) });
        fs.writeFileSync(hooked, '');
        waitFor(done, () => process.exit(0));
      });`;
    const file = await writeHarness(dir, { name: 'hooked', agent: { kind: 'command', argv: [process.execPath, '-e', script, go, hooked, done] }, team: [{ name: 'tool', prompt: 'use a tool' }] });
    await withFleet({ redisUrl: cluster.url, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const heartbeat = createKeys(fleet.prefix).heartbeat(agentJobId(runId, 'tool'));
      await waitFor(async () => (await client.exists(heartbeat)) === 1, "the worker's first heartbeat");
      expect(await client.hget(heartbeat, 'inTool')).toBeNull();
      openGate(go);
      await waitFor(() => existsSync(hooked), 'the hook to have run');
      const beat = await client.hgetall(heartbeat);
      expect(beat.inTool).toBe('1');
      expect(Number(beat.lastHookAt)).toBeGreaterThan(0);
      openGate(done);
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
    });
  });

  it('`reins doctor` reports the nodes and the slot ranges of each master, and which holds the fleet', async () => {
    await withFleet({ redisUrl: cluster.url, scheduler: false, workers: 0 }, async (fleet) => {
      const result = await fleet.reins(['doctor', '--json']);
      const checks = JSON.parse(result.stdout) as { checks: { name: string; ok: boolean; detail: string }[] };
      const redis = checks.checks.find((c) => c.name === 'redis')!;
      expect(redis.ok, redis.detail).toBe(true);
      expect(redis.detail).toContain('cluster: state ok, 3 master(s), 0 replica(s)');
      const slot = await slotOf(`{${fleet.prefix}}`);
      for (const port of cluster.ports) expect(redis.detail).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} master slots \\d+-\\d+`));
      // The three ranges together cover every slot, and the fleet's slot is named on exactly one master.
      const ranges = [...redis.detail.matchAll(/master slots ([\d,-]+)/g)].flatMap((m) => m[1]!.split(','));
      const covered = ranges.reduce((sum, r) => {
        const [from, to = from] = r.split('-').map(Number);
        return sum + (to! - from! + 1);
      }, 0);
      expect(covered).toBe(16_384);
      expect(redis.detail.match(new RegExp(`\\(the fleet's slot ${slot}\\)`, 'g'))).toHaveLength(1);

      // Each master has its own eviction policy: one that evicts, whichever it is, is a warning.
      await cluster.ask(cluster.ports[2]!, (r) => r.config('SET', 'maxmemory-policy', 'allkeys-lru'));
      try {
        const warned = JSON.parse((await fleet.reins(['doctor', '--json'])).stdout) as { checks: { name: string; warn?: boolean; detail: string }[] };
        expect(warned.checks.find((c) => c.name === 'redis')).toMatchObject({ warn: true, detail: expect.stringContaining('maxmemory-policy allkeys-lru') });
      } finally {
        await cluster.ask(cluster.ports[2]!, (r) => r.config('SET', 'maxmemory-policy', 'noeviction'));
      }
    });
  });
});
