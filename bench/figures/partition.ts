// A host cut off from Redis mid-run (network namespaces, as test/multihost/partition.test.ts builds them):
// how soon its agent is fenced, and how soon the member runs on the other host. These are the figures
// the partition test prints; the test itself asserts only their order (fenced before the heartbeat
// expired, stopped before the new attempt started).
import path from 'node:path';
import { createKeys } from '@reins/shared';
import { writeHarness, type RoleHandle } from '../../test/helpers/fleet.js';
import { tempDir } from '../../test/helpers/test-root.js';
import { storeOf, waitFor } from '../../test/helpers/chaos.js';
import { agentIntervals, blockingAgent } from '../../test/helpers/gate.js';
import { createTestNetwork, killTmuxServer, probeNetns, startRedisOn, startWorkerOn, tmuxSessionsOn, tmuxSocketOf, type TestHost } from '../../test/helpers/netns.js';
import type { Figure } from '../lib/figure.js';
import { SHORT_TIMINGS, describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { startBenchFleet } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

const { ttlMs: TTL_MS, tickMs: TICK_MS } = SHORT_TIMINGS;
const PARTITION_ENV = fleetTimings(SHORT_TIMINGS, { REINS_BACKOFF_BASE_MS: '100', REINS_BACKOFF_JITTER: '0' });

export async function partition(options: BenchOptions): Promise<Figure[]> {
  const support = probeNetns();
  if (!support.ok) throw new Error(`cannot build test hosts: ${support.reason}`);
  const fenced: number[] = [];
  const moved: number[] = [];
  const beforeExpiry: number[] = [];
  for (let i = 0; i < options.repeats; i += 1) {
    await withScope(async (scope) => {
      const network = await createTestNetwork(2);
      scope.defer('destroy the test hosts', () => network.destroy());
      const redis = await startRedisOn(network.serviceAddress);
      scope.defer('stop redis', () => redis.stop());
      const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 0, concurrency: 1, env: PARTITION_ENV });
      const keys = createKeys(fleet.prefix);
      const store = storeOf(redis.client, fleet);
      const workers: { host: TestHost; id: string; dataDir: string; socket: string; handle: RoleHandle }[] = [];
      // Deferred before they start, so it runs before the fleet and network are gone, whatever started.
      scope.defer('stop the host workers', async () => {
        for (const host of network.hosts) if (!host.linked) await host.restore();
        await Promise.all(workers.map((w) => w.handle.stop(5_000)));
        for (const w of workers) await killTmuxServer(w.socket);
      });
      for (const host of network.hosts) {
        const id = `w-h${host.index}`;
        const dataDir = tempDir(`bench-host-h${host.index}`);
        const handle = await startWorkerOn(host, { id, dataDir, env: fleet.env, logDir: path.join(fleet.dataDir, 'logs') });
        workers.push({ host, id, dataDir, socket: tmuxSocketOf(dataDir, id), handle });
      }
      const file = await writeHarness(tempDir('bench-partition'), { name: 'bench-partition', agent: blockingAgent, retry: { attempts: 5 }, team: [{ name: 'solo', prompt: 'run' }] });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const first = await waitFor(async () => {
        const m = await store.getMember(runId, 'solo');
        return m?.status === 'running' && m.tmuxSession ? m : undefined;
      }, 'the member to start');
      const victim = workers.find((w) => w.id === first.workerId)!;
      const survivor = workers.find((w) => w !== victim)!;
      await waitFor(async () => (await tmuxSessionsOn(victim.socket)).includes(first.tmuxSession!), 'the agent session on its host');
      const cutAt = Date.now();
      await victim.host.cut();
      const heartbeatExpiresAt = Date.now() + (await redis.client.pttl(keys.heartbeat(first.jobId)));
      const second = await waitFor(
        async () => {
          const m = await store.getMember(runId, 'solo');
          return m?.workerId === survivor.id && m.status === 'running' && m.startedAt ? m : undefined;
        },
        'the member to run on the other host',
        60_000,
        10,
      );
      const [old] = agentIntervals(victim.dataDir, runId, 'solo');
      if (old?.stopMs === undefined) throw new Error('the cut-off agent has no recorded stop');
      fenced.push(old.stopMs - cutAt);
      beforeExpiry.push(heartbeatExpiresAt - old.stopMs);
      moved.push(second.startedAt! - cutAt);
      await victim.host.restore();
      await fleet.reins(['cancel', runId]);
    });
  }
  const conditions = describeTimings(SHORT_TIMINGS);
  return [
    {
      name: 'partition-fence',
      title: "host cut off from Redis → its agent stopped (the launcher's record)",
      unit: 'ms',
      samples: fenced,
      baseline: { label: `must be under the heartbeat TTL (${TTL_MS} ms) from the last contact` },
      conditions,
      note: 'measured from the cut, after the last Redis contact; the agent stops on SIGTERM',
      extra: { msBeforeHeartbeatExpiry: beforeExpiry },
    },
    {
      name: 'partition-moved',
      title: 'host cut off from Redis → the member running on the other host',
      unit: 'ms',
      samples: moved,
      baseline: { label: `TTL + tick = ${TTL_MS + TICK_MS} ms` },
      conditions,
      note: "includes the stalled attempt's backoff (100 ms)",
    },
  ];
}
