import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError, appBin, loadConfig, projectRoot, resolveClaudeBin, tmuxAttachCommand } from '@reins/shared';
import { execa } from 'execa';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const DESIGN_HELP = `Usage: reins design [GOAL] [--out DIR]

Opens Claude Code with the reins plugin and begins /reins:design: you and Claude settle the goal, the
repository, the team, the skills it needs and the checks that say "done"; it writes harness.yaml (and any
new skills) in DIR and runs reins validate until the file is clean. Then: reins submit DIR/harness.yaml.
In a terminal the session is yours; otherwise it starts in a tmux session and the attach command is printed.
  --out DIR   where harness.yaml is written (default: this folder)`;

/** The plugin that ships with reins, beside its skills. */
export const PLUGIN_DIR = path.join(projectRoot, 'plugin');

export async function design(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('design', argv, { out: { type: 'string' } }, { min: 0, max: 1, names: 'at most one GOAL (quote it)' });
  if (values.help) return help(DESIGN_HELP);
  const config = loadConfig(process.env, flagOverrides(values));
  const claude = resolveClaudeBin(config.claudeBin);
  if (!claude) throw new UsageError('reins design: no Claude Code CLI found (install @anthropic-ai/claude-code, or set REINS_CLAUDE_BIN)');
  const out = path.resolve(values.out ?? '.');
  await mkdir(out, { recursive: true });
  const goal = positionals[0]?.trim() ?? '';
  if (goal.includes('\0') || Buffer.byteLength(goal) > 10_000) throw new UsageError(`reins design: GOAL must be text of at most 10000 bytes without NUL bytes, got ${Buffer.byteLength(goal)} bytes`);
  // One argv element each, never a shell: the goal is the person's own words. `--` ends --allowedTools' list.
  const args = ['--plugin-dir', PLUGIN_DIR, '--permission-mode', 'acceptEdits', '--allowedTools', 'Bash(reins validate:*)', '--', `/reins:design${goal ? ` ${goal}` : ''}`];
  // `reins validate` inside the session is this reins.
  const env: Record<string, string | undefined> = { ...process.env, PATH: `${path.dirname(appBin('cli', 'reins'))}${path.delimiter}${process.env.PATH ?? ''}` };
  if (process.stdin.isTTY && process.stdout.isTTY) {
    const child = spawn(claude, args, { cwd: out, env, stdio: 'inherit' });
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    console.error(`reins design: when harness.yaml is ready: reins submit ${path.join(out, 'harness.yaml')}`);
    return code === 0 ? EXIT.ok : EXIT.failed;
  }
  // No terminal here: the session waits in tmux, on a socket of its own under the data dir.
  const socket = path.join(config.dataDir, 'tmux', 'design.sock');
  await mkdir(path.dirname(socket), { recursive: true });
  const session = `reins-design-${Date.now().toString(36)}`;
  const envArgs = ['PATH', 'HOME', ...Object.keys(env).filter((k) => /^(ANTHROPIC_|CLAUDE_CODE_|DISABLE_|IS_SANDBOX$|REINS_)/.test(k))].flatMap((k) => (env[k] !== undefined ? ['-e', `${k}=${env[k]}`] : []));
  await execa('tmux', ['-S', socket, 'new-session', '-d', '-x', '200', '-y', '50', '-s', session, '-c', out, ...envArgs, claude, ...args], { stdin: 'ignore' });
  console.log(tmuxAttachCommand(socket, session));
  console.error(`reins design: Claude Code runs in tmux session ${session}; attach with the command above. harness.yaml will be in ${out}.`);
  return EXIT.ok;
}
