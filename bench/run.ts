// npm run bench: the figures of the safety nets, measured on real processes (redis-server, tmux, the
// Claude Code CLI against the test Messages API server). Prints a table and writes bench/results/*.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Redis } from 'ioredis';
import { rmSync } from 'node:fs';
import { startRedis } from '../test/helpers/redis.js';
import { startFleet, writeHarness, repoRoot, type Fleet } from '../test/helpers/fleet.js';
import { startMessagesApi, type Handler } from '../test/helpers/messages-api.js';
import { tempDir, testRoot } from '../test/helpers/test-root.js';
import { storeOf, waitFor, waitForRunEnd } from '../test/helpers/chaos.js';

const TTL_MS = 2_000;
const TICK_MS = 500;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

/** The timings the figures are stated for. */
const BENCH_ENV: Record<string, string> = {
  REINS_HEARTBEAT_TTL_MS: String(TTL_MS),
  REINS_MONITOR_INTERVAL_MS: String(TICK_MS),
  REINS_RECONCILE_INTERVAL_MS: String(TICK_MS),
  REINS_BACKOFF_BASE_MS: '100',
  REINS_BACKOFF_JITTER: '0',
  REINS_CHECKPOINT_INTERVAL_MS: '1000',
  REINS_LOG_LEVEL: 'info',
};

interface Figure {
  name: string;
  unit: string;
  samples: number[];
  baseline?: string;
  note?: string;
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
};

/** kill -9 of the worker running an agent → the same member's agent running on another worker. */
async function deadWorkerToRunningElsewhere(redisUrl: string, client: Redis): Promise<Figure> {
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i += 1) {
    const fleet = await startFleet({ redisUrl, workers: 2, env: BENCH_ENV });
    try {
      const store = storeOf(client, fleet);
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
      await waitFor(async () => {
        const r = await execa('tmux', ['-S', path.join(fleet.dataDir, 'tmux', `${survivor.id}.sock`), 'list-sessions', '-F', '#{session_name}'], { reject: false });
        return r.exitCode === 0 && String(r.stdout).includes(`reins-${runId}-solo-`);
      }, 'the agent on the other worker', 30_000, 10);
      samples.push(Date.now() - killedAt);
      await fleet.reins(['cancel', runId]);
    } finally {
      await fleet.stop().catch(() => undefined);
    }
  }
  return { name: 'kill -9 of a worker → its agent running elsewhere', unit: 'ms', samples, baseline: `TTL ${TTL_MS} + tick ${TICK_MS} = ${TTL_MS + TICK_MS} ms; BullMQ defaults ≈ 90 000 ms`, note: 'includes the stalled attempt\'s backoff (100 ms)' };
}

/** An API call that never answers → the idle watchdog kills the agent. */
async function hangToKill(redisUrl: string, client: Redis, api: { url: string; requests: { time: number }[] }, setHandler: (h: Handler) => void): Promise<Figure> {
  const samples: number[] = [];
  const idleMs = 2_000;
  for (let i = 0; i < REPEATS; i += 1) {
    setHandler(() => ({ hang: true }));
    const fleet = await startFleet({ redisUrl, env: { ...BENCH_ENV, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_MAX_RETRIES: '0' } });
    try {
      const store = storeOf(client, fleet);
      const file = await writeHarness(tempDir('bench-hang'), { name: 'bench-hang', limits: { idleTimeoutMs: idleMs }, retry: { attempts: 1 }, team: [{ name: 'solo', prompt: 'hang' }] });
      const before = api.requests.length;
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitForRunEnd(store, runId);
      const hungAt = api.requests[before]!.time;
      const [attempt] = await store.readAttempts(runId, 'solo');
      samples.push(attempt!.endedAt - hungAt);
    } finally {
      await fleet.stop().catch(() => undefined);
    }
  }
  return { name: 'API hang → agent killed (idle timeout 2000 ms)', unit: 'ms', samples, baseline: `idle 2000 + tick ${TICK_MS} = 2500 ms; Claude Code alone waits ≥ 300 000 ms` };
}

/** A session killed mid-run → turns the model had to answer again after the resume. */
async function workLostOnCrash(redisUrl: string, client: Redis, api: { url: string; requests: { turn: number; conversationKey: string; time: number }[] }, setHandler: (h: Handler) => void): Promise<Figure> {
  const samples: number[] = [];
  const TURNS = 6;
  for (let i = 0; i < REPEATS; i += 1) {
    let killAfterTurn = 3;
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
    fleet = await startFleet({ redisUrl, env: { ...BENCH_ENV, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_MAX_RETRIES: '0' } });
    try {
      const store = storeOf(client, fleet);
      const file = await writeHarness(tempDir('bench-crash'), { name: 'bench-crash', retry: { attempts: 3 }, team: [{ name: 'solo', prompt: 'work in turns' }] });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      if (view.status !== 'succeeded') throw new Error(`bench-crash run ${runId} ${view.status}`);
      // Turns before the crash point that the model had to answer again after the resume.
      samples.push(api.requests.filter((r) => r.conversationKey === view.members[0]!.sessionId && r.time > heldAt && r.turn < 3).length);
    } finally {
      await fleet.stop().catch(() => undefined);
    }
  }
  return { name: 'turns redone after a crash and resume', unit: 'turns', samples, baseline: 'without a cursor: every turn before the crash (3)', note: 'checkpoint interval 1000 ms' };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  let handler: Handler = () => ({ text: 'ok' });
  const api = await startMessagesApi({ handler: (req) => handler(req) });
  const setHandler = (h: Handler) => (handler = h);
  const figures: Figure[] = [];
  try {
    figures.push(await deadWorkerToRunningElsewhere(redis.url, redis.client));
    figures.push(await hangToKill(redis.url, redis.client, api, setHandler));
    figures.push(await workLostOnCrash(redis.url, redis.client, api, setHandler));
  } finally {
    await api.close();
    await redis.stop();
  }
  const rows = figures.map((f) => ({ figure: f.name, p50: quantile(f.samples, 0.5), p99: quantile(f.samples, 0.99), max: Math.max(...f.samples), unit: f.unit, n: f.samples.length, baseline: f.baseline ?? '', note: f.note ?? '' }));
  console.log(`\nreins safety-net figures (TTL ${TTL_MS} ms, tick ${TICK_MS} ms, ${REPEATS} runs each)\n`);
  console.log('| figure | p50 | p99 | max | unit | baseline |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.figure} | ${r.p50} | ${r.p99} | ${r.max} | ${r.unit} | ${r.baseline}${r.note ? ` (${r.note})` : ''} |`);
  const out = path.join(repoRoot, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `safety-nets-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ ttlMs: TTL_MS, tickMs: TICK_MS, figures }, null, 2));
  console.log(`\nwritten: ${file}`);
  rmSync(testRoot(), { recursive: true, force: true });
  process.exit(0);
}

await main();
