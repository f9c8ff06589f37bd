import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { ConfigError, assertWorkableTimings, beatIntervalMs, fenceAfterMs, isConfigError, loadConfig, projectRoot, redactRedisUrl } from '@reins/shared';
import { ENV_NAMES } from '../../libs/shared/src/config/env.js';
import { smallestWorkingTtlMs } from '../../libs/shared/src/config/timings.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect(isConfigError(error)).toBe(true);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    expect(loadConfig({})).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'reins',
      dataDir: path.resolve('.reins'),
      claudeBin: undefined,
      skillsDir: path.join(projectRoot, 'skills'),
      logLevel: 'info',
      workerId: undefined,
      workerConcurrency: 4,
      monitorIntervalMs: 5_000,
      heartbeatTtlMs: 30_000,
      reconcileIntervalMs: 2_000,
      idleTimeoutMs: 600_000,
      drainTimeoutMs: 120_000,
      checkpointIntervalMs: 30_000,
      transcriptMaxBytes: 16 * 1024 * 1024,
      worktreeRetentionMs: 7 * 24 * 3600 * 1000,
      skillMaxBytes: 1024 * 1024,
      runSkillsMaxBytes: 8 * 1024 * 1024,
      artifactMaxBytes: 64 * 1024 * 1024,
      outputMaxBytes: 64 * 1024 * 1024,
      minFreeBytes: 1024 * 1024 * 1024,
      webhooks: [],
      workerLabels: [],
      accountsFile: undefined,
      accountWarnUtilization: 0.9,
      concurrencyLimits: {},
      dailyBudgetUsd: undefined,
      budgetReserveUsd: 1,
      dailyTokens: undefined,
      backoff: { baseMs: 5_000, factor: 2, maxMs: 300_000, jitter: 0.2 },
      defaultAttempts: 5,
      boardHost: '127.0.0.1',
      boardPort: 8700,
      boardReadOnly: false,
    });
  });

  it('reads every variable from the environment, coercing numbers and resolving paths', () => {
    const config = loadConfig({
      REINS_REDIS_URL: 'redis://10.0.0.5:6390/2',
      REINS_PREFIX: 'staging.v2',
      REINS_DATA_DIR: 'var/reins',
      REINS_CLAUDE_BIN: '/opt/claude',
      REINS_SKILLS_DIR: 'my-skills',
      REINS_LOG_LEVEL: 'debug',
      REINS_WORKER_ID: 'box-7',
      REINS_WORKER_CONCURRENCY: '16',
      REINS_MONITOR_INTERVAL_MS: '250',
      REINS_HEARTBEAT_TTL_MS: '9000',
      REINS_RECONCILE_INTERVAL_MS: '100',
      REINS_IDLE_TIMEOUT_MS: '60000',
      REINS_DRAIN_TIMEOUT_MS: '7000',
      REINS_CHECKPOINT_INTERVAL_MS: '500',
      REINS_TRANSCRIPT_MAX_BYTES: '1024',
      REINS_SKILL_MAX_BYTES: '2048',
      REINS_RUN_SKILLS_MAX_BYTES: '4096',
      REINS_ARTIFACT_MAX_BYTES: '8192',
      REINS_OUTPUT_MAX_BYTES: '2097152',
      REINS_MIN_FREE_BYTES: '0',
      REINS_BACKOFF_BASE_MS: '10',
      REINS_BACKOFF_FACTOR: '1.5',
      REINS_BACKOFF_MAX_MS: '2000',
      REINS_BACKOFF_JITTER: '0',
      REINS_DEFAULT_ATTEMPTS: '9',
      REINS_BOARD_HOST: '0.0.0.0',
      REINS_BOARD_PORT: '0',
    });
    expect(config).toEqual({
      redisUrl: 'redis://10.0.0.5:6390/2',
      prefix: 'staging.v2',
      dataDir: path.resolve('var/reins'),
      claudeBin: '/opt/claude',
      skillsDir: path.resolve('my-skills'),
      logLevel: 'debug',
      workerId: 'box-7',
      workerConcurrency: 16,
      monitorIntervalMs: 250,
      heartbeatTtlMs: 9000,
      reconcileIntervalMs: 100,
      idleTimeoutMs: 60_000,
      drainTimeoutMs: 7_000,
      checkpointIntervalMs: 500,
      transcriptMaxBytes: 1024,
      worktreeRetentionMs: 7 * 24 * 3600 * 1000,
      skillMaxBytes: 2048,
      runSkillsMaxBytes: 4096,
      artifactMaxBytes: 8192,
      outputMaxBytes: 2 * 1024 * 1024,
      minFreeBytes: 0,
      webhooks: [],
      workerLabels: [],
      accountsFile: undefined,
      accountWarnUtilization: 0.9,
      concurrencyLimits: {},
      dailyBudgetUsd: undefined,
      budgetReserveUsd: 1,
      dailyTokens: undefined,
      backoff: { baseMs: 10, factor: 1.5, maxMs: 2_000, jitter: 0 },
      defaultAttempts: 9,
      boardHost: '0.0.0.0',
      boardPort: 0,
      boardReadOnly: false,
    });
  });

  it('reads REINS_WEBHOOKS as comma-separated http(s) URLs, and names a bad one', () => {
    expect(loadConfig({ REINS_WEBHOOKS: 'http://a.example/x, https://b.example/y' }).webhooks).toEqual(['http://a.example/x', 'https://b.example/y']);
    expect(() => loadConfig({ REINS_WEBHOOKS: 'ftp://nope' })).toThrow('REINS_WEBHOOKS');
  });

  it('reads worker labels, fleet concurrency caps and budgets, naming a bad value', () => {
    const config = loadConfig({ REINS_WORKER_LABELS: 'gpu, region-eu', REINS_CONCURRENCY: 'account-a=2,opus=4', REINS_DAILY_BUDGET_USD: '25.5' });
    expect(config.workerLabels).toEqual(['gpu', 'region-eu']);
    expect(config.concurrencyLimits).toEqual({ 'account-a': 2, opus: 4 });
    expect(config.dailyBudgetUsd).toBe(25.5);
    expect(() => loadConfig({ REINS_CONCURRENCY: 'account-a' })).toThrow('REINS_CONCURRENCY');
    expect(() => loadConfig({ REINS_WORKER_LABELS: 'has space' })).toThrow('REINS_WORKER_LABELS');
    expect(() => loadConfig({ REINS_DAILY_BUDGET_USD: '-1' })).toThrow('REINS_DAILY_BUDGET_USD');
    expect(() => loadConfig({ REINS_MIN_FREE_BYTES: '1G' })).toThrow('REINS_MIN_FREE_BYTES');
  });

  it('reads REINS_DAILY_TOKENS as a whole number of tokens, naming a bad value', () => {
    expect(loadConfig({ REINS_DAILY_TOKENS: '2000000' }).dailyTokens).toBe(2_000_000);
    for (const bad of ['0', '-5', '1.5', '2M']) {
      expect(configError(() => loadConfig({ REINS_DAILY_TOKENS: bad })).message).toBe(`Invalid configuration:\n  - REINS_DAILY_TOKENS: expected a whole number of tokens, 1 or more, got "${bad}"`);
    }
  });

  it('lets flags (overrides) win over the environment', () => {
    const config = loadConfig({ REINS_PREFIX: 'from-env', REINS_WORKER_CONCURRENCY: '2', REINS_LOG_LEVEL: 'warn' }, { REINS_PREFIX: 'from-flag', REINS_WORKER_CONCURRENCY: '8' });
    expect(config.prefix).toBe('from-flag');
    expect(config.workerConcurrency).toBe(8);
    expect(config.logLevel).toBe('warn');
  });

  it('falls back to the environment when an override is undefined', () => {
    expect(loadConfig({ REINS_PREFIX: 'env' }, { REINS_PREFIX: undefined }).prefix).toBe('env');
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ REINS_PREFIX: '', REINS_MONITOR_INTERVAL_MS: '', REINS_REDIS_URL: '', REINS_WORKER_ID: '' });
    expect(config.prefix).toBe('reins');
    expect(config.monitorIntervalMs).toBe(5_000);
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.workerId).toBeUndefined();
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ REINS_NOPE: 'x', PATH: '/bin' }).prefix).toBe('reins');
  });

  it('lists the variables it reads', () => {
    expect(ENV_NAMES).toContain('REINS_REDIS_URL');
    expect(ENV_NAMES).toContain('REINS_MONITOR_INTERVAL_MS');
    for (const name of [
      'REINS_IDLE_TIMEOUT_MS',
      'REINS_DRAIN_TIMEOUT_MS',
      'REINS_CHECKPOINT_INTERVAL_MS',
      'REINS_TRANSCRIPT_MAX_BYTES',
      'REINS_SKILL_MAX_BYTES',
      'REINS_RUN_SKILLS_MAX_BYTES',
      'REINS_ARTIFACT_MAX_BYTES',
      'REINS_OUTPUT_MAX_BYTES',
      'REINS_MIN_FREE_BYTES',
      'REINS_BACKOFF_BASE_MS',
      'REINS_BACKOFF_FACTOR',
      'REINS_BACKOFF_MAX_MS',
      'REINS_BACKOFF_JITTER',
      'REINS_AGENT_USER',
      'REINS_AGENT_GROUP',
    ]) {
      expect(ENV_NAMES).toContain(name);
    }
    expect(ENV_NAMES).toHaveLength(42);
    expect(new Set(ENV_NAMES).size).toBe(ENV_NAMES.length);
    for (const name of ENV_NAMES) expect(name.startsWith('REINS_')).toBe(true);
  });

  it('rejects a non-redis URL, naming the variable and the value', () => {
    const error = configError(() => loadConfig({ REINS_REDIS_URL: 'http://x' }));
    expect(error.issues).toEqual([{ path: 'REINS_REDIS_URL', message: 'the scheme of http://x is not one of redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster://, rediss+cluster://' }]);
    expect(error.message).toBe('Invalid configuration:\n  - REINS_REDIS_URL: the scheme of http://x is not one of redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster://, rediss+cluster://');
    expect(error.name).toBe('ConfigError');
  });

  it('rejects a bad URL given as a flag', () => {
    const error = configError(() => loadConfig({}, { REINS_REDIS_URL: 'localhost:6379' }));
    expect(error.issues).toEqual([{ path: 'REINS_REDIS_URL', message: 'the scheme of localhost:6379 is not one of redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster://, rediss+cluster://' }]);
  });

  it('rejects a prefix with a space', () => {
    const error = configError(() => loadConfig({ REINS_PREFIX: 'my prefix' }));
    expect(error.issues).toEqual([{ path: 'REINS_PREFIX', message: 'expected 1 to 40 letters, digits, "_", "." or "-", got "my prefix"' }]);
  });

  it('rejects a prefix with braces, which would break the hash tag', () => {
    const error = configError(() => loadConfig({ REINS_PREFIX: 'a}b' }));
    expect(error.issues[0]!.path).toBe('REINS_PREFIX');
    expect(error.issues[0]!.message).toContain('"a}b"');
  });

  it('rejects a non-numeric interval, naming the variable and the value it was given', () => {
    const error = configError(() => loadConfig({ REINS_MONITOR_INTERVAL_MS: 'abc' }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('REINS_MONITOR_INTERVAL_MS');
    expect(error.message).toContain('REINS_MONITOR_INTERVAL_MS');
    expect(error.message).toContain('"abc"');
    expect(error.message).not.toContain('NaN');
    expect(error.message).not.toContain('null');
  });

  it('rejects a fractional or zero duration, showing the value as typed', () => {
    expect(configError(() => loadConfig({ REINS_HEARTBEAT_TTL_MS: '1.5' })).issues).toEqual([{ path: 'REINS_HEARTBEAT_TTL_MS', message: 'expected a whole number of milliseconds, got "1.5"' }]);
    expect(configError(() => loadConfig({ REINS_BACKOFF_BASE_MS: '0' })).issues).toEqual([{ path: 'REINS_BACKOFF_BASE_MS', message: 'expected at least 1 ms, got "0"' }]);
  });

  it('rejects out-of-range numbers and unknown log levels', () => {
    const error = configError(() => loadConfig({ REINS_WORKER_CONCURRENCY: '513', REINS_DEFAULT_ATTEMPTS: '0', REINS_BOARD_PORT: '70000', REINS_LOG_LEVEL: 'loud' }));
    expect(error.issues.map((i) => i.path).sort()).toEqual(['REINS_BOARD_PORT', 'REINS_DEFAULT_ATTEMPTS', 'REINS_LOG_LEVEL', 'REINS_WORKER_CONCURRENCY']);
    const byPath = Object.fromEntries(error.issues.map((i) => [i.path, i.message]));
    expect(byPath.REINS_WORKER_CONCURRENCY).toMatch(/ 512, got "513"$/);
    expect(byPath.REINS_DEFAULT_ATTEMPTS).toMatch(/ 50, got "0"$/);
    expect(byPath.REINS_BOARD_PORT).toMatch(/ 65535, got "70000"$/);
    expect(byPath.REINS_LOG_LEVEL).toMatch(/, got "loud"$/);
    expect(byPath.REINS_LOG_LEVEL).toContain('"debug"');
  });

  it('rejects a backoff jitter outside 0..1, naming the variable and the value', () => {
    const error = configError(() => loadConfig({ REINS_BACKOFF_JITTER: '2' }));
    expect(error.issues).toEqual([{ path: 'REINS_BACKOFF_JITTER', message: 'expected a fraction from 0 to 1, got "2"' }]);
    expect(error.message).toBe('Invalid configuration:\n  - REINS_BACKOFF_JITTER: expected a fraction from 0 to 1, got "2"');
    expect(configError(() => loadConfig({ REINS_BACKOFF_JITTER: '-0.1' })).issues).toEqual([{ path: 'REINS_BACKOFF_JITTER', message: 'expected a fraction from 0 to 1, got "-0.1"' }]);
    expect(configError(() => loadConfig({ REINS_BACKOFF_JITTER: 'lots' })).issues).toEqual([{ path: 'REINS_BACKOFF_JITTER', message: 'expected a fraction from 0 to 1, got "lots"' }]);
  });

  it('accepts a backoff jitter of exactly 0 or 1, and a fractional one', () => {
    expect(loadConfig({ REINS_BACKOFF_JITTER: '0' }).backoff.jitter).toBe(0);
    expect(loadConfig({ REINS_BACKOFF_JITTER: '1' }).backoff.jitter).toBe(1);
    expect(loadConfig({ REINS_BACKOFF_JITTER: '0.35' }).backoff.jitter).toBe(0.35);
  });

  it('rejects a backoff factor below 1 and accepts 1 and fractions above it', () => {
    expect(configError(() => loadConfig({ REINS_BACKOFF_FACTOR: '0.5' })).issues).toEqual([{ path: 'REINS_BACKOFF_FACTOR', message: 'expected a number of at least 1, got "0.5"' }]);
    expect(configError(() => loadConfig({ REINS_BACKOFF_FACTOR: 'fast' })).issues).toEqual([{ path: 'REINS_BACKOFF_FACTOR', message: 'expected a number of at least 1, got "fast"' }]);
    expect(loadConfig({ REINS_BACKOFF_FACTOR: '1' }).backoff.factor).toBe(1);
    expect(loadConfig({ REINS_BACKOFF_FACTOR: '2.5' }).backoff.factor).toBe(2.5);
  });

  it('rejects zero or fractional new durations, naming each variable', () => {
    const error = configError(() =>
      loadConfig({
        REINS_IDLE_TIMEOUT_MS: '0',
        REINS_DRAIN_TIMEOUT_MS: '1.5',
        REINS_CHECKPOINT_INTERVAL_MS: 'soon',
        REINS_BACKOFF_MAX_MS: '-1',
      }),
    );
    expect(Object.fromEntries(error.issues.map((i) => [i.path, i.message]))).toEqual({
      REINS_IDLE_TIMEOUT_MS: 'expected at least 1 ms, got "0"',
      REINS_DRAIN_TIMEOUT_MS: 'expected a whole number of milliseconds, got "1.5"',
      REINS_CHECKPOINT_INTERVAL_MS: 'expected a whole number of milliseconds, got "soon"',
      REINS_BACKOFF_MAX_MS: 'expected at least 1 ms, got "-1"',
    });
  });

  it('accepts a transcript cap of 0 and rejects a negative or too large one', () => {
    expect(loadConfig({ REINS_TRANSCRIPT_MAX_BYTES: '0' }).transcriptMaxBytes).toBe(0);
    expect(loadConfig({ REINS_TRANSCRIPT_MAX_BYTES: String(128 * 1024 * 1024) }).transcriptMaxBytes).toBe(128 * 1024 * 1024);
    expect(configError(() => loadConfig({ REINS_TRANSCRIPT_MAX_BYTES: '-1' })).issues).toEqual([{ path: 'REINS_TRANSCRIPT_MAX_BYTES', message: 'expected a whole number from 0 to 134217728, got "-1"' }]);
    expect(configError(() => loadConfig({ REINS_TRANSCRIPT_MAX_BYTES: String(128 * 1024 * 1024 + 1) })).issues).toEqual([
      { path: 'REINS_TRANSCRIPT_MAX_BYTES', message: 'expected a whole number from 0 to 134217728, got "134217729"' },
    ]);
  });

  it('rejects more than 50 default attempts', () => {
    expect(configError(() => loadConfig({ REINS_DEFAULT_ATTEMPTS: '51' })).issues).toEqual([{ path: 'REINS_DEFAULT_ATTEMPTS', message: 'expected a whole number from 1 to 50, got "51"' }]);
    expect(loadConfig({ REINS_DEFAULT_ATTEMPTS: '1' }).defaultAttempts).toBe(1);
  });

  it('treats empty new variables as unset', () => {
    const config = loadConfig({ REINS_BACKOFF_JITTER: '', REINS_BACKOFF_FACTOR: '', REINS_IDLE_TIMEOUT_MS: '', REINS_TRANSCRIPT_MAX_BYTES: '' });
    expect(config.backoff).toEqual({ baseMs: 5_000, factor: 2, maxMs: 300_000, jitter: 0.2 });
    expect(config.idleTimeoutMs).toBe(600_000);
    expect(config.transcriptMaxBytes).toBe(16 * 1024 * 1024);
  });

  it('rejects a worker id with a slash', () => {
    const error = configError(() => loadConfig({ REINS_WORKER_ID: 'a/b' }));
    expect(error.issues).toEqual([{ path: 'REINS_WORKER_ID', message: 'expected 1 to 64 letters, digits, "_", "." or "-", got "a/b"' }]);
  });

  it('reports every bad variable at once', () => {
    const error = configError(() => loadConfig({ REINS_REDIS_URL: 'http://x', REINS_PREFIX: 'a b' }));
    expect(error.issues.map((i) => i.path)).toEqual(['REINS_REDIS_URL', 'REINS_PREFIX']);
  });

  it('accepts a rediss:// URL with a user and password', () => {
    const url = 'rediss://default:s3cr3t@redis.example.com:6380/0';
    expect(loadConfig({ REINS_REDIS_URL: url }).redisUrl).toBe(url);
  });
});

describe('redactRedisUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactRedisUrl('rediss://default:s3cr3t@redis.example.com:6380/0')).toBe('rediss://default:***@redis.example.com:6380/0');
    expect(redactRedisUrl('redis://:hunter2@10.0.0.1:6379')).toBe('redis://:***@10.0.0.1:6379');
  });

  it('leaves a URL without a password alone', () => {
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactRedisUrl('redis://user@host:1/3')).toBe('redis://user@host:1/3');
  });

  it('never shows the password', () => {
    for (const url of ['redis://u:topsecret@h:1', 'rediss://:topsecret@h', 'redis://u:top%20secret@h:1/0']) {
      expect(redactRedisUrl(url)).not.toContain('topsecret');
      expect(redactRedisUrl(url)).not.toContain('top%20secret');
    }
  });

  it('hides credentials of a string that is not a URL', () => {
    expect(redactRedisUrl('redis://u:p@[bad')).toBe('redis://u:***@[bad');
  });

  it("refuses, at a worker's start, a heartbeat TTL whose lease cannot outlast one monitor tick, naming both variables and the smallest TTL that works", () => {
    // Seen: TTL 4 s with the default 5 s tick stopped every agent about a second after it started.
    const config = loadConfig({ REINS_HEARTBEAT_TTL_MS: '4000' });
    const error = configError(() => assertWorkableTimings(config));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('REINS_HEARTBEAT_TTL_MS');
    expect(error.message).toContain('REINS_MONITOR_INTERVAL_MS=5000');
    expect(error.message).toContain(`at least ${smallestWorkingTtlMs(5_000)} ms`);
    expect(error.message).toContain('"4000"');
    // The smallest TTL it names does work, and one below it does not.
    expect(() => assertWorkableTimings({ heartbeatTtlMs: smallestWorkingTtlMs(5_000), monitorIntervalMs: 5_000 })).not.toThrow();
    expect(() => assertWorkableTimings({ heartbeatTtlMs: smallestWorkingTtlMs(5_000) - 1, monitorIntervalMs: 5_000 })).toThrow('REINS_HEARTBEAT_TTL_MS');
    expect(() => assertWorkableTimings({ heartbeatTtlMs: 2_000, monitorIntervalMs: 250 })).not.toThrow();
  });

  it('derives the lease from the TTL and the tick so that it outlasts a tick exactly when the configuration is accepted', () => {
    for (const tick of [100, 250, 500, 1_000, 5_000, 30_000]) {
      const ttl = smallestWorkingTtlMs(tick);
      expect(fenceAfterMs(ttl, tick)).toBeGreaterThan(tick);
      expect(fenceAfterMs(ttl - 1, tick)).toBeLessThanOrEqual(tick);
    }
  });

  it('beats every other tick with the defaults, every tick with a short lease, and always well inside the lease', () => {
    expect(beatIntervalMs(30_000, 5_000)).toBe(10_000);
    expect(beatIntervalMs(2_000, 500)).toBe(500);
    expect(beatIntervalMs(4_000, 1_000)).toBe(1_000);
    for (const tick of [100, 500, 1_000, 5_000]) {
      for (const ttl of [smallestWorkingTtlMs(tick), 30_000, 120_000]) {
        const every = beatIntervalMs(ttl, tick);
        expect(every % tick).toBe(0);
        // The next beat is due while the lease of the last one still holds.
        expect(every).toBeLessThan(fenceAfterMs(ttl, tick));
        if (fenceAfterMs(ttl, tick) > 2 * tick) expect(every * 2).toBeLessThanOrEqual(fenceAfterMs(ttl, tick));
      }
    }
  });
});
