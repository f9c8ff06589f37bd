import { describe, it, expect } from 'vitest';
import { baselineEnv, claudePassthroughEnv, identityEnv, withBinDir, type AgentIdentity } from '../../apps/worker/src/agent/env.js';

describe('baselineEnv', () => {
  it('keeps only PATH, LANG, LC_ALL, LC_CTYPE and TZ', () => {
    expect(
      baselineEnv({
        PATH: '/p',
        LANG: 'en_US.UTF-8',
        LC_ALL: 'C',
        LC_CTYPE: 'UTF-8',
        TZ: 'UTC',
        HOME: '/root',
        SHELL: '/bin/bash',
        LC_MESSAGES: 'C',
        ANTHROPIC_API_KEY: 'k',
        SECRET: 's',
      }),
    ).toEqual({ PATH: '/p', LANG: 'en_US.UTF-8', LC_ALL: 'C', LC_CTYPE: 'UTF-8', TZ: 'UTC' });
  });

  it('supplies a default PATH and skips undefined values', () => {
    expect(baselineEnv({ LANG: undefined })).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin' });
  });

  it('keeps an empty PATH as given', () => {
    expect(baselineEnv({ PATH: '' })).toEqual({ PATH: '' });
  });
});

describe('claudePassthroughEnv', () => {
  it("passes ANTHROPIC_*, CLAUDE_CODE_* and API_TIMEOUT_MS only, without the credentials (they are the chosen account's)", () => {
    expect(
      claudePassthroughEnv({
        ANTHROPIC_API_KEY: 'k',
        ANTHROPIC_AUTH_TOKEN: 't',
        ANTHROPIC_BASE_URL: 'http://x',
        CLAUDE_CODE_USE_BEDROCK: '1',
        API_TIMEOUT_MS: '5',
        API_TIMEOUT_MS_EXTRA: 'no',
        MY_ANTHROPIC_KEY: 'no',
        CLAUDE_CONFIG_DIR: 'no',
        AWS_SECRET_ACCESS_KEY: 'no',
        REINS_REDIS_URL: 'no',
        PATH: 'no',
        ANTHROPIC_UNSET: undefined,
      }),
    ).toEqual({
      ANTHROPIC_BASE_URL: 'http://x',
      CLAUDE_CODE_USE_BEDROCK: '1',
      API_TIMEOUT_MS: '5',
    });
  });

  it('is case-sensitive', () => {
    expect(claudePassthroughEnv({ anthropic_api_key: 'k', Claude_Code_X: '1' })).toEqual({});
  });
});

const IDENTITY: AgentIdentity = {
  runId: 'r-abc123',
  member: 'writer',
  workspace: '/ws',
  attempt: 3,
  epoch: 7,
  jobId: 'r-abc123:writer',
  socket: '/data/sockets/0123456789abcdef.sock',
  token: 'attempt-token',
  binDir: '/data/bin',
};

describe('identityEnv', () => {
  it('names the run, member, workspace, attempt, epoch, job, and the socket and token to its worker (never Redis)', () => {
    expect(identityEnv(IDENTITY)).toEqual({
      REINS_RUN_ID: 'r-abc123',
      REINS_MEMBER: 'writer',
      REINS_WORKSPACE: '/ws',
      REINS_ATTEMPT: '3',
      REINS_EPOCH: '7',
      REINS_JOB_ID: 'r-abc123:writer',
      REINS_SOCKET: '/data/sockets/0123456789abcdef.sock',
      REINS_TOKEN: 'attempt-token',
    });
  });

  it('does not put binDir in the env itself (it goes on PATH)', () => {
    expect(Object.values(identityEnv(IDENTITY))).not.toContain('/data/bin');
  });

  it('renders epoch 0 and attempt 1 as strings', () => {
    const env = identityEnv({ ...IDENTITY, attempt: 1, epoch: 0 });
    expect(env.REINS_ATTEMPT).toBe('1');
    expect(env.REINS_EPOCH).toBe('0');
  });
});

describe('withBinDir', () => {
  it('puts binDir first on PATH and keeps everything else', () => {
    expect(withBinDir({ PATH: '/usr/bin:/bin', A: 'x' }, '/data/bin')).toEqual({ PATH: '/data/bin:/usr/bin:/bin', A: 'x' });
  });

  it('uses the default PATH after binDir when there is none', () => {
    expect(withBinDir({}, '/data/bin')).toEqual({ PATH: '/data/bin:/usr/local/bin:/usr/bin:/bin' });
  });

  it('does not mutate its input', () => {
    const env = { PATH: '/p' };
    withBinDir(env, '/b');
    expect(env).toEqual({ PATH: '/p' });
  });
});
