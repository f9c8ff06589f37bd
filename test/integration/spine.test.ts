import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { freePort, useRedis } from '../helpers/redis.js';
import { repoRoot, withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { waitFor } from '../helpers/chaos.js';
import { blockingAgent } from '../helpers/gate.js';

/** A command agent that runs a node script; the script sees the REINS_* variables. */
const nodeAgent = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });

const redis = useRedis();

describe('the spine: submit → scheduler → worker → tmux → result', () => {
  it('runs the hello example to success, and prints the exact JSON contract', async () => {
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const result = await fleet.reins(['submit', path.join(repoRoot, 'examples/hello.yaml'), '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const view = JSON.parse(result.stdout) as { runId: string; status: string; members: Record<string, unknown>[] };
      expect(Object.keys(view).sort()).toEqual(['members', 'runId', 'status']);
      expect(view.status).toBe('succeeded');
      expect(view.members.map((m) => [m.name, m.status, m.attempts])).toEqual([
        ['english', 'succeeded', 1],
        ['french', 'succeeded', 1],
        ['together', 'succeeded', 1],
      ]);
      for (const m of view.members) {
        expect(Object.keys(m).every((k) => ['name', 'status', 'attempts', 'workspace', 'exitCode', 'sessionId', 'costUsd', 'numTurns', 'error'].includes(k))).toBe(true);
        expect(m.exitCode).toBe(0);
      }
      const together = view.members.find((m) => m.name === 'together')!;
      expect(readFileSync(path.join(together.workspace as string, 'together.txt'), 'utf8')).toBe('Hello, world!\nBonjour, le monde !\n');

      const status = await fleet.reins(['status', view.runId, '--json']);
      expect(status.exitCode).toBe(0);
      expect(JSON.parse(status.stdout)).toEqual(view);
      const human = await fleet.reins(['status', view.runId]);
      expect(human.stdout).toContain(`run ${view.runId} (hello): succeeded`);
      expect(human.stdout).toMatch(/together\s+succeeded\s+1/);
    });
  });

  it('releases members in depends_on order', async () => {
    const workdir = tempDir('order');
    const gate = path.join(workdir, 'gate');
    // Each agent stamps its start and end; a holds on until the test has seen its dependants wait for it.
    const stamp = `const fs=require('fs');const me=process.env.REINS_MEMBER;fs.appendFileSync('order.log','start '+me+' '+Date.now()+'\\n');const end=()=>fs.appendFileSync('order.log','end '+me+' '+Date.now()+'\\n');if(me!=='a')end();else{const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(gate)})){clearInterval(t);end()}},25)}`;
    const file = await writeHarness(workdir, {
      name: 'order',
      workdir: '.',
      agent: nodeAgent(stamp),
      team: [
        { name: 'c', prompt: 'third', depends_on: ['a', 'b'] },
        { name: 'a', prompt: 'first' },
        { name: 'b', prompt: 'second', depends_on: ['a'] },
        { name: 'd', prompt: 'independent' },
      ],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const waited = fleet.reins(['submit', file, '--wait', '--json']);
      const log = () => (existsSync(path.join(workdir, 'order.log')) ? readFileSync(path.join(workdir, 'order.log'), 'utf8') : '');
      // a runs and d, independent, has finished; b and c, which need a, have not started.
      await waitFor(() => log().includes('start a') && log().includes('end d'), 'a running and d done');
      expect(log()).not.toMatch(/start [bc]/);
      writeFileSync(gate, '');
      const result = await waited;
      expect(result.exitCode, result.stderr).toBe(0);
    });
    const times = new Map<string, number>();
    for (const line of readFileSync(path.join(workdir, 'order.log'), 'utf8').trim().split('\n')) {
      const [what, who, at] = line.split(' ');
      times.set(`${what} ${who}`, Number(at));
    }
    expect(times.size).toBe(8);
    expect(times.get('start b')!).toBeGreaterThanOrEqual(times.get('end a')!);
    expect(times.get('start c')!).toBeGreaterThanOrEqual(times.get('end a')!);
    expect(times.get('start c')!).toBeGreaterThanOrEqual(times.get('end b')!);
    // d depends on nothing: it starts before c, which waits for two others.
    expect(times.get('start d')!).toBeLessThan(times.get('start c')!);
  });

  it('skips the dependants of a member that failed for good, fails the run and exits 1', async () => {
    const dir = tempDir('fail');
    const file = await writeHarness(dir, {
      name: 'failing',
      agent: nodeAgent('process.exit(0)'),
      retry: { attempts: 2 },
      team: [
        { name: 'broken', prompt: 'fail', agent: nodeAgent('console.error("boom: no such thing"); process.exit(7)') },
        { name: 'after', prompt: 'never runs', depends_on: ['broken'] },
        { name: 'last', prompt: 'never runs either', depends_on: ['after'] },
        { name: 'side', prompt: 'runs anyway' },
      ],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { status: string; members: { name: string; status: string; attempts: number; exitCode?: number; error?: string }[] };
      expect(view.status).toBe('failed');
      const byName = Object.fromEntries(view.members.map((m) => [m.name, m]));
      expect(byName.broken).toMatchObject({ status: 'failed', attempts: 2, exitCode: 7 });
      expect(byName.broken!.error).toContain('exited with code 7');
      expect(byName.broken!.error).toContain('boom: no such thing');
      expect(byName.after).toMatchObject({ status: 'skipped', attempts: 0 });
      expect(byName.after!.error).toContain('broken failed');
      expect(byName.last).toMatchObject({ status: 'skipped' });
      expect(byName.side).toMatchObject({ status: 'succeeded' });
    });
  });

  it('retries a member that fails once, and it succeeds on attempt 2', async () => {
    const dir = tempDir('retry');
    const flaky = `const fs=require('fs');if(!fs.existsSync('tried')){fs.writeFileSync('tried','1');process.exit(1)}`;
    const file = await writeHarness(dir, { name: 'flaky', workdir: '.', agent: nodeAgent(flaky), team: [{ name: 'flaky', prompt: 'try' }] });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).members[0]).toMatchObject({ name: 'flaky', status: 'succeeded', attempts: 2 });
    });
  });

  it('rejects a bad spec with exit 2, a message naming the field, and nothing in Redis', async () => {
    const dir = tempDir('bad');
    const file = await writeHarness(dir, {
      name: 'bad',
      agent: { kind: 'command', argv: ['true'] },
      team: [
        { name: 'a', prompt: 'x', depends_on: ['nobody'] },
        { name: 'a', prompt: '' },
        { name: 'reviewer', promt: 'y', depends_on: ['a'] },
      ],
    });
    // No roles run, so any key under the prefix could only have come from the CLI.
    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait']);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`Invalid harness ${file}`);
      expect(result.stderr).toContain('team[0].depends_on[0]: unknown member "nobody"');
      expect(result.stderr).toContain('team[1].name: duplicate member name "a"');
      // Every problem in one pass, the shape errors beside the graph's, with the nearest field named.
      expect(result.stderr).toContain('team[1].prompt: expected a non-empty prompt');
      expect(result.stderr).toContain('team[2]: unknown field "promt" (did you mean "prompt"?)');
      // reins validate says exactly the same, without Redis.
      const validated = await fleet.reins(['validate', file]);
      expect(validated.exitCode).toBe(2);
      expect(validated.stderr).toBe(result.stderr);
      expect(result.stdout).toBe('');
      expect(await redis.client.keys(`{${fleet.prefix}}*`)).toEqual([]);

      const badFlag = await fleet.reins(['submit', file, '--wiat']);
      expect(badFlag.exitCode).toBe(2);
      expect(badFlag.stderr).toContain("Unknown option '--wiat'");
      const unknownRun = await fleet.reins(['status', 'r-doesnotexist1']);
      expect(unknownRun.exitCode).toBe(2);
      expect(unknownRun.stderr).toContain('no run with id "r-doesnotexist1"');
      const badEnv = await fleet.reins(['status', 'r-x'], { env: { REINS_MONITOR_INTERVAL_MS: 'soon' } });
      expect(badEnv.exitCode).toBe(2);
      expect(badEnv.stderr).toContain('REINS_MONITOR_INTERVAL_MS');
      expect(badEnv.stderr).toContain('"soon"');
      const deadRedis = await fleet.reins(['status', 'r-x'], { env: { REINS_REDIS_URL: 'redis://127.0.0.1:1' } });
      expect(deadRedis.exitCode).toBe(1);
      expect(deadRedis.stderr).toContain('Cannot reach Redis at redis://127.0.0.1:1');
      expect(await redis.client.keys(`{${fleet.prefix}}*`)).toEqual([]);
    });
  });

  it('delivers a hostile prompt to the agent byte for byte, and executes none of it', async () => {
    const dir = tempDir('hostile');
    const prompt = `"; touch ${dir}/pwned; $(touch ${dir}/pwned2) \`touch ${dir}/pwned3\` 'quoted' \\ back\nnew line ünïcödé -- --help`;
    const file = await writeHarness(dir, {
      name: 'hostile',
      workdir: '.',
      agent: nodeAgent(`require('fs').writeFileSync('received.txt', process.env.REINS_PROMPT)`),
      team: [{ name: 'victim', prompt }],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
    });
    expect(readFileSync(path.join(dir, 'received.txt'), 'utf8')).toBe(prompt);
    for (const name of ['pwned', 'pwned2', 'pwned3']) expect(existsSync(path.join(dir, name))).toBe(false);
  });

  it('cancel stops the tmux sessions and marks the run and its members cancelled', async () => {
    const dir = tempDir('cancel');
    const file = await writeHarness(dir, {
      name: 'sleepy',
      // Agents that run until they are stopped: only the cancel ends them.
      agent: blockingAgent,
      team: [
        { name: 'one', prompt: 'sleep' },
        { name: 'two', prompt: 'sleep' },
        { name: 'three', prompt: 'after', depends_on: ['one'] },
      ],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const submitted = await fleet.reins(['submit', file]);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const runId = submitted.stdout.trim();
      expect(runId).toMatch(/^r-[a-z0-9]+$/);
      // Wait for both agents' sessions to exist (status reports running once the session starts).
      await waitFor(async () => (await fleet.tmuxSessions()).length === 2, "both agents' sessions");
      expect((await fleet.tmuxSessions()).sort()).toEqual([`reins-${runId}-one-1`, `reins-${runId}-two-1`]);

      const cancelled = await fleet.reins(['cancel', runId]);
      expect(cancelled.exitCode, cancelled.stderr).toBe(0);
      expect(await fleet.tmuxSessions()).toEqual([]);
      const status = await fleet.reins(['status', runId, '--json']);
      expect(status.exitCode).toBe(1);
      const view = JSON.parse(status.stdout) as { status: string; members: { name: string; status: string }[] };
      expect(view.status).toBe('cancelled');
      expect(view.members.map((m) => m.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
      const again = await fleet.reins(['cancel', runId]);
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toContain('already ended: cancelled');
    });
  });

  it('shows readable events with reins logs', async () => {
    const dir = tempDir('logs');
    const lines = [
      { type: 'system', subtype: 'init', session_id: 's-1', model: 'fake' },
      { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Write', input: { file_path: '/tmp/x.txt', content: 'hi' } }] } },
      { type: 'result', subtype: 'success', is_error: false, result: 'all done', num_turns: 2, total_cost_usd: 0.25 },
    ];
    const script = `for (const l of ${JSON.stringify(lines.map((l) => JSON.stringify(l)))}) console.log(l)`;
    const file = await writeHarness(dir, { name: 'chatty', agent: nodeAgent(script), team: [{ name: 'talker', prompt: 'talk' }] });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const view = JSON.parse(result.stdout) as { runId: string; members: Record<string, unknown>[] };
      expect(view.members[0]).toMatchObject({ numTurns: 2, costUsd: 0.25 });
      const logs = await fleet.reins(['logs', view.runId, 'talker']);
      expect(logs.exitCode).toBe(0);
      expect(logs.stdout).toMatch(/init\s+session s-1 started \(fake\)/);
      expect(logs.stdout).toMatch(/tool\s+Write \/tmp\/x\.txt/);
      expect(logs.stdout).toMatch(/result\s+success in 2 turns, \$0\.2500: all done/);
      const wrongMember = await fleet.reins(['logs', view.runId, 'nobody']);
      expect(wrongMember.exitCode).toBe(2);
      expect(wrongMember.stderr).toContain('has no member "nobody"');
    });
  });

  it('gives each member of a git workdir its own worktree on reins/<run>/<member>, and leaves the repo alone', async () => {
    const repo = tempDir('repo');
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'root');
    const commit = `const {execFileSync:x}=require('child_process');const me=process.env.REINS_MEMBER;require('fs').writeFileSync(me+'.txt',me);x('git',['add','-A']);x('git',['-c','user.name=a','-c','user.email=a@a','commit','-q','-m','work of '+me])`;
    const file = await writeHarness(tempDir('git-harness'), {
      name: 'gitty',
      workdir: repo,
      agent: nodeAgent(commit),
      team: [
        { name: 'alpha', prompt: 'a' },
        { name: 'beta', prompt: 'b' },
      ],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as { runId: string; members: { name: string; workspace: string }[] };
      for (const member of view.members) {
        expect(member.workspace).toBe(path.join(fleet.dataDir, 'worktrees', view.runId, member.name));
        const branch = `reins/${view.runId}/${member.name}`;
        expect(execFileSync('git', ['-C', member.workspace, 'branch', '--show-current'], { encoding: 'utf8' }).trim()).toBe(branch);
        expect(git('log', '-1', '--format=%s', branch)).toBe(`work of ${member.name}`);
      }
      // The repo's own branch and working tree are untouched.
      expect(git('branch', '--show-current')).toBe('main');
      expect(git('log', '--format=%s', 'main')).toBe('root');
      expect(git('status', '--porcelain')).toBe('');
    });
  });

  it('serves Bull Board over the reins queues, with the agent job, its progress and its log', async () => {
    const file = await writeHarness(tempDir('board'), { name: 'boarded', agent: nodeAgent('console.log("hi")'), team: [{ name: 'only', prompt: 'x' }] });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const base = await fleet.startBoard(await freePort());
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const runId = (JSON.parse(result.stdout) as { runId: string }).runId;
      // Bull Board lives at /queues; the root leads to the runs pages.
      const root = await fetch(`${base}/`, { redirect: 'manual' });
      expect(root.headers.get('location')).toBe('/runs');
      const page = await fetch(`${base}/queues`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Bull Dashboard</title>');
      const api = (await (await fetch(`${base}/queues/api/queues?activeQueue=agent&status=completed&page=1`)).json()) as {
        queues: { name: string; jobs: { id: string; progress: unknown; returnValue: unknown }[] }[];
      };
      expect(api.queues.map((q) => q.name).sort()).toEqual(['agent', 'control', 'integrate', 'notify']);
      const job = api.queues.find((q) => q.name === 'agent')!.jobs.find((j) => j.id === `${runId}.only`)!;
      expect(job.returnValue).toMatchObject({ status: 'succeeded', exitCode: 0 });
      const logs = (await (await fetch(`${base}/queues/api/queues/agent/${runId}.only/logs`)).json()) as string[] | { logs: string[] };
      const lines = Array.isArray(logs) ? logs : logs.logs;
      expect(lines.some((l) => l.includes('attempt 1 on w1: tmux -S'))).toBe(true);
    });
  });
});
