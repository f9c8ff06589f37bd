import { describe, it, expect } from 'vitest';
import type { ClaudeAgent } from '@reins/shared';
import { claudeInvocation, type ClaudeInvocationInput } from '../../apps/worker/src/agent/claude.js';

const NASTY = `-rf "; touch /tmp/pwned; $(touch /tmp/pwned2) \`id\` 'quoted' \\ back\nline2 — ünïcode 🌍 --model x`;

const WORKER_ENV: NodeJS.ProcessEnv = {
  PATH: '/custom/bin:/usr/bin',
  LANG: 'C.UTF-8',
  TZ: 'Europe/Paris',
  HOME: '/root',
  USER: 'root',
  ANTHROPIC_API_KEY: 'sk-ant-test',
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999',
  CLAUDE_CODE_MAX_RETRIES: '2',
  CLAUDE_CODE_TMPDIR: '/worker/tmp',
  API_TIMEOUT_MS: '15000',
  SECRET_WORKER_THING: 'do-not-leak',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  REINS_REDIS_URL: 'redis://:pw@10.0.0.1:6379',
  REINS_DATA_DIR: '/var/reins',
  SSH_AUTH_SOCK: '/tmp/ssh.sock',
  UNDEFINED_ONE: undefined,
};

function input(overrides: Partial<ClaudeInvocationInput> = {}, agent: Partial<ClaudeAgent> = {}): ClaudeInvocationInput {
  return {
    bin: '/opt/claude/bin/claude',
    prompt: 'Write hello.txt',
    sessionId: '11111111-2222-4333-8444-555555555555',
    agent: { kind: 'claude', ...agent },
    maxTurns: undefined,
    systemPrompt: 'You are "a", one member of the reins team.',
    home: '/data/homes/r-abc123/a',
    tmpDir: '/data/tmp/r-abc123/a',
    identity: { runId: 'r-abc123', member: 'a', workspace: '/data/ws/r-abc123/a', attempt: 2 },
    workerEnv: WORKER_ENV,
    isRoot: false,
    ...overrides,
  };
}

describe('claudeInvocation argv', () => {
  it('is the exact minimal command line', () => {
    expect(claudeInvocation(input()).argv).toEqual([
      '/opt/claude/bin/claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
      '--session-id',
      '11111111-2222-4333-8444-555555555555',
      '--append-system-prompt',
      'You are "a", one member of the reins team.',
      '--',
      'Write hello.txt',
    ]);
  });

  it('adds --max-turns from the harness limits, and --model', () => {
    expect(claudeInvocation(input({ maxTurns: 7 }, { model: 'opus' })).argv).toEqual([
      '/opt/claude/bin/claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
      '--session-id',
      '11111111-2222-4333-8444-555555555555',
      '--max-turns',
      '7',
      '--model',
      'opus',
      '--append-system-prompt',
      'You are "a", one member of the reins team.',
      '--',
      'Write hello.txt',
    ]);
  });

  it("lets the agent's maxTurns win over the limits'", () => {
    const argv = claudeInvocation(input({ maxTurns: 7 }, { maxTurns: 3 })).argv;
    expect(argv.slice(argv.indexOf('--max-turns'), argv.indexOf('--max-turns') + 2)).toEqual(['--max-turns', '3']);
    expect(argv.filter((a) => a === '--max-turns')).toHaveLength(1);
  });

  it("uses the agent's maxTurns when the harness has no limit", () => {
    const argv = claudeInvocation(input({}, { maxTurns: 12 })).argv;
    expect(argv[argv.indexOf('--max-turns') + 1]).toBe('12');
  });

  it("appends the agent's appendSystemPrompt after the team prompt", () => {
    const argv = claudeInvocation(input({}, { appendSystemPrompt: 'Always write tests.' })).argv;
    const at = argv.indexOf('--append-system-prompt');
    expect(argv[at + 1]).toBe('You are "a", one member of the reins team.\n\nAlways write tests.');
    expect(argv.filter((a) => a === '--append-system-prompt')).toHaveLength(1);
  });

  it('puts "--" then the prompt last, byte for byte, even when it looks like a flag or shell code', () => {
    const { argv } = claudeInvocation(input({ prompt: NASTY }));
    expect(argv.at(-2)).toBe('--');
    expect(argv.at(-1)).toBe(NASTY);
    expect(Buffer.from(argv.at(-1)!, 'utf8').equals(Buffer.from(NASTY, 'utf8'))).toBe(true);
    expect(argv).toHaveLength(12);
  });

  it('passes a prompt that is exactly "--" or "-p" as the prompt', () => {
    for (const prompt of ['--', '-p', '--help']) {
      const { argv } = claudeInvocation(input({ prompt }));
      expect(argv.slice(-2)).toEqual(['--', prompt]);
    }
  });

  it('does not add --model when none is set', () => {
    expect(claudeInvocation(input()).argv).not.toContain('--model');
    expect(claudeInvocation(input()).argv).not.toContain('--max-turns');
  });
});

describe('claudeInvocation env', () => {
  it('is exactly baseline + passthrough + identity + isolation, nothing else', () => {
    expect(claudeInvocation(input()).env).toEqual({
      PATH: '/custom/bin:/usr/bin',
      LANG: 'C.UTF-8',
      TZ: 'Europe/Paris',
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999',
      CLAUDE_CODE_MAX_RETRIES: '2',
      API_TIMEOUT_MS: '15000',
      REINS_RUN_ID: 'r-abc123',
      REINS_MEMBER: 'a',
      REINS_WORKSPACE: '/data/ws/r-abc123/a',
      REINS_ATTEMPT: '2',
      HOME: '/data/homes/r-abc123/a',
      CLAUDE_CODE_TMPDIR: '/data/tmp/r-abc123/a',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
    });
  });

  it('sets IS_SANDBOX=1 only when running as root', () => {
    expect(claudeInvocation(input({ isRoot: true })).env.IS_SANDBOX).toBe('1');
    expect('IS_SANDBOX' in claudeInvocation(input({ isRoot: false })).env).toBe(false);
  });

  it('gives the agent a private HOME and CLAUDE_CODE_TMPDIR, over the worker ones', () => {
    const { env } = claudeInvocation(input());
    expect(env.HOME).toBe('/data/homes/r-abc123/a');
    expect(env.CLAUDE_CODE_TMPDIR).toBe('/data/tmp/r-abc123/a');
  });

  it('does not pass other worker variables', () => {
    const { env } = claudeInvocation(input());
    for (const name of ['SECRET_WORKER_THING', 'AWS_SECRET_ACCESS_KEY', 'REINS_REDIS_URL', 'REINS_DATA_DIR', 'SSH_AUTH_SOCK', 'USER', 'UNDEFINED_ONE']) {
      expect(name in env, name).toBe(false);
    }
    expect(Object.values(env)).not.toContain('do-not-leak');
    expect(Object.values(env)).not.toContain('aws-secret');
  });

  it('falls back to a default PATH when the worker has none', () => {
    expect(claudeInvocation(input({ workerEnv: {} })).env.PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });

  it('applies the harness env, which may override API variables and PATH', () => {
    const { env } = claudeInvocation(input({}, { env: { ANTHROPIC_BASE_URL: 'http://proxy:1', MY_FLAG: 'on', PATH: '/harness/bin' } }));
    expect(env.ANTHROPIC_BASE_URL).toBe('http://proxy:1');
    expect(env.MY_FLAG).toBe('on');
    expect(env.PATH).toBe('/harness/bin');
  });

  it("does not let the harness env override reins' isolation or identity", () => {
    const { env } = claudeInvocation(
      input(
        { isRoot: false },
        {
          env: {
            HOME: '/root',
            CLAUDE_CODE_TMPDIR: '/tmp',
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '0',
            DISABLE_TELEMETRY: '0',
            DISABLE_AUTOUPDATER: '0',
            REINS_RUN_ID: 'r-other',
            REINS_MEMBER: 'b',
            REINS_ATTEMPT: '99',
          },
        },
      ),
    );
    expect(env.HOME).toBe('/data/homes/r-abc123/a');
    expect(env.CLAUDE_CODE_TMPDIR).toBe('/data/tmp/r-abc123/a');
    expect(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
    expect(env.DISABLE_TELEMETRY).toBe('1');
    expect(env.DISABLE_AUTOUPDATER).toBe('1');
    expect(env.REINS_RUN_ID).toBe('r-abc123');
    expect(env.REINS_MEMBER).toBe('a');
    expect(env.REINS_ATTEMPT).toBe('2');
  });

  it('does not mutate the worker environment or the agent', () => {
    const workerEnv = { ...WORKER_ENV };
    const agent: ClaudeAgent = { kind: 'claude', env: { A: 'b' } };
    claudeInvocation(input({ workerEnv, agent, isRoot: true }));
    expect(workerEnv).toEqual(WORKER_ENV);
    expect(agent).toEqual({ kind: 'claude', env: { A: 'b' } });
  });
});
