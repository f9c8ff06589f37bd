import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createKeys, isFinalRunStatus } from '@reins/shared';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness, type RoleHandle } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { agentIntervals, overlappingAgents } from '../helpers/gate.js';
import { tmuxSessionsOn, tmuxSocketOf } from '../helpers/netns.js';

const redis = useRedis();

const RUNS = 5;
const MEMBERS_PER_RUN = 8;
/** Kills planned; the chaos stops earlier when every run has ended. How many happened is reported. */
const KILLS = 6;
const CONCURRENCY = 4;

describe('soak', () => {
  it(`${RUNS * MEMBERS_PER_RUN} members over 3 workers, workers killed -9 while they run agents: all succeed, each member completes exactly once, never two agents at once`, async () => {
    // The workload: 0.3–1 s of work, then success. Its length is the load, not something the test waits out.
    const agent = { kind: 'command', argv: [process.execPath, '-e', 'setTimeout(() => process.exit(0), 300 + Math.floor(Math.random() * 700))'] };
    const files: string[] = [];
    for (let r = 0; r < RUNS; r += 1) {
      const team = Array.from({ length: MEMBERS_PER_RUN }, (_, m) => ({ name: `m${m}`, prompt: `member ${m}`, ...(m >= 4 ? { depends_on: [`m${m - 4}`] } : {}) }));
      files.push(await writeHarness(tempDir(`soak-${r}`), { name: `soak-${r}`, agent, retry: { attempts: 20 }, team }));
    }
    await withFleet({ redisUrl: redis.url, workers: 3, concurrency: CONCURRENCY, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const keys = createKeys(fleet.prefix);
      const runIds: string[] = [];
      for (const file of files) runIds.push((await fleet.reins(['submit', file])).stdout.trim());
      const allEnded = async () => (await Promise.all(runIds.map(async (id) => isFinalRunStatus((await store.view(id)).status)))).every(Boolean);
      const alive = (w: RoleHandle) => w.child.exitCode === null && w.child.signalCode === null;
      const successes = () =>
        fleet.workers
          .map((w) => w.log())
          .join('\n')
          .split('"msg":"agent succeeded"').length - 1;

      // Each kill hits a worker while it runs an agent, and waits for some agent to have succeeded since the
      // last one, so the chaos never starves the fleet. Odd kills restart the worker only once the fleet has
      // dropped it (its jobs stall and move); even kills restart it at once (it adopts its sessions).
      let kills = 0;
      let successesAtLastKill = -1;
      while (kills < KILLS && !(await allEnded())) {
        const victim = await waitFor(
          async () => {
            if (await allEnded()) return 'ended' as const;
            if (successes() <= successesAtLastKill) return undefined;
            for (const w of fleet.workers.filter(alive)) if ((await tmuxSessionsOn(tmuxSocketOf(fleet.dataDir, w.id))).length > 0) return w;
            return undefined;
          },
          'a worker running an agent, after progress since the last kill',
          120_000,
        );
        if (victim === 'ended') break;
        successesAtLastKill = successes();
        await victim.kill9();
        kills += 1;
        if (kills % 2 === 1) await waitFor(async () => (await redis.client.exists(keys.worker(victim.id))) === 0, `the fleet to drop ${victim.id}`, 60_000);
        await fleet.startWorker(victim.id);
      }
      const views = await Promise.all(runIds.map((runId) => waitForRunEnd(store, runId, 180_000)));

      expect(kills, 'a soak that killed nothing proves nothing').toBeGreaterThan(0);
      expect(views.map((v) => v.status)).toEqual(runIds.map(() => 'succeeded'));
      let stalls = 0;
      let adopted = 0;
      for (const runId of runIds) {
        for (let m = 0; m < MEMBERS_PER_RUN; m += 1) {
          const outcomes = (await store.readAttempts(runId, `m${m}`)).map((a) => a.outcome);
          expect(
            outcomes.filter((o) => o === 'succeeded'),
            `${runId}/m${m}: ${outcomes.join(',')}`,
          ).toHaveLength(1);
          expect(outcomes.at(-1)).toBe('succeeded');
          stalls += outcomes.filter((o) => o === 'stalled').length;
          // From the launchers' records of every agent this member ran: none overlapped another.
          const intervals = agentIntervals(fleet.dataDir, runId, `m${m}`);
          expect(intervals.length, `${runId}/m${m}`).toBeGreaterThanOrEqual(1);
          expect(overlappingAgents(intervals), `${runId}/m${m}`).toEqual([]);
        }
      }
      // No completion was recorded by two worker processes (a restarted worker appends to its predecessor's
      // log file, so each file is read once). A worker killed -9 just after writing a success to Redis may
      // not have flushed its log line (pino writes asynchronously): a line may be missing, never doubled.
      const logLines = [...new Set(fleet.workers.map((w) => w.logFile))]
        .map((file) => readFileSync(file, 'utf8'))
        .join('\n')
        .split('\n');
      const completedBy = new Map<string, number>();
      for (const line of logLines.filter((l) => l.includes('"msg":"agent succeeded"'))) {
        const { runId, member } = JSON.parse(line) as { runId: string; member: string };
        completedBy.set(`${runId}/${member}`, (completedBy.get(`${runId}/${member}`) ?? 0) + 1);
      }
      expect([...completedBy].filter(([, n]) => n > 1)).toEqual([]);
      // A kill loses at most what its worker's agents had just concluded.
      expect(completedBy.size, 'completions logged').toBeGreaterThanOrEqual(RUNS * MEMBERS_PER_RUN - kills * CONCURRENCY);
      const unlogged = RUNS * MEMBERS_PER_RUN - completedBy.size;
      adopted = logLines.join('\n').split('adopting leftover session').length - 1;
      console.log(`soak: ${kills} kills, ${stalls} stalled attempts, ${adopted} sessions adopted, ${RUNS * MEMBERS_PER_RUN} members succeeded once each (${unlogged} success lines lost to a kill)`);
    });
  }, 300_000);
});
