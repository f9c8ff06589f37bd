import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKeys, WorkerRegistrationSchema, type WorkerRegistration } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, readAgentJob, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { killTmuxServer, tmuxSessionsOn, tmuxSocketOf } from '../helpers/netns.js';
import { gatedNodeAgent, openGate } from '../helpers/gate.js';
import { fenceAfterMs } from '@reins/shared';
import { probeTmpfs, withTmpfs, type SmallDisk } from '../helpers/tmpfs.js';

/**
 * A worker whose data dir is a small tmpfs of the test's own, filled to the brim: the measured failure was
 * every job the worker took burning all its attempts in seconds (ENOSPC), the first reported `stalled`.
 */
const support = probeTmpfs();
const redis = useRedis();

const MiB = 1024 * 1024;
const node = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });

/** A fleet whose one worker, w1, keeps its data dir on the small disk; its tmux server is always killed before the disk goes. */
async function withDiskWorker<T>(disk: SmallDisk, env: Record<string, string>, story: (fleet: Fleet, registration: () => Promise<WorkerRegistration | undefined>) => Promise<T>): Promise<T> {
  let left: string[] = [];
  let result: T;
  try {
    result = await withFleet({ redisUrl: redis.url, workers: 0, env: CHAOS_ENV }, async (fleet) => {
      await fleet.startWorker('w1', { REINS_DATA_DIR: disk.dir, ...env });
      const keys = createKeys(fleet.prefix);
      const registration = async () => {
        const raw = await redis.client.get(keys.worker('w1'));
        return raw ? WorkerRegistrationSchema.parse(JSON.parse(raw)) : undefined;
      };
      return story(fleet, registration);
    });
  } finally {
    // The fleet stopped the worker; its tmux server lives on the small disk, which cannot go while it runs.
    left = await killTmuxServer(tmuxSocketOf(disk.dir, 'w1'));
  }
  if (left.length > 0) throw new Error(`the worker left tmux sessions on the small disk: ${left.join(', ')}`);
  return result;
}

/** Waits for `count` refreshes of w1's registration (its TTL going back up): that many of its ticks have passed. */
async function ticksPass(fleet: Fleet, count: number): Promise<void> {
  const key = createKeys(fleet.prefix).worker('w1');
  let last = await redis.client.pttl(key);
  let seen = 0;
  await waitFor(
    async () => {
      const now = await redis.client.pttl(key);
      if (now > last) seen += 1;
      last = now;
      return seen >= count;
    },
    `${count} ticks of w1`,
    30_000,
    10,
  );
}

const title = support.ok ? 'a full disk is not a black hole' : `a full disk is not a black hole: skipped, ${support.reason}`;
if (!support.ok) console.warn(`test/integration/full-disk: cannot mount a tmpfs, so the full-disk stories are skipped: ${support.reason}`);

describe.skipIf(!support.ok)(title, () => {
  it('under REINS_MIN_FREE_BYTES the worker is degraded and takes no job; with room again it runs the member, on attempt 1', async () => {
    const file = await writeHarness(tempDir('degraded'), { name: 'room', agent: node('console.log("done")'), team: [{ name: 'solo', prompt: 'p' }] });
    await withTmpfs(8 * MiB, async (disk) => {
      await withDiskWorker(disk, { REINS_MIN_FREE_BYTES: String(2 * MiB) }, async (fleet, registration) => {
        expect((await registration())?.state).toBe('running');
        disk.fill(MiB);
        const degraded = await waitFor(async () => {
          const r = await registration();
          return r?.state === 'degraded' ? r : undefined;
        }, 'w1 to go degraded');
        expect(degraded.reason).toContain(`the data dir ${disk.dir} has`);
        expect(degraded.reason).toContain('under REINS_MIN_FREE_BYTES (2 MiB)');
        expect(degraded.diskFreeBytes).toBeLessThanOrEqual(MiB);
        const listed = await fleet.reins(['workers']);
        expect(listed.stdout).toMatch(/w1\s+\S+\s+degraded\s+0\/4/);
        expect(listed.stdout).toContain('w1 is degraded: the data dir');
        const board = await fleet.startBoard(await freePort());
        const metrics = await (await fetch(`${board}/metrics`)).text();
        expect(metrics).toMatch(/^reins_worker_state\{worker="w1",host="[^"]+",state="degraded"\} 1$/m);
        expect(metrics).toMatch(/^reins_worker_disk_free_bytes\{worker="w1",host="[^"]+"\} \d+$/m);

        const store = storeOf(redis.client, fleet);
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        // The consumer was paused, but BullMQ's pause does not abort a fetch under way: a job that arrives may
        // still reach the worker, which puts it straight back, using no attempt, and says why.
        const released = await waitFor(async () => {
          const job = await readAgentJob(redis.client, fleet, runId, 'solo').catch(() => undefined);
          const member = await store.getMember(runId, 'solo');
          return job?.state === 'waiting' && member?.status === 'queued' ? member : undefined;
        }, 'the member released to the agent queue');
        if (released.error !== undefined) expect(released.error).toContain('worker w1 (');
        // A worker taking jobs would have had it within a tick; two go by and it still waits, untouched.
        await ticksPass(fleet, 2);
        expect(await readAgentJob(redis.client, fleet, runId, 'solo')).toMatchObject({ state: 'waiting', attemptsMade: 0 });
        expect(await store.getMember(runId, 'solo')).toMatchObject({ status: 'queued', attempts: 0 });
        expect(await store.readAttempts(runId, 'solo')).toEqual([]);

        disk.free();
        const view = await waitForRunEnd(store, runId);
        expect(view.status).toBe('succeeded');
        expect(view.members[0]!.attempts).toBe(1);
        expect((await store.readAttempts(runId, 'solo')).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'succeeded']]);
        expect((await registration())?.state).toBe('running');
        const log = fleet.workers[0]!.log();
        expect(log).toContain('degraded: the data dir');
        expect(log).toContain('there is room in the data dir again: taking jobs');
      });
    });
  });

  it('a job that meets ENOSPC goes back without using an attempt, and the member says the disk is full', async () => {
    const file = await writeHarness(tempDir('enospc'), { name: 'no-room', agent: node('console.log("done")'), retry: { attempts: 2 }, team: [{ name: 'solo', prompt: 'p' }] });
    await withTmpfs(8 * MiB, async (disk) => {
      // The floor is off, so the worker takes the job onto a disk with no room left at all.
      await withDiskWorker(disk, { REINS_MIN_FREE_BYTES: '0' }, async (fleet) => {
        const store = storeOf(redis.client, fleet);
        disk.fill(0);
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        const waiting = await waitFor(async () => {
          const m = await store.getMember(runId, 'solo');
          return m?.error?.includes('disk full on worker w1') ? m : undefined;
        }, 'the member to say the disk is full');
        expect(waiting).toMatchObject({ status: 'queued', attempts: 0 });
        expect(waiting.error).toContain('ENOSPC: no space left on device');
        // Two attempts are all it has: had the full disk used them, the member would have failed by now.
        // It has two attempts: had the full disk used them, the member would have failed at the second.
        const handedBack = await waitFor(async () => {
          const records = await store.readAttempts(runId, 'solo');
          return records.length >= 3 ? records : undefined;
        }, 'the job to come back three times');
        expect(handedBack.map((a) => [a.attempt, a.outcome])).toEqual(handedBack.map(() => [1, 'disk_full']));
        expect(await store.getMember(runId, 'solo')).toMatchObject({ status: 'queued', attempts: 0 });
        expect((await readAgentJob(redis.client, fleet, runId, 'solo')).attemptsMade).toBe(0);

        disk.free();
        const view = await waitForRunEnd(store, runId);
        expect(view.status).toBe('succeeded');
        expect(view.members[0]!.attempts).toBe(1);
        const records = await store.readAttempts(runId, 'solo');
        expect(records.at(-1)).toMatchObject({ attempt: 1, outcome: 'succeeded' });
        expect(new Set(records.slice(0, -1).map((a) => `${a.attempt} ${a.outcome}`))).toEqual(new Set(['1 disk_full']));
      });
    });
  });

  it('an agent already running when the disk fills goes on past its lease, and finishes on attempt 1 once there is room', async () => {
    const dir = tempDir('running-on-full');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, { name: 'full-under-me', agent: gatedNodeAgent(gate), team: [{ name: 'solo', prompt: 'wait for the gate' }] });
    await withTmpfs(8 * MiB, async (disk) => {
      await withDiskWorker(disk, { REINS_MIN_FREE_BYTES: String(2 * MiB) }, async (fleet, registration) => {
        const store = storeOf(redis.client, fleet);
        const runId = (await fleet.reins(['submit', file])).stdout.trim();
        const started = await waitFor(async () => {
          const m = await store.getMember(runId, 'solo');
          return m?.status === 'running' && m.tmuxSession ? m : undefined;
        }, 'the agent to start');
        const socket = tmuxSocketOf(disk.dir, 'w1');
        await waitFor(async () => (await tmuxSessionsOn(socket)).includes(started.tmuxSession!), 'its tmux session');
        disk.fill(0);
        await waitFor(async () => (await registration())?.state === 'degraded', 'w1 to go degraded');
        // The lease (a file in the attempt folder) cannot be written the usual way on a full disk; were it not
        // renewed, the launcher would stop the agent once it ran out. Twice its length in ticks go by.
        const leaseMs = fenceAfterMs(Number(CHAOS_ENV.REINS_HEARTBEAT_TTL_MS), Number(CHAOS_ENV.REINS_MONITOR_INTERVAL_MS));
        await ticksPass(fleet, Math.ceil((2 * leaseMs) / Number(CHAOS_ENV.REINS_MONITOR_INTERVAL_MS)));
        expect(await tmuxSessionsOn(socket)).toContain(started.tmuxSession!);
        expect(await store.getMember(runId, 'solo')).toMatchObject({ status: 'running', attempts: 1, epoch: started.epoch });

        disk.free();
        openGate(gate);
        const view = await waitForRunEnd(store, runId);
        expect(view.status).toBe('succeeded');
        expect((await store.readAttempts(runId, 'solo')).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'succeeded']]);
      });
    });
  });
});
