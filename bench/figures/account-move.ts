// A subscription account's window is rejected mid-member: how soon the member's agent runs under another
// account, at the default tick (5 s), idle fleet, with the real Claude Code CLI against the test Messages API:
// - the 429 with `rejected` sent for account A → B's agent process started (the launcher's start stamp);
// - the same → B's first request reaching the API, beside the CLI's own start (spawn → first request) in the
//   same run, which is the part the goal ("≤ 1 s plus the CLI's start") leaves out.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { writeHarness } from '../../test/helpers/fleet.js';
import { agentIntervals } from '../../test/helpers/gate.js';
import { credentialOf, startMessagesApi, unifiedLimitHeaders } from '../../test/helpers/messages-api.js';
import { startRedis } from '../../test/helpers/redis.js';
import { scratchEnv, tempDir } from '../../test/helpers/test-root.js';
import { resolveClaudeBin } from '../../libs/shared/src/config/claude-bin.js';
import type { Figure } from '../lib/figure.js';
import { describeTimings, fleetTimings, type BenchOptions } from '../lib/options.js';
import { startBenchFleet, storeFor, waitForSucceeded } from '../lib/reins.js';
import { withScope } from '../lib/scope.js';

const TIMINGS = { tickMs: 5_000, ttlMs: 30_000 } as const;
const WARM_UPS = 1;

export async function accountMove(options: BenchOptions): Promise<Figure[]> {
  return withScope(async (scope) => {
    const redis = await startRedis();
    scope.defer('stop redis', () => redis.stop());
    // A answers with a rejected window; B answers. The time of A's refusal and of B's first request, per run.
    const refusedAt = new Map<string, number>();
    const askedB = new Map<string, number>();
    const runOf = (text: string) => /run (\d+)/.exec(text)?.[1] ?? '?';
    const api = await startMessagesApi({
      handler: (req) => {
        const run = runOf(req.promptText + req.firstUserText);
        if (credentialOf(req) === 'tok-a') {
          refusedAt.set(run, Date.now());
          return { error: { status: 429, message: 'rate limited', headers: unifiedLimitHeaders({ status: 'rejected', utilization: 1, resetsAt: Date.now() + 3_600_000 }) } };
        }
        if (!askedB.has(run)) askedB.set(run, req.time);
        return { text: 'done under B', headers: unifiedLimitHeaders({ status: 'allowed', utilization: 0.1, resetsAt: Date.now() + 3_600_000 }) };
      },
    });
    scope.defer('stop the messages api', () => api.close());
    const dir = tempDir('bench-account-move');
    const accounts = path.join(dir, 'accounts.yaml');
    writeFileSync(accounts, 'accounts:\n  - {name: A, env: {CLAUDE_CODE_OAUTH_TOKEN: tok-a}}\n  - {name: B, env: {CLAUDE_CODE_OAUTH_TOKEN: tok-b}}\n');
    const env = { ...fleetTimings(TIMINGS), ANTHROPIC_BASE_URL: api.url, CLAUDE_CODE_MAX_RETRIES: '0', REINS_ACCOUNTS_FILE: accounts };
    const fleet = await startBenchFleet(scope, { redisUrl: redis.url, workers: 1, concurrency: 2, env });
    const store = storeFor(redis.client, fleet);
    const running: number[] = [];
    const asked: number[] = [];
    for (let i = 0; i < WARM_UPS + options.repeats; i += 1) {
      // A takes every first agent: B reports more use (until A is paused, which each run's A refusal does).
      await redis.client.del(`{${fleet.prefix}}:account:A`);
      await redis.client.hset(`{${fleet.prefix}}:account:B`, 'w:five_hour', JSON.stringify({ status: 'allowed', utilization: 0.5, at: Date.now() }));
      const file = await writeHarness(dir, { name: 'bench-account-move', retry: { attempts: 1 }, team: [{ name: 'solo', prompt: `Do run ${i}.`, accounts: ['A', 'B'] }] }, `move-${i}.yaml`);
      const submitted = await fleet.reins(['submit', file]);
      if (submitted.exitCode !== 0) throw new Error(`reins submit exited ${submitted.exitCode}: ${submitted.stderr}`);
      const runId = submitted.stdout.trim();
      await waitForSucceeded(store, [runId], 60_000);
      const accountsUsed = (await store.readAttempts(runId, 'solo')).map((a) => a.account);
      if (accountsUsed.join(',') !== 'A,B') throw new Error(`${runId} ran under ${accountsUsed.join(',')}, not A then B`);
      const onB = agentIntervals(fleet.dataDir, runId, 'solo').sort((a, b) => a.startMs - b.startMs)[1];
      const refused = refusedAt.get(String(i));
      const firstB = askedB.get(String(i));
      if (!onB || refused === undefined || firstB === undefined) throw new Error(`${runId}: no start stamp under B or no request seen`);
      if (i < WARM_UPS) continue;
      running.push(onB.startMs - refused);
      asked.push(firstB - refused);
    }

    // Raw: the CLI's own start, spawn → its first request, with the same settings, in the same run.
    const bin = resolveClaudeBin(undefined);
    if (!bin) throw new Error('no claude binary');
    const cliStart: number[] = [];
    for (let i = 0; i < WARM_UPS + options.repeats; i += 1) {
      const home = tempDir('bench-cli-start');
      const spawnedAt = Date.now();
      const before = api.requests.length;
      await execa(bin, ['-p', '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions', '--', `Do run cli-${i}.`], {
        // What a worker gives a claude agent (apps/worker/src/claude/invocation.ts), less reins' own.
        env: {
          ...scratchEnv(home),
          ANTHROPIC_BASE_URL: api.url,
          CLAUDE_CODE_OAUTH_TOKEN: 'tok-b',
          CLAUDE_CODE_MAX_RETRIES: '0',
          CLAUDE_CODE_TMPDIR: home,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_TELEMETRY: '1',
          DISABLE_ERROR_REPORTING: '1',
          DISABLE_AUTOUPDATER: '1',
          IS_SANDBOX: '1',
        },
        extendEnv: false,
        reject: false,
        // A pipe as stdin makes -p wait for input first; in a worker's tmux session stdin is the terminal.
        stdin: 'ignore',
      });
      const first = api.requests[before];
      if (i >= WARM_UPS && first) cliStart.push(first.time - spawnedAt);
    }

    const conditions = `idle fleet (1 scheduler, 1 worker), two subscription accounts, defaults: ${describeTimings(TIMINGS)}; ${WARM_UPS} warm-up not counted`;
    return [
      {
        name: 'account-move',
        title: "a rejected window on account A → the member's agent running under account B",
        unit: 'ms',
        samples: running,
        baseline: { label: "goal: ≤ 1 s plus the CLI's start" },
        conditions,
        note: "from the API's 429 (rejected) to the launcher's start stamp of B's agent: A's CLI ending, the conclusion, the account's pause, the job's return and B's admission and launch",
      },
      {
        name: 'account-move',
        title: "a rejected window on account A → B's agent's first API request",
        unit: 'ms',
        samples: asked,
        baseline: { label: "raw: the CLI's own start, spawn → first request", samples: cliStart },
        conditions,
        note: 'the same move, seen from the API: it includes the CLI starting again (with the whole conversation)',
      },
    ];
  });
}
