import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, chmod, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { LAUNCHER_SCRIPT, attemptFiles, installBin, shQuote, writeLaunchFiles } from '../../apps/worker/src/tmux/launcher.js';
import { agentIntervals, gatedNodeAgent, openGate, overlappingAgents } from '../helpers/gate.js';
import { waitFor } from '../helpers/chaos.js';

const run = promisify(execFile);

const NASTY = `-x "; touch /tmp/pwned; $(touch /tmp/pwned2) \`id\` 'single' \\back\nnewline\ttab — ünïcode 🌍 $HOME %s`;

let root: string;
let launcher: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'reins-unit-launcher-'));
  launcher = path.join(root, 'launch.sh');
  await writeFile(launcher, LAUNCHER_SCRIPT, { mode: 0o755 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('attemptFiles', () => {
  it('names the files of an attempt dir', () => {
    expect(attemptFiles('/d/a1')).toEqual({
      dir: '/d/a1',
      meta: '/d/a1/meta.json',
      lease: '/d/a1/lease',
      leaseStopped: '/d/a1/lease-stopped',
      stdout: '/d/a1/stdout.jsonl',
      stdoutStart: '/d/a1/stdout.start',
      stderr: '/d/a1/stderr.log',
      exit: '/d/a1/exit',
      pid: '/d/a1/pid',
      times: '/d/a1/times',
    });
  });
});

describe('writeLaunchFiles', () => {
  it('writes argv and env NUL-separated, byte for byte', async () => {
    const dir = path.join(root, 'write-1');
    const argv = ['/usr/bin/claude', '-p', '--', NASTY, 'a=b', ''];
    const env = { PATH: '/usr/bin:/bin', MULTI: 'line1\nline2', QUOTES: `"'$(x)\``, EMPTY: '', EQ: 'a=b=c', UNI: 'é🌍' };
    const files = await writeLaunchFiles(dir, argv, env);
    expect(files).toEqual(attemptFiles(dir));

    const argvBytes = await readFile(path.join(dir, 'argv'));
    const expectedArgv = Buffer.concat(argv.map((a) => Buffer.from(`${a}\0`, 'utf8')));
    expect(argvBytes.equals(expectedArgv)).toBe(true);

    const envBytes = await readFile(path.join(dir, 'env'));
    expect(envBytes.toString('utf8')).toBe('PATH=/usr/bin:/bin\0MULTI=line1\nline2\0QUOTES="\'$(x)`\0EMPTY=\0EQ=a=b=c\0UNI=é🌍\0');
  });

  it('makes the env file readable by its owner only', async () => {
    const dir = path.join(root, 'write-mode');
    await writeLaunchFiles(dir, ['true'], { SECRET: 'k' });
    expect((await stat(path.join(dir, 'env'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'argv'))).mode & 0o077).toBe(0);
  });

  it('writes empty files for an empty env', async () => {
    const dir = path.join(root, 'write-empty');
    await writeLaunchFiles(dir, ['true'], {});
    expect(await readFile(path.join(dir, 'env'), 'utf8')).toBe('');
  });

  it('rejects a NUL byte inside an argument', async () => {
    await expect(writeLaunchFiles(path.join(root, 'write-nul'), ['echo', 'a\0b'], {})).rejects.toThrow('an argument contains a NUL byte');
  });

  it('rejects a NUL byte inside an env value', async () => {
    await expect(writeLaunchFiles(path.join(root, 'write-nul-env'), ['echo'], { A: 'x\0y' })).rejects.toThrow('an environment value contains a NUL byte');
  });

  it('creates nested attempt dirs', async () => {
    const dir = path.join(root, 'deep', 'er', 'attempt-3');
    await writeLaunchFiles(dir, ['true'], {});
    expect((await stat(dir)).isDirectory()).toBe(true);
  });
});

describe('installBin', () => {
  // Paths with a space and a single quote, so the generated scripts must quote them.
  let binDir: string;
  let cli: string;
  let hookScript: string;

  beforeAll(async () => {
    const scripts = path.join(root, "it's a dir");
    await mkdir(scripts, { recursive: true });
    binDir = path.join(root, 'my bin');
    cli = path.join(scripts, 'cli $(x).mjs');
    hookScript = path.join(scripts, 'hook `y`.mjs');
    await writeFile(cli, 'process.stdout.write(JSON.stringify(process.argv.slice(2)));\n');
    await writeFile(hookScript, "let input = ''; process.stdin.on('data', (c) => (input += c)); process.stdin.on('end', () => process.stdout.write(JSON.stringify({ args: process.argv.slice(2), input })));\n");
  });

  it('writes launch.sh, reins and reins-hook, all executable, and returns their paths', async () => {
    const bin = await installBin(binDir, { reinsCli: cli, hookScript });
    expect(bin).toEqual({
      launcher: path.join(binDir, 'launch.sh'),
      reins: path.join(binDir, 'reins'),
      hook: path.join(binDir, 'reins-hook'),
    });
    expect(await readFile(bin.launcher, 'utf8')).toBe(LAUNCHER_SCRIPT);
    for (const file of Object.values(bin)) expect((await stat(file)).mode & 0o777, file).toBe(0o755);
  });

  it('writes sh scripts that exec this node on the given scripts, quoted', async () => {
    const bin = await installBin(binDir, { reinsCli: cli, hookScript });
    expect(await readFile(bin.reins, 'utf8')).toBe(`#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(cli)} "$@"\n`);
    expect(await readFile(bin.hook, 'utf8')).toBe(`#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(hookScript)}\n`);
  });

  it('runs `reins` with its arguments intact: spaces, quotes, $() and backticks stay text', async () => {
    const bin = await installBin(binDir, { reinsCli: cli, hookScript });
    const marker = path.join(root, 'bin-pwned');
    const args = ['checkpoint', '--data', `{"step": "two words", "q": "it's"}`, `$(touch ${marker})`, `\`touch ${marker}\``, '', ' lead', 'a\nb', '-x', '*'];
    const { stdout } = await run(bin.reins, args, { env: { PATH: '/usr/bin:/bin' } });
    expect(JSON.parse(stdout)).toEqual(args);
    await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('runs `reins` with no arguments', async () => {
    const bin = await installBin(binDir, { reinsCli: cli, hookScript });
    expect(JSON.parse((await run(bin.reins, [])).stdout)).toEqual([]);
  });

  it('runs `reins-hook` on the hook script with stdin passed through', async () => {
    const bin = await installBin(binDir, { reinsCli: cli, hookScript });
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile(bin.hook, [], (error, stdout) => (error ? reject(error) : resolve(stdout)));
      child.stdin!.end('{"hook_event_name":"PreToolUse"}');
    });
    expect(JSON.parse(out)).toEqual({ args: [], input: '{"hook_event_name":"PreToolUse"}' });
  });

  it('runs the hook through a shell as Claude Code does, given shQuote(hook) as the command', async () => {
    const bin = await installBin(binDir, { reinsCli: cli, hookScript });
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile('sh', ['-c', shQuote(bin.hook)], (error, stdout) => (error ? reject(error) : resolve(stdout)));
      child.stdin!.end('{}');
    });
    expect(JSON.parse(out)).toEqual({ args: [], input: '{}' });
  });

  it('makes files executable again when reinstalled over non-executable ones', async () => {
    const dir = path.join(root, 'bin-again');
    const first = await installBin(dir, { reinsCli: cli, hookScript });
    for (const file of Object.values(first)) await chmod(file, 0o644);
    const second = await installBin(dir, { reinsCli: '/other/cli.js', hookScript });
    for (const file of Object.values(second)) expect((await stat(file)).mode & 0o777, file).toBe(0o755);
    expect(await readFile(second.reins, 'utf8')).toContain(`'/other/cli.js' "$@"`);
  });
});

describe('shQuote', () => {
  const VALUES = [
    '',
    'plain',
    'two words',
    "it's",
    "''",
    `"double" and 'single'`,
    '$(touch /tmp/pwned)',
    '`id`',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion the launcher must pass through untouched.
    '$HOME ${HOME} $1 $@',
    'a\\b\\\\c',
    'line1\nline2\ttab',
    '; rm -rf / # comment',
    '*?[a-z]~',
    '-n',
    'ünïcode — 🌍',
    `'\\''`,
  ];

  it('wraps a value in single quotes, closing and escaping each inner quote', () => {
    expect(shQuote('abc')).toBe("'abc'");
    expect(shQuote('')).toBe("''");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('round-trips every value through sh byte for byte', async () => {
    const marker = path.join(root, 'quote-pwned');
    for (const value of [...VALUES, `$(touch ${marker})`, `\`touch ${marker}\``]) {
      const { stdout } = await run('sh', ['-c', `printf '%s' ${shQuote(value)}`]);
      expect(stdout, JSON.stringify(value)).toBe(value);
    }
    await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('makes one word of each value, however many spaces it holds', async () => {
    const script = `set -- ${VALUES.map(shQuote).join(' ')}; printf '%s\\0' "$@"`;
    const { stdout } = await run('sh', ['-c', script]);
    expect(stdout.split('\0').slice(0, -1)).toEqual(VALUES);
  });
});

/** Live members of a process group, from /proc (zombies waiting for a reaper do not count). */
function groupMembers(pgid: number): string[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
        const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(group) === pgid && state !== 'Z';
      } catch {
        return false;
      }
    });
}

function liveProcess(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('LAUNCHER_SCRIPT', () => {
  it('starts with a bash shebang', () => {
    expect(LAUNCHER_SCRIPT.startsWith('#!/usr/bin/env bash\n')).toBe(true);
  });

  it('runs the argv exactly, with only the given env, and records pid, stdout, stderr and exit code', async () => {
    const dir = path.join(root, 'run-1');
    const script = [
      'console.log(JSON.stringify(process.argv.slice(1)));',
      "console.log(JSON.stringify(require('fs').readFileSync('/proc/self/cmdline', 'utf8').split('\\0').slice(0, -1)));",
      'console.log(JSON.stringify(Object.keys(process.env).sort()));',
      'console.log(JSON.stringify(process.env.FOO));',
      "process.stderr.write('to stderr\\n');",
      'process.exit(3);',
    ].join(' ');
    const argv = [process.execPath, '-e', script, '--', NASTY];
    await writeLaunchFiles(dir, argv, { PATH: process.env.PATH ?? '/usr/bin:/bin', FOO: 'bar $(id) "q"\nnext' });

    const { stdout } = await run('bash', [launcher, dir], { env: { PATH: process.env.PATH, LEAK_ME: 'secret' } });

    const lines = (await readFile(path.join(dir, 'stdout.jsonl'), 'utf8')).split('\n');
    expect(lines).toHaveLength(5);
    // node itself drops the "--" after -e; the prompt arrives whole as one argument.
    expect(JSON.parse(lines[0]!)).toEqual([NASTY]);
    // What the kernel started, byte for byte: exactly the argv file.
    expect(JSON.parse(lines[1]!)).toEqual(argv);
    // `env -i` starts from nothing: node sees only what the env file holds.
    expect(JSON.parse(lines[2]!)).toEqual(['FOO', 'PATH']);
    expect(JSON.parse(lines[3]!)).toBe('bar $(id) "q"\nnext');
    expect(lines[4]).toBe('');

    // tee also writes to the launcher's stdout (the tmux pane).
    expect(stdout).toBe(await readFile(path.join(dir, 'stdout.jsonl'), 'utf8'));
    expect(await readFile(path.join(dir, 'stderr.log'), 'utf8')).toBe('to stderr\n');
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('3\n');
    expect(await readFile(path.join(dir, 'pid'), 'utf8')).toMatch(/^\d+\n$/);
    await expect(stat(path.join(dir, 'exit.tmp'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('runs nothing through a shell: $() and backticks in the prompt stay text', async () => {
    const dir = path.join(root, 'run-inject');
    const marker = path.join(root, 'pwned');
    const prompt = `$(touch ${marker}) \`touch ${marker}\` ; touch ${marker}`;
    await writeLaunchFiles(dir, [process.execPath, '-e', 'console.log(JSON.stringify(process.argv[1]))', prompt], { PATH: '/usr/bin:/bin' });
    await run('bash', [launcher, dir]);
    expect(JSON.parse((await readFile(path.join(dir, 'stdout.jsonl'), 'utf8')).trim())).toBe(prompt);
    await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('0\n');
  });

  it('starts stdout afresh on a second run in the same dir, and records exit 0', async () => {
    const dir = path.join(root, 'run-again');
    await writeLaunchFiles(dir, [process.execPath, '-e', 'console.log("{}")'], {});
    await run('bash', [launcher, dir]);
    await run('bash', [launcher, dir]);
    expect(await readFile(path.join(dir, 'stdout.jsonl'), 'utf8')).toBe('{}\n');
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('0\n');
  });

  it("records the agent's own pid, which leads its process group", async () => {
    const dir = path.join(root, 'run-pgid');
    const script = 'const fs=require("fs");const stat=fs.readFileSync("/proc/self/stat","utf8").split(") ")[1].split(" ");console.log(JSON.stringify({pid:process.pid,pgid:Number(stat[2])}))';
    await writeLaunchFiles(dir, [process.execPath, '-e', script], {});
    await run('bash', [launcher, dir]);
    const seen = JSON.parse(await readFile(path.join(dir, 'stdout.jsonl'), 'utf8')) as { pid: number; pgid: number };
    expect(seen.pgid).toBe(seen.pid);
    expect(Number(await readFile(path.join(dir, 'pid'), 'utf8'))).toBe(seen.pid);
  });

  it('stops the agent and everything it started once the lease deadline passes', async () => {
    const dir = path.join(root, 'run-lease');
    const grandchildPid = path.join(dir, 'grandchild.pid');
    // The agent starts a grandchild that would run for ever; once it runs, the lease is made to expire.
    const script = `require("child_process").spawn("sh",["-c","echo $$ > ${grandchildPid}; exec sleep infinity"],{stdio:"ignore"});setInterval(()=>{},1000)`;
    await writeLaunchFiles(dir, [process.execPath, '-e', script], {});
    await writeFile(path.join(dir, 'lease'), `${Date.now() + 600_000}\n`);
    const launched = run('bash', [launcher, dir]);
    const pid = Number(await waitFor(async () => (await readFile(grandchildPid, 'utf8').catch(() => '')).trim() || undefined, 'the grandchild to start'));
    await writeFile(path.join(dir, 'lease'), `${Date.now() - 1}\n`);
    await launched;
    expect(await readFile(path.join(dir, 'stderr.log'), 'utf8')).toContain('the worker lease expired');
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('143\n');
    // The mark the worker reads to call this end fenced, not a crash, however it saw the end.
    expect(existsSync(path.join(dir, 'lease-stopped'))).toBe(true);
    expect(liveProcess(pid)).toBe(false);
  });

  it('stops the whole process group, SIGKILLing a child that ignores SIGTERM after the grace period', async () => {
    const dir = path.join(root, 'run-stubborn');
    // The agent's child ignores SIGTERM; only SIGKILL ends it.
    await writeLaunchFiles(dir, ['sh', '-c', `sh -c 'trap "" TERM; sleep 30' & wait`], { PATH: '/usr/bin:/bin' });
    await writeFile(path.join(dir, 'lease'), `${Date.now() + 300}\n`);
    await run('bash', [launcher, dir, '300']);
    const pgid = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('never takes an empty or unreadable lease for an expired one (a renewal caught half-written)', async () => {
    const dir = path.join(root, 'run-empty-lease');
    await writeLaunchFiles(dir, [process.execPath, '-e', 'setTimeout(()=>process.exit(0),700)'], {});
    await writeFile(path.join(dir, 'lease'), '');
    await run('bash', [launcher, dir]);
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('0\n');
  });

  it('leaves the agent alone while the lease is renewed', async () => {
    const dir = path.join(root, 'run-renewed');
    const gate = path.join(dir, 'gate');
    await writeLaunchFiles(dir, gatedNodeAgent(gate).argv, {});
    const lease = path.join(dir, 'lease');
    await writeFile(lease, `${Date.now() + 300}\n`);
    let renewals = 0;
    const renew = setInterval(() => void writeFile(lease, `${Date.now() + 300}\n`).then(() => (renewals += 1)), 100);
    try {
      const launched = run('bash', [launcher, dir]);
      // Each 0.3 s deadline has been replaced a few times over before the agent is let go.
      const started = Date.now();
      await waitFor(() => renewals >= 10 && Date.now() > started + 1_000, 'ten renewals, past three deadlines');
      openGate(gate);
      await launched;
    } finally {
      clearInterval(renew);
    }
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('0\n');
    expect(await readFile(path.join(dir, 'stderr.log'), 'utf8')).not.toContain('lease expired');
    expect(existsSync(path.join(dir, 'lease-stopped'))).toBe(false);
  });

  it('records when the agent started and stopped', async () => {
    const dir = path.join(root, 'run-times');
    const script = 'console.log(Date.now()); setTimeout(() => console.log(Date.now()), 50)';
    await writeLaunchFiles(dir, [process.execPath, '-e', script], {});
    await run('bash', [launcher, dir]);
    const [first, last] = (await readFile(path.join(dir, 'stdout.jsonl'), 'utf8')).trim().split('\n').map(Number);
    const [interval] = agentIntervals(path.dirname(path.dirname(path.dirname(dir))), path.basename(path.dirname(path.dirname(dir))), path.basename(path.dirname(dir)));
    const lines = (await readFile(path.join(dir, 'times'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['start', 'stop']);
    const [start, stop] = lines.map((l) => Number(l.split(' ')[1]));
    expect(start).toBeLessThanOrEqual(first!);
    expect(stop).toBeGreaterThanOrEqual(last!);
    expect(interval).toBeUndefined(); // run-times is not under runs/<run>/<member>/e*
  });

  it('records the stop of an agent stopped by a hang-up (tmux kill-session) once its group is gone', async () => {
    const member = path.join(root, 'runs', 'r-1', 'solo');
    const first = path.join(member, 'e1');
    const gate = path.join(member, 'never-opened');
    await writeLaunchFiles(first, ['sh', '-c', `sh -c 'trap "" TERM; while [ ! -e "$1" ]; do sleep 0.05; done' sh '${gate}' & wait`], { PATH: '/usr/bin:/bin' });
    // In a group of its own, as in a tmux pane: kill-session hangs up the whole pane group (the viewer too).
    const launcher1 = spawn('bash', [launcher, first, '300'], { stdio: 'ignore', detached: true });
    const exited = new Promise((resolve) => launcher1.once('exit', resolve));
    const pgid = Number(await waitFor(async () => (await readFile(path.join(first, 'pid'), 'utf8').catch(() => '')).trim() || undefined, 'the agent pid'));
    await waitFor(() => groupMembers(pgid).length >= 2, 'the agent and its child');
    process.kill(-launcher1.pid!, 'SIGHUP');
    await exited;
    expect(groupMembers(pgid)).toEqual([]);
    const second = path.join(member, 'e2');
    await writeLaunchFiles(second, [process.execPath, '-e', ''], {});
    await run('bash', [launcher, second]);
    const intervals = agentIntervals(root, 'r-1', 'solo');
    expect(intervals.map((i) => path.basename(i.attemptDir))).toEqual(['e1', 'e2']);
    expect(intervals.every((i) => i.stopMs !== undefined)).toBe(true);
    expect(overlappingAgents(intervals)).toEqual([]);
    // And the check can fail: an agent with no stop overlaps the one after it.
    expect(overlappingAgents([{ ...intervals[0]!, stopMs: undefined }, intervals[1]!])).toHaveLength(1);
    expect(overlappingAgents([{ ...intervals[0]!, stopMs: intervals[1]!.startMs + 1 }, intervals[1]!])).toHaveLength(1);
    expect(existsSync(gate)).toBe(false);
  });

  it('records the exit code of a program that cannot be found', async () => {
    const dir = path.join(root, 'run-missing');
    await writeLaunchFiles(dir, [path.join(root, 'no-such-program')], { PATH: '/usr/bin:/bin' });
    await run('bash', [launcher, dir]);
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('127\n');
    expect(await readFile(path.join(dir, 'stderr.log'), 'utf8')).toContain('no-such-program');
  });

  it('runs a program whose path contains "=" instead of reading it as a variable', async () => {
    const progDir = path.join(root, 'tools=v2');
    await mkdir(progDir, { recursive: true });
    const prog = path.join(progDir, 'agent.sh');
    await writeFile(prog, '#!/bin/sh\necho ran\nexit 4\n');
    await chmod(prog, 0o755);
    const dir = path.join(root, 'run-eq');
    await writeLaunchFiles(dir, [prog], { PATH: '/usr/bin:/bin' });
    await run('bash', [launcher, dir]);
    expect(await readFile(path.join(dir, 'stdout.jsonl'), 'utf8')).toBe('ran\n');
    expect(await readFile(path.join(dir, 'exit'), 'utf8')).toBe('4\n');
  });
});
