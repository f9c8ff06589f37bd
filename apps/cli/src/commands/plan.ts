import { spawn } from 'node:child_process';
import { appBin, escapeControlChars, loadHarnessFile, terminalJson, UsageError } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { renderTeam } from '../team-render.js';
import { help } from './submit.js';

export const PLAN_HELP = `Usage: reins plan FILE [--json]

Runs only the planner of a plan: auto harness, here, without the fleet, and prints the team it proposes
(as YAML to paste into the harness as an explicit team, or --json). Needs the API settings a worker uses.`;

export async function plan(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('plan', argv, { json: { type: 'boolean' } }, { min: 1, max: 1, names: 'one harness FILE' });
  if (values.help) return help(PLAN_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  const harness = await loadHarnessFile(positionals[0]!, { skillsDirs: [ctx.config.skillsDir] });
  if (harness.spec.plan !== 'auto') throw new UsageError(`reins plan: ${positionals[0]} has an explicit team; planning needs plan: auto and a goal`);
  if (harness.spec.agent.kind !== 'claude') throw new UsageError(`reins plan: the planner is a claude agent; ${positionals[0]} gives agent.kind ${harness.spec.agent.kind}`);
  const skills = Object.values(harness.skills).map(({ name, description }) => ({ name, description }));
  const request = { goal: harness.spec.goal!, ...(harness.workdir ? { workdir: harness.workdir } : {}), agent: harness.spec.agent, skills };
  // The planner runs in the worker app's own entry point: only the worker builds claude command lines.
  const child = spawn(process.execPath, [appBin('worker', 'reins-plan')], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
  child.stdin.end(JSON.stringify(request));
  // The planner's stderr carries Claude Code's own and the model's words: escaped on the way through.
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => process.stderr.write(escapeControlChars(text)));
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  // 'close', not 'exit': the planner's last stdout and stderr chunks can arrive after it exited.
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) return EXIT.failed;
  const { team } = JSON.parse(stdout) as { team: unknown };
  console.log(values.json ? terminalJson({ team }) : renderTeam(team).trimEnd());
  return EXIT.ok;
}
