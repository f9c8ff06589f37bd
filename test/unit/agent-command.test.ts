import { describe, it, expect } from 'vitest';
import type { CommandAgent } from '@reins/shared';
import { commandInvocation, type CommandInvocationInput } from '../../apps/worker/src/agent/command.js';

const PROMPT = `-x "; touch /tmp/pwned; $(touch /tmp/pwned2) \`id\`\nsecond line — 🌍`;

const WORKER_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/bin:/bin',
  LC_ALL: 'C.UTF-8',
  HOME: '/root',
  ANTHROPIC_API_KEY: 'sk-ant-test',
  CLAUDE_CODE_MAX_RETRIES: '2',
  API_TIMEOUT_MS: '1000',
  SECRET_WORKER_THING: 'do-not-leak',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  REINS_REDIS_URL: 'redis://:pw@10.0.0.1:6379',
};

function input(agent: Partial<CommandAgent> = {}, overrides: Partial<CommandInvocationInput> = {}): CommandInvocationInput {
  return {
    agent: { kind: 'command', argv: ['bash', '-c', 'echo "$REINS_PROMPT" > out.txt'], ...agent },
    prompt: PROMPT,
    home: '/data/homes/r-abc123/b',
    identity: { runId: 'r-abc123', member: 'b', workspace: '/data/ws/r-abc123/b', attempt: 1 },
    workerEnv: WORKER_ENV,
    ...overrides,
  };
}

describe('commandInvocation', () => {
  it('copies argv as given, without adding the prompt', () => {
    const agent: CommandAgent = { kind: 'command', argv: ['node', 'script.js', '--flag', '$(not expanded)'] };
    const { argv } = commandInvocation(input(agent));
    expect(argv).toEqual(['node', 'script.js', '--flag', '$(not expanded)']);
    expect(argv).not.toBe(agent.argv);
    argv.push('mutated');
    expect(agent.argv).toHaveLength(4);
  });

  it('has exactly the baseline, HOME, identity and the prompt in its env', () => {
    expect(commandInvocation(input()).env).toEqual({
      PATH: '/usr/bin:/bin',
      LC_ALL: 'C.UTF-8',
      HOME: '/data/homes/r-abc123/b',
      REINS_RUN_ID: 'r-abc123',
      REINS_MEMBER: 'b',
      REINS_WORKSPACE: '/data/ws/r-abc123/b',
      REINS_ATTEMPT: '1',
      REINS_PROMPT: PROMPT,
    });
  });

  it('passes the prompt byte for byte in REINS_PROMPT', () => {
    expect(commandInvocation(input()).env.REINS_PROMPT).toBe(PROMPT);
  });

  it('does not leak worker secrets or claude API settings', () => {
    const { env } = commandInvocation(input());
    for (const name of ['SECRET_WORKER_THING', 'AWS_SECRET_ACCESS_KEY', 'REINS_REDIS_URL', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_MAX_RETRIES', 'API_TIMEOUT_MS']) {
      expect(name in env, name).toBe(false);
    }
  });

  it("applies the harness env but never over the identity or the prompt", () => {
    const { env } = commandInvocation(
      input({ env: { GREETING: 'hi', REINS_RUN_ID: 'r-fake', REINS_MEMBER: 'z', REINS_PROMPT: 'other', REINS_WORKSPACE: '/' } }),
    );
    expect(env.GREETING).toBe('hi');
    expect(env.REINS_RUN_ID).toBe('r-abc123');
    expect(env.REINS_MEMBER).toBe('b');
    expect(env.REINS_WORKSPACE).toBe('/data/ws/r-abc123/b');
    expect(env.REINS_PROMPT).toBe(PROMPT);
  });

  it('uses the default PATH when the worker has none', () => {
    expect(commandInvocation(input({}, { workerEnv: {} })).env.PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });
});
