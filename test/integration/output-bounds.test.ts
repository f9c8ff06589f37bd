import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEEP_JOB_LOG_LINES, QUEUES, agentJobId, createKeys, openQueue } from '@reins/shared';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { openGate } from '../helpers/gate.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { FLOOD_RESULT, floodAgent, peakRssMiB, quietAgent } from '../helpers/flood.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';

const redis = useRedis();
const MIB = 1024 * 1024;
const OUTPUT_MAX_BYTES = 4 * MIB;
const FLOOD_BYTES = 200 * 1_000_000;

/** The last `bytes` of a file. */
function fileTail(file: string, bytes: number): string {
  const fd = openSync(file, 'r');
  try {
    const { size } = statSync(file);
    const buffer = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

describe('output is bounded', () => {
  it('a 200 MB stream-json flood: the worker lives, the run ends, the quiet neighbour on the same worker keeps beating and succeeds at once', async () => {
    const dir = tempDir('flood');
    const quietStarted = path.join(dir, 'quiet-started');
    const floodDone = path.join(dir, 'flood-done');
    const file = await writeHarness(dir, {
      name: 'flood',
      retry: { attempts: 2 },
      team: [
        { name: 'quiet', prompt: 'wait', agent: quietAgent(quietStarted, floodDone) },
        // The flood starts once its neighbour runs, so they share the worker the whole time.
        { name: 'flood', prompt: 'flood', agent: floodAgent(FLOOD_BYTES, { startGate: quietStarted, doneFile: floodDone }) },
      ],
    });
    // Every expired key, heard as it expires: a heartbeat that lapsed even once is in here.
    await redis.client.config('SET', 'notify-keyspace-events', 'Ex');
    const listener = redis.client.duplicate();
    const expired: string[] = [];
    listener.on('pmessage', (_pattern, _channel, key: string) => expired.push(key));
    await listener.psubscribe('__keyevent@*__:expired');
    try {
      await withFleet({ redisUrl: redis.url, concurrency: 2, env: { ...CHAOS_ENV, REINS_OUTPUT_MAX_BYTES: String(OUTPUT_MAX_BYTES) } }, async (fleet) => {
        const store = storeOf(redis.client, fleet);
        const submitted = await fleet.reins(['submit', file]);
        expect(submitted.exitCode, submitted.stderr).toBe(0);
        const runId = submitted.stdout.trim();
        const view = await waitForRunEnd(store, runId, 120_000);
        const worker = fleet.workers[0]!;
        expect(worker.child.exitCode, worker.log().slice(-2_000)).toBeNull();
        expect(view.status).toBe('succeeded');
        expect(view.members.map((m) => [m.name, m.status, m.attempts])).toEqual([
          ['quiet', 'succeeded', 1],
          ['flood', 'succeeded', 1],
        ]);
        const keys = createKeys(fleet.prefix);
        expect(
          expired.filter((key) => key.startsWith(keys.heartbeat(''))),
          'heartbeats that expired',
        ).toEqual([]);
        expect((await store.readAttempts(runId, 'quiet')).map((a) => a.outcome)).toEqual(['succeeded']);
        // Bounded memory, not a timing: the worker once reached 4.4 GB here and died.
        expect(peakRssMiB(worker.pid)).toBeLessThan(300);

        // stdout.jsonl: under its cap on disk (what du counts), its size what the agent wrote, its tail whole.
        const stdout = path.join(fleet.dataDir, 'runs', runId, 'flood', 'e1', 'stdout.jsonl');
        expect(statSync(stdout).blocks * 512).toBeLessThanOrEqual(OUTPUT_MAX_BYTES);
        expect(statSync(stdout).size).toBeGreaterThan(FLOOD_BYTES);
        expect(fileTail(stdout, 4_096).endsWith(`{{{\n${JSON.stringify(FLOOD_RESULT)}\n`)).toBe(true);

        // Redis holds the newest events only; the flags say what was cut and skipped.
        const events = await store.readEvents(runId, 'flood', '-', 100_000);
        expect(events.length).toBeLessThanOrEqual(5_100);
        const texts = events.map((e) => e.text);
        expect(texts).toContain('success in 1 turn: flood done');
        expect(
          texts.some((t) => /^reins: a line of 2097152 bytes was cut to its first 1048576/.test(t)),
          'the long line flagged',
        ).toBe(true);
        expect(
          texts.some((t) => /^reins: \d+ bytes of output were skipped/.test(t)),
          'the skipped part flagged',
        ).toBe(true);
        expect(
          texts.some((t) => /^reins: \d+ of \d+ events read in this tick are left out/.test(t)),
          'the events left out flagged',
        ).toBe(true);
        const queue = openQueue(QUEUES.agent, redis.client, keys, { readOnly: true });
        try {
          const { count } = await queue.getJobLogs(agentJobId(runId, 'flood'), 0, 0);
          expect(count).toBeLessThanOrEqual(KEEP_JOB_LOG_LINES);
        } finally {
          await queue.close();
        }
      });
    } finally {
      listener.disconnect();
    }
  });

  it('a worker restarted after cutting a flood adopts the agent and reads on from where the kept part starts, not from the hole', async () => {
    const dir = tempDir('flood-adopt');
    const flooded = path.join(dir, 'flooded');
    const gate = path.join(dir, 'gate');
    // 20 MB of assistant lines, then it waits; once let go, one plain line and the result.
    const script = `const fs = require('node:fs');
      const line = JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'flooding' }] } }) + '\\n';
      const block = Buffer.from(line.repeat(1_000));
      for (let written = 0; written < 20_000_000; written += block.length) fs.writeSync(1, block);
      fs.writeFileSync(process.argv[1], '');
      const t = setInterval(() => {
        if (!fs.existsSync(process.argv[2])) return;
        clearInterval(t);
        fs.writeSync(1, 'after the restart\\n' + ${JSON.stringify(JSON.stringify(FLOOD_RESULT))} + '\\n');
      }, 25);`;
    const file = await writeHarness(dir, { name: 'flood-adopt', retry: { attempts: 2 }, team: [{ name: 'flood', prompt: 'flood', agent: { kind: 'command', argv: [process.execPath, '-e', script, flooded, gate] } }] });
    // A TTL that outlasts the restart, so the job does not move.
    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_HEARTBEAT_TTL_MS: '6000', REINS_OUTPUT_MAX_BYTES: String(MIB) } }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const attemptDir = path.join(fleet.dataDir, 'runs', runId, 'flood', 'e1');
      const cutAt = await waitFor(
        () => existsSync(flooded) && statSync(path.join(attemptDir, 'stdout.jsonl')).blocks * 512 <= MIB && readFileSync(path.join(attemptDir, 'stdout.start'), 'utf8'),
        'the flood cut to its cap',
      );
      await fleet.workers[0]!.kill9();
      // With a larger cap now, the file is under it: only stdout.start tells the new worker where the hole ends.
      const restarted = await fleet.startWorker('w1', { REINS_OUTPUT_MAX_BYTES: String(64 * MIB) });
      expect(restarted.log()).toContain('adopting leftover session');
      openGate(gate);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');
      expect(view.members[0]!.attempts).toBe(1);
      const texts = (await store.readEvents(runId, 'flood', '-', 100_000)).map((e) => e.text);
      const after = texts.indexOf('after the restart');
      expect(texts.slice(after, after + 2)).toEqual(['after the restart', 'success in 1 turn: flood done']);
      // Read from 0, the hole would have come back as one long line of zeros, cut and flagged.
      expect(texts.filter((t) => t.includes('\0') || t.includes('was cut'))).toEqual([]);
      expect(Number(cutAt)).toBeGreaterThan(18_000_000);
    });
  });

  it("a job's log keeps its newest lines", async () => {
    const keys = createKeys(`t-joblog-${process.pid}`);
    const queue = openQueue(QUEUES.agent, redis.client, keys);
    try {
      const added = await queue.add('agent.run', {});
      // As a worker gets it: its options read back from Redis.
      const job = (await queue.getJob(added.id!))!;
      expect(job.opts.keepLogs).toBe(KEEP_JOB_LOG_LINES);
      for (let i = 0; i < KEEP_JOB_LOG_LINES + 10; i += 1) await job.log(`line ${i}`);
      const { logs, count } = await queue.getJobLogs(job.id!, -1, -1);
      expect(count).toBe(KEEP_JOB_LOG_LINES);
      expect(logs).toEqual([`line ${KEEP_JOB_LOG_LINES + 9}`]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
