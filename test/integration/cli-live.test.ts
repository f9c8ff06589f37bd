import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createKeys } from '@reins/shared';
import { storeOf, waitFor } from '../helpers/chaos.js';
import { reinsBin, withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';

const nodeAgent = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });
const ESC = '\u001b';

const redis = useRedis();

interface Terminal {
  /** Runs `reins ARGS` in a new 120x40 tmux session; when it ends, the pane shows `[exit=N]` and stays. */
  reins(name: string, args: string[], env?: Record<string, string>): Promise<void>;
  /** The pane's screen as text; with `escapes`, with its colours as SGR sequences. */
  screen(name: string, options?: { escapes?: boolean }): Promise<string>;
  /** Waits until the pane's screen matches, and returns the match. */
  waitForScreen(name: string, pattern: RegExp, label: string, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/**
 * Real terminals for the CLI: sessions on a private tmux server under the test root, started with the
 * fleet's environment (minus any outer tmux and colour settings), and always killed afterwards.
 */
async function withTerminal<T>(fleet: Fleet, story: (terminal: Terminal) => Promise<T>): Promise<T> {
  const socket = path.join(tempDir('tty'), 'tmux.sock');
  const { TMUX: _tmux, TMUX_PANE: _pane, NO_COLOR: _noColour, FORCE_COLOR: _force, ...env } = fleet.env;
  const tmux = (...args: string[]) => execa('tmux', ['-f', '/dev/null', '-S', socket, ...args], { env, extendEnv: false, stdin: 'ignore' });
  const terminal: Terminal = {
    reins: async (name, args, extra = {}) => {
      const vars = Object.entries(extra).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
      // argv travels as sh's positional parameters: nothing in it is parsed as shell code.
      await tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', ...vars, '--', 'sh', '-c', '"$@"; echo "[exit=$?]"; exec sleep infinity', 'sh', process.execPath, reinsBin, ...args);
    },
    screen: async (name, { escapes = false } = {}) => (await tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', `=${name}:`)).stdout,
    waitForScreen: async (name, pattern, label, timeoutMs = 30_000) => {
      let last = '';
      try {
        return await waitFor(
          async () => {
            last = await terminal.screen(name);
            return pattern.exec(last) ?? undefined;
          },
          label,
          timeoutMs,
          100,
        );
      } catch (error) {
        (error as Error).message += `\nscreen of ${name}:\n${last}`;
        throw error;
      }
    },
  };
  try {
    return await story(terminal);
  } finally {
    await tmux('kill-server').catch(() => undefined);
  }
}

const count = (text: string, word: string) => text.split(word).length - 1;

describe('the CLI for people', () => {
  it('shows a live table on a terminal for status --watch and submit --wait, and plain lines elsewhere', async () => {
    const dir = tempDir('live');
    const lines = [
      { type: 'system', subtype: 'init', session_id: 's-live', model: 'fake' },
      { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Bash', input: { command: 'make all' } }] } },
    ];
    const result = { type: 'result', subtype: 'success', is_error: false, result: 'built', num_turns: 1, total_cost_usd: 0.0125 };
    // The builder shows its tool call, then runs until the test has seen it live and opens the gate.
    const gate = path.join(dir, 'gate');
    const builder = `for (const l of ${JSON.stringify(lines.map((l) => JSON.stringify(l)))}) console.log(l); const t = setInterval(() => { if (require('fs').existsSync(process.argv[1])) { clearInterval(t); console.log(${JSON.stringify(JSON.stringify(result))}); } }, 25)`;
    const file = await writeHarness(dir, {
      name: 'live',
      agent: nodeAgent('console.log(JSON.stringify({ type: "assistant", message: { content: [{ type: "text", text: "checked" }] } }))'),
      team: [
        { name: 'builder', prompt: 'build', agent: { kind: 'command', argv: [process.execPath, '-e', builder, gate] } },
        { name: 'checker', prompt: 'check', depends_on: ['builder'] },
      ],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      await withTerminal(fleet, async (terminal) => {
        await terminal.reins('submit', ['submit', file, '--wait']);
        const runId = (await terminal.waitForScreen('submit', /submitted (r-[a-z0-9]+)/, 'the run id'))[1]!;
        await terminal.reins('watch', ['status', runId, '--watch']);
        // Off a terminal, at the same time: change lines, and the builder's events as they come.
        // Read as it comes: the gate opens only once this watcher, too, has seen the builder running.
        const plainWatch = execa(process.execPath, [reinsBin, 'status', runId, '--watch'], { env: fleet.env, extendEnv: false, stdin: 'ignore', reject: false });
        let plainSoFar = '';
        plainWatch.stdout!.on('data', (chunk: Buffer) => (plainSoFar += chunk.toString('utf8')));
        const followed = fleet.reins(['logs', runId, 'builder', '-f']);

        const header = /MEMBER\s+STATE\s+ATTEMPT\s+HEARTBEAT\s+COST\s+TOKENS\s+LAST EVENT/;
        const running = /builder\s+running\s+\d+\s+\d+ s ago\s+-\s+-\s+[\d.]+ s ago\s+tool: Bash make all/;
        await terminal.waitForScreen('watch', running, 'the live table with the builder running');
        const during = await terminal.screen('watch');
        expect(during).toMatch(header);
        expect(during).toMatch(/checker\s+pending\s+-\s+-\s+-\s+-/);
        expect(during).toMatch(new RegExp(`run ${runId} \\(live\\): running, .*0/2 succeeded`));
        // Redrawn in place: once another frame has been drawn (the "s ago" moved on), still one table on the screen.
        const redrawn = await waitFor(
          async () => {
            const screen = await terminal.screen('watch');
            return screen !== during && running.test(screen) ? screen : undefined;
          },
          'another frame of the live table',
          30_000,
          50,
        );
        expect(count(redrawn, 'HEARTBEAT')).toBe(1);
        await terminal.waitForScreen('submit', running, 'the live table under submit --wait');
        await waitFor(() => plainSoFar.includes('  builder: running'), 'the plain watcher to see the builder running');
        writeFileSync(gate, '');

        const ended = await terminal.waitForScreen('watch', /\[exit=(\d+)\]/, 'status --watch to end');
        expect(ended[1]).toBe('0');
        const final = await terminal.screen('watch');
        expect(final).toContain(`run ${runId} (live): succeeded`);
        expect(final).toMatch(/builder\s+succeeded\s+\d+\s+1\s+\$0\.0125/);
        expect(final).toMatch(/checker\s+succeeded\s+1/);
        // The final status replaced the live table.
        expect(final).not.toContain('HEARTBEAT');
        expect(count(final, 'MEMBER')).toBe(1);
        expect(await terminal.screen('watch', { escapes: true })).toContain(`${ESC}[32msucceeded`);
        expect((await terminal.waitForScreen('submit', /\[exit=(\d+)\]/, 'submit --wait to end'))[1]).toBe('0');
        const submitScreen = await terminal.screen('submit');
        expect(submitScreen).toContain(`run ${runId} (live): succeeded`);
        expect(submitScreen).not.toContain('HEARTBEAT');

        // NO_COLOR wins, even on a terminal.
        await terminal.reins('plain', ['status', runId], { NO_COLOR: '1' });
        await terminal.waitForScreen('plain', /\[exit=0\]/, 'status under NO_COLOR');
        expect(await terminal.screen('plain', { escapes: true })).not.toContain(`${ESC}[32m`);

        const plain = await plainWatch;
        expect(plain.exitCode, String(plain.stderr)).toBe(0);
        expect(plain.stdout).toContain('  builder: running');
        expect(plain.stdout).toContain('  checker: succeeded');
        expect(plain.stdout).toContain(`run ${runId} (live): succeeded`);
        expect(plain.stdout).not.toContain(ESC);

        const logs = await followed;
        expect(logs.exitCode, logs.stderr).toBe(0);
        expect(logs.stdout).toMatch(/attempt\s+attempt \d+ started on w1 \(/);
        expect(logs.stdout).toMatch(/init\s+session s-live started \(fake\)/);
        expect(logs.stdout).toMatch(/tool\s+Bash make all/);
        expect(logs.stdout).toMatch(/result\s+success in 1 turn, \$0\.0125: built/);
        expect(logs.stdout).toMatch(/attempt\s+attempt \d+ succeeded\n?$/);
        expect(logs.stdout).not.toContain(ESC);
      });

      // The same run, read back: raw lines, JSON lines, the run list and the workers.
      const runId = ((await fleet.reins(['runs', '--json'])).stdout.match(/"runId":"(r-[a-z0-9]+)"/) ?? [])[1]!;
      const raw = await fleet.reins(['logs', runId, 'builder', '--raw']);
      expect(raw.exitCode).toBe(0);
      const rawLines = raw.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string });
      expect(rawLines.map((l) => l.type).slice(-3)).toEqual(['system', 'assistant', 'result']);
      expect(rawLines.at(-2)).toEqual(lines[1]);
      const rawNoMember = await fleet.reins(['logs', runId, '--raw']);
      expect(rawNoMember.exitCode).toBe(2);
      expect(rawNoMember.stderr).toContain('--raw needs a MEMBER');

      const json = await fleet.reins(['logs', runId, '--json']);
      expect(json.exitCode).toBe(0);
      const entries = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { member: string; kind: string; text: string; at: number; id: string });
      expect(entries).toContainEqual(expect.objectContaining({ member: 'builder', kind: 'tool', text: 'Bash make all' }));
      expect(entries).toContainEqual(expect.objectContaining({ member: 'checker', kind: 'text', text: 'checked' }));
      expect(entries.map((e) => e.at)).toEqual([...entries.map((e) => e.at)].sort((a, b) => a - b));

      const listed = JSON.parse((await fleet.reins(['runs', '--json'])).stdout) as { runs: { runId: string; name: string; status: string; costUsd: number; members: { name: string; status: string }[] }[] };
      expect(listed.runs).toEqual([expect.objectContaining({ runId, name: 'live', status: 'succeeded', costUsd: 0.0125 })]);
      expect(listed.runs[0]!.members).toEqual([
        { name: 'builder', status: 'succeeded', attempts: expect.any(Number) },
        { name: 'checker', status: 'succeeded', attempts: expect.any(Number) },
      ]);
      expect(JSON.parse((await fleet.reins(['runs', '--status', 'failed', '--json'])).stdout)).toEqual({ runs: [] });
      const table = await fleet.reins(['runs', '--limit', '5']);
      expect(table.stdout).toMatch(new RegExp(`${runId}\\s+live\\s+succeeded\\s+2/2\\s+\\$0\\.0125\\s+[\\d.]+ s ago`));
      const badStatus = await fleet.reins(['runs', '--status', 'done']);
      expect(badStatus.exitCode).toBe(2);
      expect(badStatus.stderr).toContain('expected --status to be one of queued, running, succeeded, failed, cancelled, budget_exhausted, refused, got "done"');
      const badLimit = await fleet.reins(['runs', '--limit', '0']);
      expect(badLimit.exitCode).toBe(2);
      expect(badLimit.stderr).toContain('expected --limit to be a whole number from 1 to 1000, got "0"');

      const workers = JSON.parse((await fleet.reins(['workers', '--json'])).stdout) as { workers: { workerId: string; host: string; slots: number; used: number }[] };
      expect(workers.workers).toEqual([expect.objectContaining({ workerId: 'w1', host: os.hostname(), slots: 4, used: 0 })]);
      expect((await fleet.reins(['workers'])).stdout).toMatch(new RegExp(`w1\\s+${os.hostname()}\\s+running\\s+0/4\\s+-\\s+`));
    });
  });

  it('attaches to an agent on this host, says how from another host, and refuses one that is not running', async () => {
    const file = await writeHarness(tempDir('attach'), {
      name: 'attachable',
      // Runs until cancelled: the story ends it with `reins cancel`.
      agent: nodeAgent('console.log("ATTACH-MARKER " + process.env.REINS_MEMBER); setInterval(() => {}, 1 << 30)'),
      team: [{ name: 'sleeper', prompt: 'wait' }],
    });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const member = await waitFor(async () => {
        const m = await store.getMember(runId, 'sleeper');
        return m?.status === 'running' && m.tmuxSocket && m.tmuxSession ? m : undefined;
      }, 'the sleeper to run');
      const command = `tmux -S ${member.tmuxSocket!} attach -t =${member.tmuxSession!}`;

      const noTerminal = await fleet.reins(['attach', runId, 'sleeper']);
      expect(noTerminal.exitCode).toBe(1);
      expect(noTerminal.stderr).toContain(`needs a terminal (stdin is not one); run it in a terminal, or run:\n  ${command}`);

      await withTerminal(fleet, async (terminal) => {
        await terminal.reins('attach', ['attach', runId, 'sleeper']);
        // The agent's own screen, seen through the attached client.
        await terminal.waitForScreen('attach', /ATTACH-MARKER sleeper/, "the agent's session");
        await execa('tmux', ['-S', member.tmuxSocket!, 'detach-client', '-s', `=${member.tmuxSession!}`]);
        expect((await terminal.waitForScreen('attach', /\[exit=(\d+)\]/, 'attach to end after detaching'))[1]).toBe('0');
      });

      await redis.client.hset(createKeys(fleet.prefix).member(runId, 'sleeper'), 'host', 'elsewhere.example');
      const remote = await fleet.reins(['attach', runId, 'sleeper']);
      expect(remote.exitCode, remote.stderr).toBe(0);
      expect(remote.stdout).toBe(`sleeper runs on elsewhere.example; to watch it, run there:\n  ${command}`);

      expect((await fleet.reins(['cancel', runId])).exitCode).toBe(0);
      const stopped = await fleet.reins(['attach', runId, 'sleeper']);
      expect(stopped.exitCode).toBe(1);
      expect(stopped.stderr).toContain(`sleeper of run ${runId} was cancelled, so there is no session to attach to; reins logs ${runId} sleeper shows what it did`);
      expect(stopped.stderr).not.toContain('(it is');
      const unknown = await fleet.reins(['attach', runId, 'nobody']);
      expect(unknown.exitCode).toBe(2);
    });
  });
});
