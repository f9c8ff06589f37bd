import { execa } from 'execa';

export type CheckResult = { ok: true } | { ok: false; command: readonly string[]; exitCode: number | undefined; output: string };

/** The most of a failing check's output that goes back to the agent: the end, where errors usually are. */
const MAX_OUTPUT_CHARS = 4_000;

/**
 * Runs a member's checks in its workspace, in order, each as argv (never through a shell), and stops at
 * the first that fails.
 */
export async function runChecks(commands: readonly (readonly string[])[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<CheckResult> {
  for (const command of commands) {
    const [program, ...args] = command;
    if (!program) continue;
    const result = await execa(program, args, { cwd, env, extendEnv: false, all: true, reject: false, timeout: timeoutMs, stdin: 'ignore' });
    if (result.exitCode !== 0 || result.timedOut) {
      const all = String(result.all ?? '');
      const output = all.length > MAX_OUTPUT_CHARS ? `…${all.slice(-MAX_OUTPUT_CHARS)}` : all;
      return { ok: false, command, exitCode: result.exitCode, output: result.timedOut ? `${output}\n(timed out after ${timeoutMs} ms)` : output };
    }
  }
  return { ok: true };
}

export function describeCheck(failure: Extract<CheckResult, { ok: false }>): string {
  return `\`${failure.command.join(' ')}\` exited with code ${failure.exitCode ?? '?'}`;
}

/** The prompt of a fix round: what failed and its output. */
export function fixPrompt(failure: Extract<CheckResult, { ok: false }>, round: number, maxRounds: number): string {
  return [
    `[reins] You reported success, but a check failed (fix round ${round} of ${maxRounds}): ${describeCheck(failure)}.`,
    'Its output:',
    '```',
    failure.output.trim() || '(no output)',
    '```',
    'Fix the cause, then finish. The checks run again when you are done.',
  ].join('\n');
}
