import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { RunStore, checkRedisTarget, createKeys, createRedis } from '@reins/shared';
import { waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { reinsBin, withFleet, writeHarness } from '../helpers/fleet.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';
import { agentIntervals, gatedNodeAgent, openGate, overlappingAgents } from '../helpers/gate.js';

let set: SentinelSet;
beforeAll(async () => {
  set = await startSentinelSet();
});
afterAll(async () => {
  await set?.stop();
});

describe('Redis Sentinel', () => {
  it('a master SIGKILLed while agents run: the sentinels promote the replica, the fleet follows, and the run succeeds once per member', async () => {
    const dir = tempDir('sentinel-run');
    const gate = path.join(dir, 'gate');
    // Two agents that block until the test opens the gate (after the failover), and one that depends on both.
    const waitForGate = gatedNodeAgent(gate);
    const file = await writeHarness(dir, {
      name: 'failover',
      agent: waitForGate,
      team: [
        { name: 'a', prompt: 'wait' },
        { name: 'b', prompt: 'wait' },
        { name: 'c', prompt: 'after both', depends_on: ['a', 'b'] },
      ],
    });
    // The lease (TTL 10 s) outlasts the failover (sentinels decide after 1 s): heartbeats ride it out.
    const env = { REINS_HEARTBEAT_TTL_MS: '10000', REINS_MONITOR_INTERVAL_MS: '250' };
    const redis = createRedis(set.url, 'blocking');
    redis.on('error', () => undefined);
    try {
      await withFleet({ redisUrl: set.url, workers: 2, env }, async (fleet) => {
        const store = new RunStore(redis, createKeys(fleet.prefix));
        const submitted = await fleet.reins(['submit', file]);
        expect(submitted.exitCode, submitted.stderr).toBe(0);
        const runId = submitted.stdout.trim();
        await waitFor(async () => (await store.getMembers(await store.requireRun(runId))).filter((m) => m.status === 'running').length === 2, 'a and b running');

        const oldMaster = await set.killMaster();
        const newMaster = await set.waitForFailover(oldMaster);
        expect(newMaster).not.toBe(oldMaster);
        openGate(gate);

        const view = await waitForRunEnd(store, runId, 90_000);
        expect(view.status).toBe('succeeded');
        for (const name of ['a', 'b', 'c']) {
          const attempts = await store.readAttempts(runId, name);
          expect(
            attempts.filter((a) => a.outcome === 'succeeded'),
            `${name}: ${JSON.stringify(attempts)}`,
          ).toHaveLength(1);
          // From the launchers' own records: no two agents ever ran at once for one member.
          expect(overlappingAgents(agentIntervals(fleet.dataDir, runId, name)), name).toEqual([]);
        }
      });
    } finally {
      redis.disconnect();
    }
  }, 180_000);

  it('a sentinel URL whose master name is unknown fails at start with the names the sentinels know', async () => {
    const url = set.url.replace(/\/[^/]+$/, '/no-such-master');
    await expect(checkRedisTarget(url)).rejects.toThrow(`monitor no master named "no-such-master"; they know "${set.masterName}"`);
    await expect(checkRedisTarget(set.url)).resolves.toBeUndefined();
    // reins doctor reports the topology: the master the sentinels name, its replicas and the sentinels seen.
    const doctor = await execa(process.execPath, [reinsBin, 'doctor', '--json'], { env: { ...scratchEnv(), REINS_REDIS_URL: set.url }, extendEnv: false, reject: false });
    const redisCheck = (JSON.parse(doctor.stdout) as { checks: { name: string; detail: string }[] }).checks.find((c) => c.name === 'redis');
    // The flags are the sentinel's own ("master", "master,disconnected" while its link reconnects).
    expect(redisCheck?.detail).toMatch(new RegExp(`sentinel: master ${set.masterName} at 127\\.0\\.0\\.1:\\d+ \\(master[a-z_,-]*\\), \\d replica\\(s\\), 3 sentinel\\(s\\) seen, quorum 2`));
    // The CLI says the same, exit 1 (Redis is there, but not as named).
    const result = await execa(process.execPath, [reinsBin, 'status', 'r-nosuchrun1'], { env: { ...scratchEnv(), REINS_REDIS_URL: url }, extendEnv: false, reject: false });
    expect(result.stderr).toContain('monitor no master named "no-such-master"');
    expect(result.exitCode).not.toBe(0);
  });
});
