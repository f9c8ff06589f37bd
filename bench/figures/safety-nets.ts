// The safety nets of issue 3, measured on real processes (redis-server, tmux, the Claude Code CLI
// against the test Messages API server): a dead worker, a hung API call, a crash mid-run.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { startRedis, type TestRedis } from '../../test/helpers/redis.js';
import { writeHarness, type Fleet } from '../../test/helpers/fleet.js';
import { startMessagesApi, type Handler, type MessagesApi } from '../../test/helpers/messages-api.js';
import { tempDir } from '../../test/helpers/test-root.js';
import { storeOf, waitFor, waitForRunEnd } from '../../test/helpers/chaos.js';
import type { Figure } from '../lib/figure.js';
import { SHORT_TIMINGS, describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { startBenchFleet } from '../lib/reins.js';
import { withScope, type Scope } from '../lib/scope.js';

const { ttlMs: TTL_MS, tickMs: TICK_MS } = SHORT_TIMINGS;
/** Issue 3's figures were stated for a 100 ms backoff without jitter and a checkpoint every second. */
const SAFETY_ENV = fleetTimings(SHORT_TIMINGS, { REINS_BACKOFF_BASE_MS: '100', REINS_BACKOFF_JITTER: '0', REINS_CHECKPOINT_INTERVAL_MS: '1000' });
const CONDITIONS = describeTimings(SHORT_TIMINGS);

async function ownRedis(scope: Scope): Promise<TestRedis> {
  const redis = await startRedis();
  scope.defer('stop redis', () => redis.stop());
  return redis;
}

/** A Messages API whose behaviour the figure sets per repeat. */
async function ownApi(scope: Scope): Promise<{ api: MessagesApi; setHandler: (h: Handler) => void }> {
  let handler: Handler = () => ({ text: 'ok' });
  const api = await startMessagesApi({ handler: (req) => handler(req) });
  scope.defer('close the Messages API', () => api.close());
  return { api, setHandler: (h) => (handler = h) };
}

const claudeEnv = (api: MessagesApi) => ({ ...SAFETY_ENV, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_MAX_RETRIES: '0' });

/** kill -9 of the worker running an agent → the same member's agent running on another worker. */
export async function deadWorker(options: BenchOptions): Promise<Figure[]> {
  const samples: number[] = [];
  for (let i = 0; i < options.repeats; i += 1) {
    await withScope(async (scope) => {
      const redis = await ownRedis(scope);
      const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 2, env: SAFETY_ENV });
      const store = storeOf(redis.client, fleet);
      const file = await writeHarness(tempDir('bench-kill'), { name: 'bench-kill', agent: { kind: 'command', argv: ['sleep', '60'] }, retry: { attempts: 5 }, team: [{ name: 'solo', prompt: 'sleep' }] });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const first = await waitFor(async () => {
        const m = await store.getMember(runId, 'solo');
        return m?.status === 'running' && (await fleet.tmuxSessions()).length === 1 ? m : undefined;
      }, 'the first agent');
      const victim = fleet.workers.find((w) => w.id === first.workerId)!;
      const survivor = fleet.workers.find((w) => w !== victim)!;
      const killedAt = Date.now();
      await victim.kill9();
      // Running elsewhere: the survivor's socket has a session for the member.
      await waitFor(
        async () => {
          const r = await execa('tmux', ['-S', path.join(fleet.dataDir, 'tmux', `${survivor.id}.sock`), 'list-sessions', '-F', '#{session_name}'], { reject: false });
          return r.exitCode === 0 && String(r.stdout).includes(`reins-${runId}-solo-`);
        },
        'the agent on the other worker',
        30_000,
        10,
      );
      samples.push(Date.now() - killedAt);
      await fleet.reins(['cancel', runId]);
    });
  }
  return [
    {
      name: 'dead-worker',
      title: 'kill -9 of a worker → its agent running on another worker',
      unit: 'ms',
      samples,
      baseline: { label: `TTL + tick = ${TTL_MS + TICK_MS} ms; BullMQ defaults ≈ 90 000 ms` },
      conditions: CONDITIONS,
      note: "includes the stalled attempt's backoff (100 ms)",
    },
  ];
}

/** An API call that never answers → the idle watchdog kills the agent. */
export async function hungAgent(options: BenchOptions): Promise<Figure[]> {
  const samples: number[] = [];
  const idleMs = 2_000;
  for (let i = 0; i < options.repeats; i += 1) {
    await withScope(async (scope) => {
      const redis = await ownRedis(scope);
      const { api, setHandler } = await ownApi(scope);
      setHandler(() => ({ hang: true }));
      const fleet = await startBenchFleet(scope, { redisUrl: redis.url, env: claudeEnv(api) });
      const store = storeOf(redis.client, fleet);
      const file = await writeHarness(tempDir('bench-hang'), { name: 'bench-hang', limits: { idleTimeoutMs: idleMs }, retry: { attempts: 1 }, team: [{ name: 'solo', prompt: 'hang' }] });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitForRunEnd(store, runId);
      const hungAt = api.requests[0]!.time;
      const [attempt] = await store.readAttempts(runId, 'solo');
      samples.push(attempt!.endedAt - hungAt);
    });
  }
  return [
    {
      name: 'hung-agent',
      title: `API hang → agent killed (idle timeout ${idleMs} ms)`,
      unit: 'ms',
      samples,
      baseline: { label: `idle ${idleMs} + tick ${TICK_MS} = ${idleMs + TICK_MS} ms; Claude Code alone waits ≥ 300 000 ms` },
      conditions: CONDITIONS,
    },
  ];
}

/** A session killed mid-run → turns the model had to answer again after the resume. */
export async function crashResume(options: BenchOptions): Promise<Figure[]> {
  const samples: number[] = [];
  const TURNS = 6;
  const CRASH_AT_TURN = 3;
  for (let i = 0; i < options.repeats; i += 1) {
    await withScope(async (scope) => {
      const redis = await ownRedis(scope);
      const { api, setHandler } = await ownApi(scope);
      let killAfterTurn = CRASH_AT_TURN;
      let heldAt = 0;
      let fleet: Fleet | undefined;
      setHandler(async (req) => {
        if (req.turn === killAfterTurn && fleet) {
          killAfterTurn = -1;
          heldAt = req.time;
          const [session] = await fleet.tmuxSessions();
          await sleep(1_200); // let a checkpoint land, as one would during real work
          await execa('tmux', ['-S', path.join(fleet.dataDir, 'tmux', 'w1.sock'), 'kill-session', '-t', `=${session}`], { reject: false });
          return { hang: true };
        }
        return req.turn < TURNS ? { toolUse: [{ name: 'Bash', input: { command: `echo turn ${req.turn}`, description: `turn ${req.turn}` } }] } : { text: 'all turns done' };
      });
      fleet = await startBenchFleet(scope, { redisUrl: redis.url, env: claudeEnv(api) });
      const store = storeOf(redis.client, fleet);
      const file = await writeHarness(tempDir('bench-crash'), { name: 'bench-crash', retry: { attempts: 3 }, team: [{ name: 'solo', prompt: 'work in turns' }] });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      if (view.status !== 'succeeded') throw new Error(`bench-crash run ${runId} ${view.status}: ${view.members[0]?.error ?? ''}`);
      // Turns before the crash point that the model had to answer again after the resume.
      samples.push(api.requests.filter((r) => r.conversationKey === view.members[0]!.sessionId && r.time > heldAt && r.turn < CRASH_AT_TURN).length);
    });
  }
  return [
    {
      name: 'crash-resume',
      title: 'turns redone after a crash and resume',
      unit: 'turns',
      samples,
      baseline: { label: `without a cursor: every turn before the crash (${CRASH_AT_TURN})` },
      conditions: CONDITIONS,
      note: 'checkpoint interval 1000 ms',
    },
  ];
}
