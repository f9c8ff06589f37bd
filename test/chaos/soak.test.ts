import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, sampleSessions, storeOf, waitForRunEnd } from '../helpers/chaos.js';

const redis = useRedis();

const RUNS = 5;
const MEMBERS_PER_RUN = 8;
const CHAOS_MS = 12_000;

describe('soak', () => {
  it(`${RUNS * MEMBERS_PER_RUN} members over 3 workers, with a random worker killed -9 every ~2 s: all succeed, none completes twice`, async () => {
    // A fast fake agent: 0.3–1 s of work, then success.
    const agent = { kind: 'command', argv: [process.execPath, '-e', 'setTimeout(() => process.exit(0), 300 + Math.floor(Math.random() * 700))'] };
    const files: string[] = [];
    for (let r = 0; r < RUNS; r += 1) {
      const team = Array.from({ length: MEMBERS_PER_RUN }, (_, m) => ({ name: `m${m}`, prompt: `member ${m}`, ...(m >= 4 ? { depends_on: [`m${m - 4}`] } : {}) }));
      files.push(await writeHarness(tempDir(`soak-${r}`), { name: `soak-${r}`, agent, retry: { attempts: 20 }, team }));
    }
    await withFleet({ redisUrl: redis.url, workers: 3, concurrency: 4, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runIds: string[] = [];
      for (const file of files) runIds.push((await fleet.reins(['submit', file])).stdout.trim());
      const sampler = sampleSessions(fleet, 100);

      let kills = 0;
      const chaosUntil = Date.now() + CHAOS_MS;
      while (Date.now() < chaosUntil) {
        await sleep(1_500 + Math.floor(Math.random() * 1_000));
        const alive = fleet.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
        const victim = alive[Math.floor(Math.random() * alive.length)];
        if (!victim) continue;
        await victim.kill9();
        kills += 1;
        await sleep(300);
        await fleet.startWorker(victim.id);
      }
      const views = await Promise.all(runIds.map((runId) => waitForRunEnd(store, runId, 120_000)));
      await sampler.stop();

      expect(kills).toBeGreaterThanOrEqual(4);
      expect(views.map((v) => v.status)).toEqual(runIds.map(() => 'succeeded'));
      let stalls = 0;
      for (const runId of runIds) {
        for (let m = 0; m < MEMBERS_PER_RUN; m += 1) {
          const outcomes = (await store.readAttempts(runId, `m${m}`)).map((a) => a.outcome);
          expect(outcomes.filter((o) => o === 'succeeded'), `${runId}/m${m}: ${outcomes.join(',')}`).toHaveLength(1);
          expect(outcomes.at(-1)).toBe('succeeded');
          stalls += outcomes.filter((o) => o === 'stalled').length;
          expect(sampler.maxAlive(runId, `m${m}`)).toBeLessThanOrEqual(1);
        }
      }
      // Every completion was recorded by exactly one worker process.
      const completions = fleet.workers
        .map((w) => readFileSync(w.logFile, 'utf8'))
        .filter((text, i, all) => all.indexOf(text) === i)
        .join('\n')
        .split('\n')
        .filter((line) => line.includes('"msg":"agent succeeded"')).length;
      expect(completions).toBe(RUNS * MEMBERS_PER_RUN);
      console.log(`soak: ${kills} kills, ${stalls} stalled attempts, ${RUNS * MEMBERS_PER_RUN} members succeeded once each`);
    });
  }, 180_000);
});
