import { describe, it, expect } from 'vitest';
import type { CommandAgent } from '@reins/shared';
import { commandInvocation, type CommandInvocationInput } from '../../apps/worker/src/agent/command.js';
import type { AgentIdentity } from '../../apps/worker/src/agent/env.js';

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
  REINS_REDIS_URL: 'redis://:worker-pw@10.0.0.1:6379',
  REINS_DATA_DIR: '/var/reins',
};

const IDENTITY: AgentIdentity = {
  runId: 'r-abc123',
  member: 'b',
  workspace: '/data/ws/r-abc123/b',
  attempt: 1,
  epoch: 3,
  jobId: 'r-abc123:b',
  socket: '/data/sockets/0123456789abcdef.sock',
  token: 'attempt-token',
  binDir: '/data/bin',
};

function input(agent: Partial<CommandAgent> = {}, overrides: Partial<CommandInvocationInput> = {}): CommandInvocationInput {
  return {
    agent: { kind: 'command', argv: ['bash', '-c', 'echo "$REINS_PROMPT" > out.txt'], ...agent },
    prompt: PROMPT,
    home: '/data/homes/r-abc123/b',
    identity: IDENTITY,
    workerEnv: WORKER_ENV,
    cursorJson: undefined,
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
      PATH: '/data/bin:/usr/bin:/bin',
      LC_ALL: 'C.UTF-8',
      HOME: '/data/homes/r-abc123/b',
      REINS_RUN_ID: 'r-abc123',
      REINS_MEMBER: 'b',
      REINS_WORKSPACE: '/data/ws/r-abc123/b',
      REINS_ATTEMPT: '1',
      REINS_EPOCH: '3',
      REINS_JOB_ID: 'r-abc123:b',
      REINS_SOCKET: '/data/sockets/0123456789abcdef.sock',
      REINS_TOKEN: 'attempt-token',
      REINS_PROMPT: PROMPT,
    });
  });

  it('adds REINS_CURSOR, byte for byte, only when there is a cursor', () => {
    const cursorJson = JSON.stringify({ attempt: 1, epoch: 2, at: 1700000000000, data: { step: 'two "q" $(x) 🌍\n' } });
    const { env } = commandInvocation(input({}, { cursorJson }));
    expect(env.REINS_CURSOR).toBe(cursorJson);
    expect(Object.keys(env).sort()).toEqual(Object.keys(commandInvocation(input()).env).concat('REINS_CURSOR').sort());
    expect('REINS_CURSOR' in commandInvocation(input()).env).toBe(false);
  });

  it('passes an empty cursor string as given', () => {
    expect(commandInvocation(input({}, { cursorJson: '' })).env.REINS_CURSOR).toBe('');
  });

  it('does not let the harness env set REINS_CURSOR or HOME', () => {
    const withCursor = commandInvocation(input({ env: { REINS_CURSOR: '{"fake":1}', HOME: '/root' } }, { cursorJson: '{"real":1}' })).env;
    expect(withCursor.REINS_CURSOR).toBe('{"real":1}');
    expect(withCursor.HOME).toBe('/data/homes/r-abc123/b');
    const without = commandInvocation(input({ env: { HOME: '/root' } })).env;
    expect(without.HOME).toBe('/data/homes/r-abc123/b');
  });

  it('passes the prompt byte for byte in REINS_PROMPT', () => {
    expect(commandInvocation(input()).env.REINS_PROMPT).toBe(PROMPT);
  });

  it('does not leak worker secrets or claude API settings', () => {
    const { env } = commandInvocation(input());
    for (const name of ['SECRET_WORKER_THING', 'AWS_SECRET_ACCESS_KEY', 'REINS_DATA_DIR', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_MAX_RETRIES', 'API_TIMEOUT_MS']) {
      expect(name in env, name).toBe(false);
    }
    for (const value of ['do-not-leak', 'aws-secret', 'sk-ant-test', '/var/reins', 'redis://:worker-pw@10.0.0.1:6379']) {
      expect(Object.values(env), value).not.toContain(value);
    }
    expect(env.REINS_SOCKET).toBe(IDENTITY.socket);
    expect('REINS_REDIS_URL' in env).toBe(false);
  });

  it('applies the harness env but never over the identity or the prompt', () => {
    const { env } = commandInvocation(
      input({
        env: {
          GREETING: 'hi',
          REINS_RUN_ID: 'r-fake',
          REINS_MEMBER: 'z',
          REINS_PROMPT: 'other',
          REINS_WORKSPACE: '/',
          REINS_EPOCH: '99',
          REINS_JOB_ID: 'x',
          REINS_SOCKET: '/tmp/evil.sock',
          REINS_TOKEN: 'forged',
          REINS_ATTEMPT: '9',
        },
      }),
    );
    expect(env.GREETING).toBe('hi');
    expect(env.REINS_RUN_ID).toBe('r-abc123');
    expect(env.REINS_MEMBER).toBe('b');
    expect(env.REINS_WORKSPACE).toBe('/data/ws/r-abc123/b');
    expect(env.REINS_PROMPT).toBe(PROMPT);
    expect(env.REINS_EPOCH).toBe('3');
    expect(env.REINS_JOB_ID).toBe('r-abc123:b');
    expect(env.REINS_SOCKET).toBe('/data/sockets/0123456789abcdef.sock');
    expect(env.REINS_TOKEN).toBe('attempt-token');
    expect(env.REINS_ATTEMPT).toBe('1');
  });

  it('puts the reins bin folder first on PATH, even over a harness PATH', () => {
    expect(commandInvocation(input({ env: { PATH: '/harness/bin' } })).env.PATH).toBe('/data/bin:/harness/bin');
  });

  it('uses the default PATH when the worker has none', () => {
    expect(commandInvocation(input({}, { workerEnv: {} })).env.PATH).toBe('/data/bin:/usr/local/bin:/usr/bin:/bin');
  });
});
