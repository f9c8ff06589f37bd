import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { terminalJson } from '../../libs/shared/src/control-chars.js';
import { waitFor } from '../helpers/chaos.js';
import { reinsBin, withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';

const redis = useRedis();

// What issue 11 printed raw: OSC 52 (writes the clipboard), OSC 0 (the window title), CSI 2J (clears the
// screen); and U+009B, CSI as one C1 character, and U+202E, which reverses how the rest of a line reads.
const HOSTILE = '\u001b]52;c;cm0gLXJmIH4=\u0007\u001b]0;pwned\u0007\u001b[2J\u009b2J\u202eevil';
const SHOWN = '\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]0;pwned\\x07\\x1b[2J\\x9b2J\\u202eevil';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters the test looks for.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/**
 * The sequences reins itself writes on a terminal: colours (SGR), and the live table's redraw (CR and
 * cursor up, erase to the end of the line and of the screen, cursor hidden and shown).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: reins's own sequences, which are allowed.
const REINS_SEQUENCES = /\u001b\[[0-9;]*m|\r\u001b\[\d+A|\u001b\[[KJ]|\u001b\[\?25[lh]/g;
const ESC = '\u001b';
// biome-ignore lint/suspicious/noControlCharactersInRegex: a colour, which NO_COLOR turns off.
const SGR = /\u001b\[[0-9;]*m/;

/** Escape sequences an agent smuggled in: anything a terminal acts on, once reins's own sequences are set aside. */
const smuggled = (bytes: string): string[] => bytes.replace(REINS_SEQUENCES, '').match(new RegExp(UNSAFE.source, 'g')) ?? [];

interface OnTerminal {
  /** What it wrote so far, byte for byte. */
  output(): string;
  /** Waits until it has written `text`; the failure shows what it wrote instead. */
  untilWritten(text: string, label: string): Promise<void>;
  done: Promise<{ exitCode: number; output: string }>;
  /** Ends it, if it still runs. */
  kill(): void;
}

/**
 * Runs `reins ARGS` on a pseudo-terminal of 200x50 (script(1)), so its stdout is a TTY, and keeps every
 * byte it writes. `-onlcr`: the terminal adds no CR of its own, so a CR in the output is the CLI's.
 */
function onTerminal(fleet: Fleet, args: string[], env: Record<string, string> = {}): OnTerminal {
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  const command = `stty cols 200 rows 50 -onlcr; exec ${[process.execPath, reinsBin, ...args].map(quote).join(' ')}`;
  const { NO_COLOR: _noColour, FORCE_COLOR: _force, ...base } = fleet.env;
  const child = execa('script', ['-qfec', command, '/dev/null'], { env: { ...base, ...env }, extendEnv: false, stdin: 'ignore', reject: false, encoding: 'utf8' });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return {
    output: () => output,
    untilWritten: async (text, label) => {
      try {
        await waitFor(() => output.includes(text), label, 30_000);
      } catch (error) {
        (error as Error).message += `\nit wrote, as JSON: ${terminalJson(output.slice(-1_500))}`;
        throw error;
      }
    },
    done: child.then((r) => ({ exitCode: r.exitCode ?? -1, output })),
    kill: () => void child.kill('SIGKILL'),
  };
}

describe('terminals are safe from what agents print', () => {
  it('escapes OSC 52, OSC 0, CSI 2J, C1 and bidi from agent output in logs, status, status --watch and the rest, on a terminal and off it', async () => {
    const dir = tempDir('terminal-safety');
    const gate = path.join(dir, 'gate');
    // In the agent's argv as printable ASCII (terminalJson writes every control character as \uNNNN).
    const loud = [
      `const H = ${terminalJson(HOSTILE)};`,
      "console.log('plain ' + H);",
      `console.log(JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'said ' + H }] } }));`,
      "const t = setInterval(() => { if (require('fs').existsSync(process.argv[1])) { clearInterval(t); console.log('last ' + H); } }, 25);",
    ].join('\n');
    const broken = `process.stderr.write('broke ' + ${terminalJson(HOSTILE)} + '\\n'); process.exit(1);`;
    const file = await writeHarness(dir, {
      name: 'hostile',
      agent: { kind: 'command', argv: [process.execPath, '-e', broken] },
      retry: { attempts: 1 },
      team: [
        { name: 'loud', prompt: 'print', agent: { kind: 'command', argv: [process.execPath, '-e', loud, gate] } },
        { name: 'broken', prompt: 'fail', depends_on: ['loud'] },
      ],
    });

    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const submitted = await fleet.reins(['submit', file]);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const runId = submitted.stdout.trim();

      // Followed live, on a terminal (the live table) and off one (change lines), NO_COLOR or not.
      const watch = onTerminal(fleet, ['status', runId, '--watch']);
      const watchNoColour = onTerminal(fleet, ['status', runId, '--watch'], { NO_COLOR: '1' });
      const piped = execa(process.execPath, [reinsBin, 'status', runId, '--watch'], { env: fleet.env, extendEnv: false, stdin: 'ignore', reject: false });
      try {
        // The live table shows loud's newest event, the agent's text, escaped, while loud waits for the gate.
        await watch.untilWritten(`text: said ${SHOWN}`, 'the live table to show what loud said, escaped');
        await watchNoColour.untilWritten(`text: said ${SHOWN}`, 'the NO_COLOR live table to show what loud said, escaped');
        writeFileSync(gate, '');

        for (const terminal of [watch, watchNoColour]) {
          const { exitCode, output } = await terminal.done;
          expect(exitCode, output).toBe(1);
          expect(smuggled(output)).toEqual([]);
          // The final status, after the live table: the summary and the failure, escaped.
          expect(output).toContain(`summary:   plain ${SHOWN}`);
          expect(output).toContain(`last ${SHOWN}`);
          expect(output).toContain(`error:     [crash] command exited with code 1: broke ${SHOWN}`);
        }
        expect((await watch.done).output).toContain(`${ESC}[31mfailed${ESC}[0m`);
        expect((await watchNoColour.done).output).not.toMatch(SGR);
        const plain = await piped;
        expect(plain.exitCode, plain.stderr).toBe(1);
        expect(plain.stdout).not.toMatch(UNSAFE);
        expect(plain.stdout).toContain(`  broken: failed — command exited with code 1: broke ${SHOWN}`);
      } finally {
        // A failure leaves nothing running: loud may end, and the watchers are stopped (a no-op once they ended).
        writeFileSync(gate, '');
        for (const terminal of [watch, watchNoColour]) terminal.kill();
        piped.kill('SIGKILL');
      }

      // Off a terminal, with NO_COLOR and without: nothing raw, and the agent's words are there, escaped.
      await fleet.reins(['task', 'add', `tidy ${HOSTILE}`, '--run', runId, '--as', 'loud']);
      await fleet.reins(['msg', 'send', 'broken', `hello ${HOSTILE}`, '--run', runId, '--as', 'loud']);
      for (const env of [{}, { NO_COLOR: '1' }] as Record<string, string>[]) {
        const outputs = {
          logs: await fleet.reins(['logs', runId], { env }),
          status: await fleet.reins(['status', runId], { env }),
          runs: await fleet.reins(['runs'], { env }),
          tasks: await fleet.reins(['task', 'list', '--run', runId, '--as', 'loud'], { env }),
          inbox: await fleet.reins(['msg', 'inbox', '--all', '--run', runId, '--as', 'broken'], { env }),
        };
        for (const [name, result] of Object.entries(outputs)) {
          expect(result.stdout, name).not.toMatch(UNSAFE);
          expect(result.stderr, name).not.toMatch(UNSAFE);
        }
        expect(outputs.logs.stdout).toMatch(new RegExp(`loud\\s+output\\s+plain ${escapeRegExp(SHOWN)}`));
        expect(outputs.logs.stdout).toMatch(new RegExp(`loud\\s+text\\s+said ${escapeRegExp(SHOWN)}`));
        expect(outputs.logs.stdout).toContain(`attempt 1 ended: crash: command exited with code 1: broke ${SHOWN}`);
        expect(outputs.status.exitCode).toBe(1);
        expect(outputs.status.stdout).toContain(`summary:   plain ${SHOWN}`);
        expect(outputs.tasks.stdout).toContain(`tidy ${SHOWN}`);
        expect(outputs.inbox.stdout).toContain(`from loud: hello ${SHOWN}`);
      }

      // --json stays exact: the agent's very characters once parsed, none of them raw in the bytes.
      const json = await fleet.reins(['logs', runId, '--json']);
      expect(json.stdout).not.toMatch(UNSAFE);
      const texts = json.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { text: string }).text);
      expect(texts).toContain(`said ${HOSTILE}`);
      const view = await fleet.reins(['status', runId, '--json']);
      expect(view.stdout).not.toMatch(UNSAFE);
      expect((JSON.parse(view.stdout) as { members: { name: string; error?: string }[] }).members.find((m) => m.name === 'broken')?.error).toBe(`command exited with code 1: broke ${HOSTILE}`);

      // --raw into a pipe: the agent's lines byte for byte, escape sequences included.
      const raw = await fleet.reins(['logs', runId, 'loud', '--raw']);
      expect(raw.exitCode, raw.stderr).toBe(0);
      expect(raw.stdout.split('\n')).toContain(`plain ${HOSTILE}`);

      // On a terminal: --raw is escaped, and logs and status under NO_COLOR write no escape at all.
      const rawOnTerminal = await onTerminal(fleet, ['logs', runId, 'loud', '--raw']).done;
      expect(rawOnTerminal.exitCode, rawOnTerminal.output).toBe(0);
      expect(rawOnTerminal.output).not.toMatch(UNSAFE);
      expect(rawOnTerminal.output).toContain(`plain ${SHOWN}\n`);
      for (const args of [
        ['logs', runId],
        ['status', runId],
      ]) {
        const { output } = await onTerminal(fleet, args, { NO_COLOR: '1' }).done;
        expect(output, args.join(' ')).not.toMatch(UNSAFE);
        expect(output, args.join(' ')).toContain(SHOWN);
        const colouredOutput = (await onTerminal(fleet, args).done).output;
        expect(colouredOutput).toMatch(SGR);
        expect(smuggled(colouredOutput)).toEqual([]);
      }
    });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
