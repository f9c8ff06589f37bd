import type { ClaudeAgent } from '@reins/shared';
import { baselineEnv, claudePassthroughEnv, identityEnv, withBinDir, type AgentIdentity } from './env.js';
import type { AgentInvocation } from './invocation.js';

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
  agent: ClaudeAgent;
  /** Harness-wide turn limit; the agent's own maxTurns wins. */
  maxTurns: number | undefined;
  systemPrompt: string;
  /** Private per member: sessions land in <home>/.claude/projects/. */
  home: string;
  tmpDir: string;
  identity: AgentIdentity;
  workerEnv: NodeJS.ProcessEnv;
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
  const systemPrompt = agent.appendSystemPrompt ? `${input.systemPrompt}\n\n${agent.appendSystemPrompt}` : input.systemPrompt;
  argv.push('--settings', JSON.stringify(reinsSettings(input.hookCommand)));
  argv.push('--append-system-prompt', systemPrompt);
  // After "--" the prompt is never read as a flag, even when it starts with "-".
  argv.push('--', input.prompt);

  // Later entries win: the harness may set API variables, but never reins' own isolation.
  const env: Record<string, string> = withBinDir({
    ...baselineEnv(input.workerEnv),
    ...claudePassthroughEnv(input.workerEnv),
    ...agent.env,
    ...identityEnv(input.identity),
    HOME: input.home,
    CLAUDE_CODE_TMPDIR: input.tmpDir,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
  }, input.identity.binDir);
  if (input.isRoot) env.IS_SANDBOX = '1';
  return { argv, env };
}

/** Claude Code settings reins adds: heartbeat hooks on every tool call (matcher "*"). */
export function reinsSettings(hookCommand: string): { hooks: Record<string, { matcher: string; hooks: { type: 'command'; command: string }[] }[]> } {
  const entry = [{ matcher: '*', hooks: [{ type: 'command' as const, command: hookCommand }] }];
  return { hooks: { PreToolUse: entry, PostToolUse: entry } };
}
