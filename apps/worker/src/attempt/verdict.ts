import { execa } from 'execa';
import { checkPlan, planRetryPrompt, type AgentJobData } from '@reins/shared';
import { baselineEnv } from '../agent/env.js';
import type { AttemptDeps } from './deps.js';
import type { Verdict } from './conclude.js';
import type { AttemptEnd } from './watch.js';
import type { AgentUser } from '../agent-user.js';

export type CheckResult = { ok: true } | { ok: false; command: readonly string[]; exitCode: number | undefined; output: string };

/** The most of a failing check's output that goes back to the agent: the end, where errors usually are. */
const MAX_OUTPUT_CHARS = 4_000;

/**
 * Runs a member's checks in its workspace, in order, each as argv (never through a shell), and stops at
 * the first that fails.
 */
export async function runChecks(commands: readonly (readonly string[])[], cwd: string, env: Record<string, string>, timeoutMs: number, as?: AgentUser): Promise<CheckResult> {
  for (const command of commands) {
    const [program, ...args] = command;
    if (!program) continue;
    const result = await execa(program, args, { cwd, env, extendEnv: false, all: true, reject: false, timeout: timeoutMs, stdin: 'ignore', ...(as ? { uid: as.uid, gid: as.gid } : {}) });
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

/** The planner's answer: the StructuredOutput tool's input, or a JSON result text (a command planner). */
export function structuredAnswer(end: Pick<AttemptEnd, 'result'>): unknown {
  const structured = (end.result as { structured_output?: unknown } | undefined)?.structured_output;
  if (structured !== undefined) return structured;
  try {
    return JSON.parse(end.result?.result ?? '') as unknown;
  } catch {
    return undefined;
  }
}

/** A planner's answer must be a valid team; one more round is given with the errors. Pure. */
export function planVerdict(answer: unknown, availableSkills: readonly string[], round: number): Verdict {
  const verdict = checkPlan(answer, [...availableSkills]);
  if (verdict.ok) return { kind: 'done', plan: verdict.team };
  if (round < 2) return { kind: 'again', prompt: planRetryPrompt(verdict.issues) };
  return { kind: 'fail', failureClass: 'plan_invalid', message: `the planner's team is invalid: ${verdict.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` };
}

/** Failing checks give the agent up to maxRounds fix rounds; then the member fails. Pure. */
export function checksVerdict(result: CheckResult, round: number, maxRounds: number): Verdict {
  if (result.ok) return { kind: 'done' };
  if (round <= maxRounds) return { kind: 'again', prompt: fixPrompt(result, round, maxRounds) };
  return { kind: 'fail', failureClass: 'verify_failed', message: `checks still fail after ${maxRounds} fix rounds: ${describeCheck(result)}:\n${result.output}` };
}

/** The environment verify commands run with: the agents' baseline and HOME, with the member's identity, but no API settings. */
export function checkEnv(identity: { workspace: string; runId: string; member: string }, workerEnv: NodeJS.ProcessEnv): Record<string, string> {
  return {
    ...baselineEnv(workerEnv),
    ...(workerEnv.HOME !== undefined ? { HOME: workerEnv.HOME } : {}),
    REINS_RUN_ID: identity.runId,
    REINS_MEMBER: identity.member,
    REINS_WORKSPACE: identity.workspace,
  };
}

/**
 * After an agent reports success: a planner's answer must be a valid team, and a member's checks must pass.
 * Either may ask for another round.
 */
export async function verdictAfterRound(deps: Pick<AttemptDeps, 'store' | 'now' | 'workerEnv' | 'agentUser'>, data: AgentJobData, workspace: string, end: AttemptEnd, round: number): Promise<Verdict> {
  if (data.mode === 'plan')
    return planVerdict(
      structuredAnswer(end),
      (data.availableSkills ?? []).map((s) => s.name),
      round,
    );
  if (!data.verify) return { kind: 'done' };
  const identity = { runId: data.runId, member: data.member, workspace };
  const result = await runChecks(data.verify.commands, workspace, checkEnv(identity, deps.workerEnv), data.verify.timeoutMs ?? 600_000, deps.agentUser);
  if (!result.ok) await deps.store.appendEvents(data.runId, data.member, [{ at: deps.now(), kind: 'verify', text: `check failed: ${describeCheck(result)}` }]);
  return checksVerdict(result, round, data.verify.maxRounds ?? 3);
}
