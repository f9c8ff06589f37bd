// `reins plan FILE`: runs only the planner, here and now, without the fleet. Reads a JSON request on stdin
// ({goal, workdir, agent, skills}), runs Claude Code in the workdir with --json-schema, checks the team as a
// hand-written one is checked (retrying once with the errors), and prints {"team": [...]} on stdout.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { z } from 'zod';
import { ClaudeAgentSchema, LineSplitter, checkPlan, isResult, parseStreamLine, planJsonSchema, planRetryPrompt, planningPrompt, resolveClaudeBin, loadConfig, type ResultEvent } from '@reins/shared';
import { loadAccounts } from './accounts.js';
import { claudeInvocation } from './claude/invocation.js';
import { findTranscript } from './claude/transcript.js';

const RequestSchema = z.strictObject({
  goal: z.string().min(1),
  workdir: z.string().optional(),
  agent: ClaudeAgentSchema,
  skills: z.array(z.strictObject({ name: z.string(), description: z.string() })),
});

async function runClaude(argv: string[], env: Record<string, string>, cwd: string): Promise<ResultEvent | undefined> {
  const child = execa(argv[0]!, argv.slice(1), { env, extendEnv: false, cwd, reject: false, stdin: 'ignore', stderr: 'inherit' });
  const splitter = new LineSplitter();
  let result: ResultEvent | undefined;
  for await (const chunk of child.stdout!) {
    for (const line of splitter.push(chunk as Buffer | string)) {
      const event = parseStreamLine(line.text);
      if (event && isResult(event)) result = event;
    }
  }
  await child;
  return result;
}

async function main(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const request = RequestSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  const config = loadConfig();
  const bin = resolveClaudeBin(config.claudeBin);
  if (!bin) throw new Error('no claude binary found: set REINS_CLAUDE_BIN or run `reins doctor`');
  const home = await mkdtemp(path.join(os.tmpdir(), 'reins-plan-'));
  const cwd = request.workdir ?? home;
  const sessionId = randomUUID();
  const available = request.skills.map((s) => s.name);
  // A local plan runs under the first account the caller's environment or accounts file holds.
  const [account] = await loadAccounts(config.accountsFile, process.env);
  try {
    let prompt = planningPrompt(request.goal, request.skills);
    for (let round = 1; round <= 2; round += 1) {
      const transcript = round === 1 ? undefined : await findTranscript(home, sessionId);
      const { argv, env } = claudeInvocation({
        bin,
        prompt,
        session: transcript ? { kind: 'resume', transcriptFile: transcript.file } : { kind: 'new', sessionId },
        hookCommand: 'true',
        jsonSchema: planJsonSchema(),
        agent: request.agent,
        maxTurns: request.agent.maxTurns,
        systemPrompt: 'You are the planner of a reins team. You run unattended: nobody will answer questions.',
        home,
        tmpDir: home,
        accountEnv: { ...account?.env },
        identity: {
          runId: 'plan',
          member: 'planner',
          workspace: cwd,
          attempt: round,
          epoch: 0,
          jobId: 'plan',
          // No worker serves this planner: its hooks are `true`, and no reins command inside it can reach one.
          socket: path.join(home, 'no-worker.sock'),
          token: 'none',
          binDir: path.join(config.dataDir, 'bin'),
        },
        workerEnv: process.env,
        isRoot: process.getuid?.() === 0,
      });
      const result = await runClaude(argv, env, cwd);
      if (!result || result.is_error) {
        process.stderr.write(
          `reins plan: the planner failed: ${result ? `${result.subtype}${result.api_error_status ? `, API status ${result.api_error_status}` : ''}: ${result.result ?? ''}` : 'no result from claude'}\n`,
        );
        return 1;
      }
      const check = checkPlan((result as { structured_output?: unknown }).structured_output, available);
      if (check.ok) {
        process.stdout.write(`${JSON.stringify({ team: check.team })}\n`);
        return 0;
      }
      if (round === 2) {
        process.stderr.write(`reins plan: the planner's team is invalid:\n${check.issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}\n`);
        return 1;
      }
      prompt = planRetryPrompt(check.issues);
    }
    return 1;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

process.exit(await main());
