import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { ConfigError, ENV_NAMES, isConfigError, loadConfig, projectRoot, redactRedisUrl } from '@reins/shared';

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
      backoffBaseMs: 5_000,
      defaultAttempts: 3,
      boardHost: '127.0.0.1',
      boardPort: 8700,
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
      REINS_BACKOFF_BASE_MS: '10',
      REINS_DEFAULT_ATTEMPTS: '5',
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
      backoffBaseMs: 10,
      defaultAttempts: 5,
      boardHost: '0.0.0.0',
      boardPort: 0,
    });
  });

  it('lets flags (overrides) win over the environment', () => {
    const config = loadConfig(
      { REINS_PREFIX: 'from-env', REINS_WORKER_CONCURRENCY: '2', REINS_LOG_LEVEL: 'warn' },
      { REINS_PREFIX: 'from-flag', REINS_WORKER_CONCURRENCY: '8' },
    );
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
    expect(ENV_NAMES).toHaveLength(15);
    for (const name of ENV_NAMES) expect(name.startsWith('REINS_')).toBe(true);
  });

  it('rejects a non-redis URL, naming the variable and the value', () => {
    const error = configError(() => loadConfig({ REINS_REDIS_URL: 'http://x' }));
    expect(error.issues).toEqual([{ path: 'REINS_REDIS_URL', message: 'expected a redis:// or rediss:// URL, got "http://x"' }]);
    expect(error.message).toBe('Invalid configuration:\n  - REINS_REDIS_URL: expected a redis:// or rediss:// URL, got "http://x"');
    expect(error.name).toBe('ConfigError');
  });

  it('rejects a bad URL given as a flag', () => {
    const error = configError(() => loadConfig({}, { REINS_REDIS_URL: 'localhost:6379' }));
    expect(error.issues).toEqual([{ path: 'REINS_REDIS_URL', message: 'expected a redis:// or rediss:// URL, got "localhost:6379"' }]);
  });

  it('rejects a prefix with a space', () => {
    const error = configError(() => loadConfig({ REINS_PREFIX: 'my prefix' }));
    expect(error.issues).toEqual([
      { path: 'REINS_PREFIX', message: 'expected 1 to 40 letters, digits, "_", "." or "-", got "my prefix"' },
    ]);
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
    expect(configError(() => loadConfig({ REINS_HEARTBEAT_TTL_MS: '1.5' })).issues).toEqual([
      { path: 'REINS_HEARTBEAT_TTL_MS', message: 'expected a whole number of milliseconds, got "1.5"' },
    ]);
    expect(configError(() => loadConfig({ REINS_BACKOFF_BASE_MS: '0' })).issues).toEqual([
      { path: 'REINS_BACKOFF_BASE_MS', message: 'expected at least 1 ms, got "0"' },
    ]);
  });

  it('rejects out-of-range numbers and unknown log levels', () => {
    const error = configError(() =>
      loadConfig({ REINS_WORKER_CONCURRENCY: '513', REINS_DEFAULT_ATTEMPTS: '0', REINS_BOARD_PORT: '70000', REINS_LOG_LEVEL: 'loud' }),
    );
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'REINS_BOARD_PORT',
      'REINS_DEFAULT_ATTEMPTS',
      'REINS_LOG_LEVEL',
      'REINS_WORKER_CONCURRENCY',
    ]);
    const byPath = Object.fromEntries(error.issues.map((i) => [i.path, i.message]));
    expect(byPath.REINS_WORKER_CONCURRENCY).toMatch(/ 512, got "513"$/);
    expect(byPath.REINS_DEFAULT_ATTEMPTS).toMatch(/ 50, got "0"$/);
    expect(byPath.REINS_BOARD_PORT).toMatch(/ 65535, got "70000"$/);
    expect(byPath.REINS_LOG_LEVEL).toMatch(/, got "loud"$/);
    expect(byPath.REINS_LOG_LEVEL).toContain('"debug"');
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
    expect(redactRedisUrl('redis://u:p@[bad')).toBe('redis://***@[bad');
  });
});
