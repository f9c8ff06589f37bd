import { describe, it, expect } from 'vitest';
import type { ClaudeAgent } from '@reins/shared';
import { claudeInvocation, reinsSettings, type ClaudeInvocationInput } from '../../apps/worker/src/claude/invocation.js';
import type { AgentIdentity } from '../../apps/worker/src/agent/env.js';

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
  REINS_REDIS_URL: 'redis://:worker-pw@10.0.0.1:6379',
  REINS_PREFIX: 'worker-prefix',
  REINS_DATA_DIR: '/var/reins',
  SSH_AUTH_SOCK: '/tmp/ssh.sock',
  UNDEFINED_ONE: undefined,
};

const SESSION_ID = '11111111-2222-4333-8444-555555555555';
const HOOK = "'/data/bin/reins-hook'";
const SETTINGS = JSON.stringify({
  hooks: {
    PreToolUse: [{ matcher: '*', hooks: [{ type: 'command', command: HOOK }] }],
    PostToolUse: [{ matcher: '*', hooks: [{ type: 'command', command: HOOK }] }],
  },
});

const IDENTITY: AgentIdentity = {
  runId: 'r-abc123',
  member: 'a',
  workspace: '/data/ws/r-abc123/a',
  attempt: 2,
  epoch: 5,
  jobId: 'r-abc123:a',
  socket: '/data/sockets/0123456789abcdef.sock',
  token: 'attempt-token',
  binDir: '/data/bin',
};

function input(overrides: Partial<ClaudeInvocationInput> = {}, agent: Partial<ClaudeAgent> = {}): ClaudeInvocationInput {
  return {
    bin: '/opt/claude/bin/claude',
    prompt: 'Write hello.txt',
    session: { kind: 'new', sessionId: SESSION_ID },
    hookCommand: HOOK,
    agent: { kind: 'claude', ...agent },
    maxTurns: undefined,
    systemPrompt: 'You are "a", one member of the reins team.',
    home: '/data/homes/r-abc123/a',
    tmpDir: '/data/tmp/r-abc123/a',
    identity: IDENTITY,
    workerEnv: WORKER_ENV,
    accountEnv: {},
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
      '--settings',
      SETTINGS,
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
      '--settings',
      SETTINGS,
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
    expect(argv).toHaveLength(14);
  });

  it('passes a prompt that is exactly "--" or "-p" as the prompt', () => {
    for (const prompt of ['--', '-p', '--help']) {
      const { argv } = claudeInvocation(input({ prompt }));
      expect(argv.slice(-2)).toEqual(['--', prompt]);
    }
  });

  it('resumes a session from its transcript file with --resume, and never passes --session-id too', () => {
    const { argv } = claudeInvocation(input({ session: { kind: 'resume', transcriptFile: '/data/homes/r-abc123/a/.claude/reins-resume/s 1.jsonl' } }));
    expect(argv).toEqual([
      '/opt/claude/bin/claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
      '--resume',
      '/data/homes/r-abc123/a/.claude/reins-resume/s 1.jsonl',
      '--settings',
      SETTINGS,
      '--append-system-prompt',
      'You are "a", one member of the reins team.',
      '--',
      'Write hello.txt',
    ]);
    expect(argv).not.toContain('--session-id');
  });

  it('starts a new session with --session-id and never passes --resume', () => {
    const { argv } = claudeInvocation(input());
    expect(argv.filter((a) => a === '--session-id')).toHaveLength(1);
    expect(argv[argv.indexOf('--session-id') + 1]).toBe(SESSION_ID);
    expect(argv).not.toContain('--resume');
  });

  it('passes --settings once, as JSON of reinsSettings(hookCommand), before --append-system-prompt', () => {
    const hookCommand = `'/opt/my bin/reins-hook' --x "y" $(nope) 'it'\\''s'`;
    const { argv } = claudeInvocation(input({ hookCommand }, { model: 'opus' }));
    expect(argv.filter((a) => a === '--settings')).toHaveLength(1);
    const at = argv.indexOf('--settings');
    expect(JSON.parse(argv[at + 1]!)).toEqual(reinsSettings(hookCommand));
    expect(argv[at + 1]).toBe(JSON.stringify(reinsSettings(hookCommand)));
    expect(at).toBeGreaterThan(argv.indexOf('--model'));
    expect(argv[at + 2]).toBe('--append-system-prompt');
  });

  it('does not add --model when none is set', () => {
    expect(claudeInvocation(input()).argv).not.toContain('--model');
    expect(claudeInvocation(input()).argv).not.toContain('--max-turns');
  });
});

describe('claudeInvocation env', () => {
  it("is exactly baseline + passthrough + the account's credential + identity + isolation, nothing else", () => {
    expect(claudeInvocation(input({ accountEnv: { ANTHROPIC_API_KEY: 'sk-ant-test' } })).env).toEqual({
      PATH: '/data/bin:/custom/bin:/usr/bin',
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
      REINS_EPOCH: '5',
      REINS_JOB_ID: 'r-abc123:a',
      REINS_SOCKET: '/data/sockets/0123456789abcdef.sock',
      REINS_TOKEN: 'attempt-token',
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

  it('does not pass other worker variables, nor its own REINS_* settings', () => {
    const { env } = claudeInvocation(input());
    for (const name of ['SECRET_WORKER_THING', 'AWS_SECRET_ACCESS_KEY', 'REINS_DATA_DIR', 'SSH_AUTH_SOCK', 'USER', 'UNDEFINED_ONE']) {
      expect(name in env, name).toBe(false);
    }
    for (const value of ['do-not-leak', 'aws-secret', '/var/reins', 'redis://:worker-pw@10.0.0.1:6379', 'worker-prefix']) {
      expect(Object.values(env), value).not.toContain(value);
    }
  });

  it('gives the agent its socket and token to its worker, and nothing that reaches Redis', () => {
    const { env } = claudeInvocation(input({ workerEnv: { ...input().workerEnv, REINS_REDIS_URL: 'redis://:worker-pw@10.0.0.1:6379', REINS_PREFIX: 'worker-prefix' } }));
    expect(env.REINS_SOCKET).toBe(IDENTITY.socket);
    expect(env.REINS_TOKEN).toBe(IDENTITY.token);
    for (const name of ['REINS_REDIS_URL', 'REINS_PREFIX', 'REINS_HEARTBEAT_TTL_MS']) expect(name in env, name).toBe(false);
  });

  it('falls back to a default PATH when the worker has none', () => {
    expect(claudeInvocation(input({ workerEnv: {} })).env.PATH).toBe('/data/bin:/usr/local/bin:/usr/bin:/bin');
  });

  it('applies the harness env, which may override API variables and PATH (reins bin still first)', () => {
    const { env } = claudeInvocation(input({}, { env: { ANTHROPIC_BASE_URL: 'http://proxy:1', MY_FLAG: 'on', PATH: '/harness/bin' } }));
    expect(env.ANTHROPIC_BASE_URL).toBe('http://proxy:1');
    expect(env.MY_FLAG).toBe('on');
    expect(env.PATH).toBe('/data/bin:/harness/bin');
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
            REINS_EPOCH: '99',
            REINS_JOB_ID: 'other-job',
            REINS_SOCKET: '/tmp/evil.sock',
            REINS_TOKEN: 'forged',
            REINS_WORKSPACE: '/',
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
    expect(env.REINS_EPOCH).toBe('5');
    expect(env.REINS_JOB_ID).toBe('r-abc123:a');
    expect(env.REINS_SOCKET).toBe('/data/sockets/0123456789abcdef.sock');
    expect(env.REINS_TOKEN).toBe('attempt-token');
    expect(env.REINS_WORKSPACE).toBe('/data/ws/r-abc123/a');
  });

  it('does not mutate the worker environment or the agent', () => {
    const workerEnv = { ...WORKER_ENV };
    const agent: ClaudeAgent = { kind: 'claude', env: { A: 'b' } };
    const identity = { ...IDENTITY };
    claudeInvocation(input({ workerEnv, agent, identity, isRoot: true }));
    expect(workerEnv).toEqual(WORKER_ENV);
    expect(identity).toEqual(IDENTITY);
    expect(agent).toEqual({ kind: 'claude', env: { A: 'b' } });
  });
});

describe('reinsSettings', () => {
  it('adds one command hook on every tool call, before and after', () => {
    expect(reinsSettings('/data/bin/reins-hook')).toEqual({
      hooks: {
        PreToolUse: [{ matcher: '*', hooks: [{ type: 'command', command: '/data/bin/reins-hook' }] }],
        PostToolUse: [{ matcher: '*', hooks: [{ type: 'command', command: '/data/bin/reins-hook' }] }],
      },
    });
  });

  it('has only PreToolUse and PostToolUse, each with exactly one entry and one hook', () => {
    const { hooks } = reinsSettings('x');
    expect(Object.keys(hooks).sort()).toEqual(['PostToolUse', 'PreToolUse']);
    for (const entries of Object.values(hooks)) {
      expect(entries).toHaveLength(1);
      expect(entries[0]!.hooks).toHaveLength(1);
    }
  });

  it('keeps the command byte for byte in the --settings argument the CLI parses', () => {
    const command = `'/a b/reins-hook' "q" $(x) \`y\` — 🌍`;
    const { argv } = claudeInvocation(input({ hookCommand: command }));
    const settings = JSON.parse(argv[argv.indexOf('--settings') + 1]!) as ReturnType<typeof reinsSettings>;
    expect(settings.hooks.PreToolUse![0]!.hooks[0]!.command).toBe(command);
    expect(settings.hooks.PostToolUse![0]!.hooks[0]!.command).toBe(command);
    expect(settings.hooks.PreToolUse![0]!.matcher).toBe('*');
  });
});
