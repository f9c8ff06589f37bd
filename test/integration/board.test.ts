import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { QUEUES, RunStore, addJob, createKeys, openQueue } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { repoRoot, waitForLog, withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';
import { gatedNodeAgent, openGate } from '../helpers/gate.js';
import { CHAOS_ENV, waitFor, waitForRunEnd } from '../helpers/chaos.js';

const boardEntry = path.join(repoRoot, 'apps/board/dist/main.js');
const TOKEN = 'board-test-token-0123456789';
const OPS_ENV = { REINS_BOARD_USER: 'ops', REINS_BOARD_PASSWORD: 'ops-password-0123' };
const OPS = { authorization: `Basic ${Buffer.from('ops:ops-password-0123').toString('base64')}` };

/** A command agent that runs a node script; the script sees the REINS_* variables. */
const nodeAgent = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });
/** Prints stream-json lines, as Claude Code would. */
const printLines = (lines: unknown[]) => `for (const l of ${JSON.stringify(lines.map((l) => JSON.stringify(l)))}) console.log(l);`;
const result = (costUsd: number, turns: number, tokens = 0) => ({
  type: 'result',
  subtype: 'success',
  is_error: false,
  result: 'done',
  num_turns: turns,
  total_cost_usd: costUsd,
  usage: { input_tokens: tokens, output_tokens: 0 },
});

interface BoardProcess {
  base: string;
  stop(): Promise<void>;
}

/** Starts a board with extra environment and waits until it listens. Always stopped by the story. */
async function withBoard<T>(fleet: Fleet, env: Record<string, string>, story: (board: BoardProcess) => Promise<T>): Promise<T> {
  const port = await freePort();
  const logFile = path.join(fleet.dataDir, 'logs', `board-${port}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [boardEntry], { env: { ...fleet.env, REINS_BOARD_PORT: String(port), ...env }, stdio: ['ignore', fd, fd] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitForLog(logFile, 'board listening', 15_000, child);
    return await story({ base: `http://127.0.0.1:${port}`, stop });
  } finally {
    await stop();
  }
}

/** Runs the board expecting it to refuse to start. */
async function boardRefusal(env: Record<string, string>): Promise<{ exitCode: number | undefined; output: string }> {
  const run = await execa(process.execPath, [boardEntry], {
    env: { ...scratchEnv(), REINS_REDIS_URL: redis.url, REINS_BOARD_PORT: String(await freePort()), ...env },
    extendEnv: false,
    reject: false,
    timeout: 10_000,
    all: true,
  });
  return { exitCode: run.exitCode, output: run.all as string };
}

/** A request with a Host header of our choosing, which fetch does not allow. */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

const metricValue = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

const redis = useRedis();

describe('the board', () => {
  it('refuses to start on a non-loopback address without auth, and names the variables', async () => {
    const open = await boardRefusal({ REINS_BOARD_HOST: '0.0.0.0' });
    expect(open.exitCode).toBe(2);
    expect(open.output).toContain('refusing to serve the board on "0.0.0.0" without authentication');
    for (const name of ['REINS_BOARD_TOKEN', 'REINS_BOARD_USER', 'REINS_BOARD_PASSWORD']) expect(open.output).toContain(name);

    const weak = await boardRefusal({ REINS_BOARD_HOST: '0.0.0.0', REINS_BOARD_TOKEN: 'short-secret' });
    expect(weak.exitCode).toBe(2);
    expect(weak.output).toContain('REINS_BOARD_TOKEN: expected at least 16 characters');
    expect(weak.output).not.toContain('short-secret');

    const half = await boardRefusal({ REINS_BOARD_USER: 'ops' });
    expect(half.exitCode).toBe(2);
    expect(half.output).toContain('expected REINS_BOARD_USER and REINS_BOARD_PASSWORD together');
  });

  it('shows runs newest first with totals and filters, and a run with attempts, attach command, checkpoint and escaped text', async () => {
    const dir = tempDir('board-pages');
    // The first attempt saves a checkpoint (agents find `reins` on PATH), then crashes with markup in its stderr.
    const flaky =
      `const fs=require('fs');if(!fs.existsSync('tried')){fs.writeFileSync('tried','1');` +
      `require('child_process').execFileSync('reins',['checkpoint','--data','{"step":1}'],{stdio:'ignore'});` +
      `console.error('<script>alert("pwned")</script>');process.exit(3)}` +
      printLines([{ type: 'system', subtype: 'init', session_id: 's-1', model: 'fake' }, { type: 'assistant', message: { content: [{ type: 'text', text: '<b>hi</b> & bye' }] } }, result(0.25, 2, 2_234)]);
    const good = await writeHarness(
      dir,
      {
        name: 'boarded',
        goal: 'Show <img src=x onerror=alert(1)> safely',
        workdir: '.',
        retry: { attempts: 2 },
        agent: nodeAgent(printLines([result(0.5, 1, 1_234)])),
        team: [
          { name: 'flaky', prompt: 'fail once, then <i>succeed</i>', agent: nodeAgent(flaky) },
          { name: 'steady', prompt: 'succeed' },
        ],
      },
      'good.yaml',
    );
    const bad = await writeHarness(dir, { name: 'broken', retry: { attempts: 1 }, agent: nodeAgent('process.exit(1)'), team: [{ name: 'only', prompt: 'fail' }] }, 'bad.yaml');

    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const store = new RunStore(redis.client, createKeys(fleet.prefix));
      const goodRun = await fleet.reins(['submit', good, '--wait', '--json']);
      expect(goodRun.exitCode, goodRun.stderr).toBe(0);
      const goodId = (JSON.parse(goodRun.stdout) as { runId: string }).runId;
      const badRun = await fleet.reins(['submit', bad, '--wait', '--json']);
      expect(badRun.exitCode).toBe(1);
      const badId = (JSON.parse(badRun.stdout) as { runId: string }).runId;

      await withBoard(fleet, {}, async ({ base }) => {
        const list = await (await fetch(`${base}/runs`)).text();
        expect(list.indexOf(badId)).toBeGreaterThan(0);
        expect(list.indexOf(badId)).toBeLessThan(list.indexOf(goodId)); // newest first
        const goodRow = list.slice(list.indexOf(`data-run="${goodId}"`)).split('</tr>')[0]!;
        expect(goodRow).toContain('data-status="succeeded"');
        expect(goodRow).toContain('2 succeeded');
        expect(goodRow).toContain('$0.7500');
        const failedOnly = await (await fetch(`${base}/runs?status=failed`)).text();
        expect(failedOnly).toContain(badId);
        expect(failedOnly).not.toContain(goodId);
        expect((await fetch(`${base}/runs?status=bogus`)).status).toBe(400);
        expect((await fetch(`${base}/runs/r-doesnotexist1`)).status).toBe(404);

        const page = await fetch(`${base}/runs/${goodId}`);
        expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
        const detail = await page.text();
        // Every user-provided string arrives escaped; none of it is markup.
        expect(detail).toContain('Show &lt;img src=x onerror=alert(1)&gt; safely');
        expect(detail).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
        expect(detail).toContain('&lt;b&gt;hi&lt;/b&gt; &amp; bye');
        expect(detail).toContain('fail once, then &lt;i&gt;succeed&lt;/i&gt;');
        for (const raw of ['<img src=x', '<script>alert', '<b>hi</b>', '<i>succeed</i>']) expect(detail).not.toContain(raw);

        const flakyRecord = (await store.getMember(goodId, 'flaky'))!;
        const attempts = await store.readAttempts(goodId, 'flaky');
        expect(attempts.map((a) => a.outcome)).toEqual(['crash', 'succeeded']);
        expect(detail).toContain('data-outcome="crash"');
        expect(detail).toContain('data-outcome="succeeded"');
        expect(detail).toContain('attempt 2');
        expect(detail).toContain(`tmux -S ${flakyRecord.tmuxSocket} attach -t =${flakyRecord.tmuxSession}`);
        expect(detail).toContain(flakyRecord.host!);
        expect(detail).toContain('<dt>Cost</dt><dd>$0.2500</dd>');
        expect(detail).toContain('<dt>Turns</dt><dd>2</dd>');
        expect(detail).toContain('<dt>Tokens</dt><dd>2,234</dd>');
        const cursor = await store.readCursor(goodId, 'flaky');
        expect(cursor).toBeDefined();
        expect(detail).toContain(`<dt>Last checkpoint</dt><dd>${new Date(cursor!.at).toISOString().replace('T', ' ').slice(0, 19)} UTC</dd>`);
        expect(detail).toContain('session s-1 started (fake)');
        expect(detail).toContain('<span>$0.7500</span>'); // the run's total
        expect(detail).toContain('<span>3,468</span>');

        // An ended run's stream sends the page once, says it is final, and closes.
        const stream = await fetch(`${base}/runs/${goodId}/stream`);
        expect(stream.headers.get('content-type')).toContain('text/event-stream');
        const events = await stream.text();
        expect(events).toMatch(/^event: update\ndata: /);
        expect(JSON.parse(events.split('data: ')[1]!)).toMatchObject({ final: true });

        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metricValue(metrics, 'reins_attempts{outcome="crash"}')).toBe(2);
        expect(metricValue(metrics, 'reins_attempts{outcome="succeeded"}')).toBe(2);
        // The broken member's crash was its last attempt: a failure, not a retry.
        expect(metricValue(metrics, 'reins_retries{failure_class="crash"}')).toBe(1);
        expect(metricValue(metrics, 'reins_cost_usd')).toBeCloseTo(0.75);
        expect(metricValue(metrics, 'reins_runs{status="succeeded"}')).toBe(1);
        expect(metricValue(metrics, 'reins_runs{status="failed"}')).toBe(1);
        expect(metricValue(metrics, 'reins_run_duration_seconds_count')).toBe(2);
        expect(metricValue(metrics, 'reins_heartbeat_expiries')).toBe(0);
        const finished = ['completed', 'failed'].map((state) => metricValue(metrics, `reins_jobs{queue="agent",state="${state}"}`) ?? 0);
        expect(finished[0]! + finished[1]!).toBe(3);
        expect(metricValue(metrics, 'reins_jobs{queue="control",state="completed"}')).toBe(2);
        expect(metrics).toMatch(/^reins_worker_slots\{worker="w1",host="[^"]+"\} 4$/m);
        expect(metrics).toMatch(/^reins_worker_agents\{worker="w1",host="[^"]+"\} 0$/m);
        expect(metrics).toMatch(/^reins_worker_state\{worker="w1",host="[^"]+",state="running"\} 1$/m);
      });
    });
  });

  it('counts heartbeat expiries and stall retries when a worker dies under its agent', async () => {
    const dir = tempDir('board-stall');
    // Runs until the gate opens, which the test does once the member runs again on the surviving worker.
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'stalling',
      retry: { attempts: 3 },
      agent: gatedNodeAgent(gate, `console.log(${JSON.stringify(JSON.stringify(result(0.125, 1)))})`),
      team: [{ name: 'survivor', prompt: 'outlive a worker' }],
    });
    await withFleet({ redisUrl: redis.url, workers: 2, env: CHAOS_ENV }, async (fleet) => {
      const store = new RunStore(redis.client, createKeys(fleet.prefix));
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const first = await waitFor(async () => {
        const member = await store.getMember(runId, 'survivor');
        return member?.status === 'running' && member.workerId ? member : undefined;
      }, 'the agent to run');
      await fleet.workers.find((w) => w.id === first.workerId)!.kill9();
      await waitFor(async () => {
        const member = await store.getMember(runId, 'survivor');
        return member?.status === 'running' && member.workerId !== first.workerId;
      }, 'the member to run on the surviving worker');
      openGate(gate);
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('succeeded');

      await withBoard(fleet, {}, async ({ base }) => {
        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metricValue(metrics, 'reins_heartbeat_expiries')).toBe(1);
        expect(metricValue(metrics, 'reins_retries{failure_class="stalled"}')).toBe(1);
        expect(metricValue(metrics, 'reins_attempts{outcome="stalled"}')).toBe(1);
        // Only the surviving worker is registered.
        const survivor = fleet.workers.find((w) => w.id !== first.workerId)!.id;
        expect(metrics).toMatch(new RegExp(`^reins_worker_slots\\{worker="${survivor}",host="[^"]+"\\} 4$`, 'm'));
        expect(metrics).not.toContain(`worker="${first.workerId}"`);
        const detail = await (await fetch(`${base}/runs/${runId}`)).text();
        expect(detail).toContain('data-outcome="stalled"');
      });
    });
  });

  it('requires the token or basic-auth credentials when set, and accepts them', async () => {
    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      // With a token it may listen on every address.
      await withBoard(fleet, { REINS_BOARD_HOST: '0.0.0.0', REINS_BOARD_TOKEN: TOKEN }, async ({ base }) => {
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        for (const url of ['/runs', '/metrics', '/queues', '/queues/api/queues', '/assets/board.js']) {
          const refused = await fetch(`${base}${url}`, { redirect: 'manual' });
          expect(refused.status, url).toBe(401);
          expect(await refused.text()).toContain('REINS_BOARD_TOKEN');
        }
        expect((await fetch(`${base}/runs`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
        expect((await fetch(`${base}/runs?token=wrong-token-0123456789`, { redirect: 'manual' })).status).toBe(401);
        expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

        // In a browser: ?token= once becomes an HttpOnly cookie, and the token leaves the address bar.
        const login = await fetch(`${base}/runs?status=running&token=${TOKEN}`, { redirect: 'manual' });
        expect(login.status).toBe(303);
        expect(login.headers.get('location')).toBe('/runs?status=running');
        const cookie = login.headers.get('set-cookie')!;
        expect(cookie).toMatch(/HttpOnly/i);
        expect(cookie).toMatch(/SameSite=Lax/i);
        expect(cookie).not.toContain(TOKEN);
        const withCookie = await fetch(`${base}/runs`, { headers: { cookie: cookie.split(';')[0]! } });
        expect(withCookie.status).toBe(200);
        expect(await withCookie.text()).toContain('<h1>Runs');
        expect((await fetch(`${base}/runs`, { headers: { cookie: 'reins_board_session=forged' } })).status).toBe(401);
      });

      await withBoard(fleet, { REINS_BOARD_USER: 'ops', REINS_BOARD_PASSWORD: 'pass word:with colon' }, async ({ base }) => {
        const refused = await fetch(`${base}/runs`);
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toContain('Basic realm="reins board"');
        const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
        expect((await fetch(`${base}/runs`, { headers: basic('ops', 'wrong') })).status).toBe(401);
        expect((await fetch(`${base}/runs`, { headers: basic('ops', 'pass word:with colon') })).status).toBe(200);
      });
    });
  });

  it('refuses cross-origin changes (CSRF) and foreign Host names, and read-only mode refuses changes outright', async () => {
    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      const pauseUrl = (base: string) => `${base}/queues/api/queues/control/pause`;
      const isPaused = async (base: string) => {
        const api = (await (await fetch(`${base}/queues/api/queues`, { headers: OPS })).json()) as { queues: { name: string; isPaused: boolean; readOnlyMode: boolean }[] };
        return api.queues.find((q) => q.name === 'control')!;
      };
      // Changes need auth (see the next story); basic-auth credentials are what a forged request rides on.
      await withBoard(fleet, OPS_ENV, async ({ base }) => {
        const crossOrigin = await fetch(pauseUrl(base), { method: 'PUT', headers: { ...OPS, origin: 'http://evil.example' } });
        expect(crossOrigin.status).toBe(403);
        expect(((await crossOrigin.json()) as { error: string }).error).toBe('CSRF check failed');
        const crossSite = await fetch(pauseUrl(base), { method: 'PUT', headers: { ...OPS, referer: 'http://evil.example/page', 'sec-fetch-site': 'cross-site' } });
        expect(crossSite.status).toBe(403);
        expect((await fetch(pauseUrl(base), { method: 'PUT', headers: OPS })).status).toBe(403); // no origin at all
        expect((await isPaused(base)).isPaused).toBe(false);

        const sameOrigin = await fetch(pauseUrl(base), { method: 'PUT', headers: { ...OPS, origin: base } });
        expect(sameOrigin.status).toBe(200);
        expect((await isPaused(base)).isPaused).toBe(true);
        const resumed = await fetch(`${base}/queues/api/queues/control/resume`, { method: 'PUT', headers: { ...OPS, origin: base, referer: `${base}/queues` } });
        expect(resumed.status).toBe(200);
        expect((await isPaused(base)).isPaused).toBe(false);
      });

      await withBoard(fleet, {}, async ({ base }) => {
        const port = new URL(base).port;
        // DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends its own name in Host.
        expect(await getWithHost(`${base}/runs`, `evil.example:${port}`)).toBe(421);
        expect(await getWithHost(`${base}/runs`, `localhost:${port}`)).toBe(200);
      });

      await withBoard(fleet, { ...OPS_ENV, REINS_BOARD_READ_ONLY: '1' }, async ({ base }) => {
        expect((await isPaused(base)).readOnlyMode).toBe(true);
        const pause = await fetch(pauseUrl(base), { method: 'PUT', headers: { ...OPS, origin: base } });
        expect(pause.status).toBe(403);
        expect(((await pause.json()) as { error: string }).error).toBe('Read-only board');
        expect((await isPaused(base)).isPaused).toBe(false);
        expect(await (await fetch(`${base}/runs`, { headers: OPS })).text()).toContain('read-only');
      });
    });
  });

  it('adds no job through Bull Board, with or without auth, and changes nothing without auth, on loopback too', async () => {
    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const control = openQueue(QUEUES.control, redis.client, keys);
      const notify = openQueue(QUEUES.notify, redis.client, keys);
      try {
        // One failed job to retry and clean: a notification whose delivery threw.
        const failing = new Worker(
          QUEUES.notify,
          async () => {
            throw new Error('delivery refused');
          },
          { connection: redis.client, prefix: keys.bullPrefix },
        );
        const added = await addJob(notify, 'notify.deliver', { url: 'http://127.0.0.1:9/hook', notification: { runId: 'r-boardtest1', runName: 'n', event: 'run.failed', text: 'failed', at: Date.now() } });
        await waitFor(async () => (await notify.getJobState(added.id!)) === 'failed', 'the notification job to fail');
        await failing.close();

        // What was measured: a run.submit added from the board's own origin ran a command agent past reins submit.
        const submitBody = JSON.stringify({
          name: 'run.submit',
          data: { runId: 'r-boardadd01', spec: { name: 'x', agent: { kind: 'command', argv: ['touch', '/tmp/pwned'] }, team: [{ name: 'a', prompt: 'p' }] } },
          options: {},
        });
        const addPaths = ['/queues/api/queues/control/add', '/queues/api/queues/control/add/', '/queues/API/Queues/control/ADD'];
        const jobsInControl = () => control.getJobCountByTypes('wait', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children');

        await withBoard(fleet, {}, async ({ base }) => {
          const json = { origin: base, 'content-type': 'application/json' };
          for (const addPath of addPaths) {
            const add = await fetch(`${base}${addPath}`, { method: 'POST', headers: json, body: submitBody });
            expect(add.status, addPath).toBe(403);
            expect(((await add.json()) as { message: string }).message).toContain('REINS_BOARD_TOKEN');
          }
          expect(await jobsInControl()).toBe(0);

          for (const change of [
            '/queues/api/queues/notify/retry/failed',
            '/queues/api/queues/notify/clean/failed',
            `/queues/api/queues/notify/${added.id}/retry`,
            `/queues/api/queues/notify/${added.id}/clean`,
            '/queues/api/queues/control/pause',
          ]) {
            const refused = await fetch(`${base}${change}`, { method: 'PUT', headers: { origin: base } });
            expect(refused.status, change).toBe(403);
            expect(((await refused.json()) as { error: string }).error).toBe('Changes need authentication');
          }
          expect(await notify.getJobState(added.id!)).toBe('failed');
          expect(await control.isPaused()).toBe(false);
          // The UI hides its buttons: Bull Board reads readOnlyMode from its own API.
          const api = (await (await fetch(`${base}/queues/api/queues`)).json()) as { queues: { name: string; readOnlyMode: boolean }[] };
          expect(api.queues.map((q) => q.readOnlyMode)).toEqual(api.queues.map(() => true));
        });

        await withBoard(fleet, OPS_ENV, async ({ base }) => {
          const retryUrl = `${base}/queues/api/queues/notify/retry/failed`;
          expect((await fetch(retryUrl, { method: 'PUT', headers: { origin: base } })).status).toBe(401);
          expect(await notify.getJobState(added.id!)).toBe('failed');

          const json = { ...OPS, origin: base, 'content-type': 'application/json' };
          for (const addPath of addPaths) {
            const add = await fetch(`${base}${addPath}`, { method: 'POST', headers: json, body: submitBody });
            expect(add.status, addPath).toBe(403);
            expect(((await add.json()) as { error: string }).error).toBe('Change not allowed');
          }
          const rewrite = await fetch(`${base}/queues/api/queues/notify/${added.id}/update-data`, { method: 'PATCH', headers: json, body: JSON.stringify({ data: { url: 'http://evil.example/' } }) });
          expect(rewrite.status).toBe(403);
          expect(await jobsInControl()).toBe(0);
          expect((await notify.getJob(added.id!))!.data).toMatchObject({ url: 'http://127.0.0.1:9/hook' });

          // With auth, the changes Bull Board is for still work.
          const api = (await (await fetch(`${base}/queues/api/queues`, { headers: OPS })).json()) as { queues: { name: string; readOnlyMode: boolean }[] };
          expect(api.queues.find((q) => q.name === 'notify')!.readOnlyMode).toBe(false);
          const retried = await fetch(retryUrl, { method: 'PUT', headers: { ...OPS, origin: base } });
          expect(retried.status).toBe(200);
          expect(await notify.getJobState(added.id!)).toBe('waiting');
          const cleaned = await fetch(`${base}/queues/api/queues/notify/${added.id}/clean`, { method: 'PUT', headers: { ...OPS, origin: base } });
          expect(cleaned.ok).toBe(true);
          expect(await notify.getJob(added.id!)).toBeUndefined();
        });
      } finally {
        await control.close();
        await notify.close();
      }
    });
  });
});
