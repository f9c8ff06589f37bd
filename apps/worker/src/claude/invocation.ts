import type { ClaudeAgent, Hooks } from '@reins/shared';
import { baselineEnv, claudePassthroughEnv, identityEnv, withBinDir, type AgentIdentity } from '../agent/env.js';
import type { AgentInvocation } from '../agent/invocation.js';

export interface ClaudeInvocationInput {
  bin: string;
  prompt: string;
  /**
   * A new session with an id reins chooses (so it can be found and shipped), or an earlier session
   * resumed from its transcript file.
   */
  session: { kind: 'new'; sessionId: string } | { kind: 'resume'; transcriptFile: string };
  /** The heartbeat hook's command, run by Claude Code before and after every tool call. */
  hookCommand: string;
  /** The harness's own Claude Code hooks; they run beside reins' heartbeat hooks. */
  harnessHooks?: Hooks | undefined;
  /** The member's spending cap: Claude Code stops the session past it (error_max_budget_usd). */
  maxBudgetUsd?: number | undefined;
  /** For the planner: the answer's JSON Schema (the CLI adds a StructuredOutput tool). */
  jsonSchema?: Record<string, unknown> | undefined;
  agent: ClaudeAgent;
  /** Harness-wide turn limit; the agent's own maxTurns wins. */
  maxTurns: number | undefined;
  systemPrompt: string;
  /** Private per member: sessions land in <home>/.claude/projects/. */
  home: string;
  tmpDir: string;
  identity: AgentIdentity;
  workerEnv: NodeJS.ProcessEnv;
  /** The chosen account's variables (its credential, maybe its base URL): the worker's own credentials never pass. */
  accountEnv: Record<string, string>;
  isRoot: boolean;
}

/**
 * The claude command line, per ../shared/CLAUDE-CODE.md: print mode with stream-json (which needs
 * --verbose), and permissions bypassed because nobody is there to answer a prompt. As root, the CLI
 * refuses the bypass unless IS_SANDBOX=1.
 */
export function claudeInvocation(input: ClaudeInvocationInput): AgentInvocation {
  const { agent } = input;
  const argv = [input.bin, '-p', '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'];
  if (input.session.kind === 'new') argv.push('--session-id', input.session.sessionId);
  else argv.push('--resume', input.session.transcriptFile);
  const maxTurns = agent.maxTurns ?? input.maxTurns;
  if (maxTurns !== undefined) argv.push('--max-turns', String(maxTurns));
  if (agent.model) argv.push('--model', agent.model);
  if (input.maxBudgetUsd !== undefined) argv.push('--max-budget-usd', String(input.maxBudgetUsd));
  const systemPrompt = agent.appendSystemPrompt ? `${input.systemPrompt}\n\n${agent.appendSystemPrompt}` : input.systemPrompt;
  argv.push('--settings', JSON.stringify(reinsSettings(input.hookCommand, input.harnessHooks)));
  if (input.jsonSchema) argv.push('--json-schema', JSON.stringify(input.jsonSchema));
  argv.push('--append-system-prompt', systemPrompt);
  // After "--" the prompt is never read as a flag, even when it starts with "-".
  argv.push('--', input.prompt);

  // Later entries win: the harness may set API variables, but never reins' own isolation.
  const env: Record<string, string> = withBinDir(
    {
      ...baselineEnv(input.workerEnv),
      ...claudePassthroughEnv(input.workerEnv),
      ...input.accountEnv,
      ...agent.env,
      ...identityEnv(input.identity),
      HOME: input.home,
      CLAUDE_CODE_TMPDIR: input.tmpDir,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
    },
    input.identity.binDir,
  );
  if (input.isRoot) env.IS_SANDBOX = '1';
  return { argv, env };
}

type HookEntry = { matcher?: string; hooks: { type: 'command'; command: string; timeout?: number }[] };

/**
 * Claude Code settings: reins' heartbeat hooks on every tool call (matcher "*"), and the harness's own hooks
 * beside them. Both are kept: for each event, reins' entry comes first and the harness's follow.
 */
export function reinsSettings(hookCommand: string, harnessHooks: Hooks = {}): { hooks: Record<string, HookEntry[]> } {
  const heartbeat: HookEntry = { matcher: '*', hooks: [{ type: 'command', command: hookCommand }] };
  const hooks: Record<string, HookEntry[]> = { PreToolUse: [heartbeat], PostToolUse: [heartbeat] };
  for (const [event, entries] of Object.entries(harnessHooks)) {
    hooks[event] = [...(hooks[event] ?? []), ...((entries ?? []) as HookEntry[])];
  }
  return { hooks };
}
