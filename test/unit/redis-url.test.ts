import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactRedisUrl } from '@reins/shared';
import { parseRedisUrl } from '../../libs/shared/src/redis/redis-url.js';

const refusal = (url: string): string => {
  try {
    parseRedisUrl(url);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${url} was accepted`);
};

describe('REINS_REDIS_URL forms', () => {
  it('reads one server, Sentinel and Cluster URLs, with credentials and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379/2', tls: false });
    expect(parseRedisUrl('rediss+sentinel://app:s%40cret@h1:26379,h2,[::1]:26380/mymaster?sentinelPassword=sp')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'h1', port: 26379 },
        { host: 'h2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'mymaster',
      username: 'app',
      password: 's@cret',
      sentinelPassword: 'sp',
      tls: true,
    });
    expect(parseRedisUrl('redis+cluster://:pw@n1:7000,n2:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      password: 'pw',
      tls: false,
    });
  });

  it('names the part that is wrong, and never shows the password', () => {
    const cases: [string, string][] = [
      ['http://u:hunter2@h:1', 'the scheme of http://u:***@h:1 is not one of redis://'],
      ['redis+sentinel://u:hunter2@h1:26379', 'names no master'],
      ['redis+sentinel://u:hunter2@/mymaster', 'names no sentinel'],
      ['redis+sentinel://u:hunter2@h1:99999/m', 'port 99999 of "h1:99999"'],
      ['redis+sentinel://u:hunter2@h1:x/m', 'sentinel "h1:x" in redis+sentinel://u:***@h1:x/m is not host:port'],
      ['redis+sentinel://u:hunter2@h1/m?db=2', 'unknown parameter "db"'],
      ['redis+cluster://u:hunter2@n1:7000/0', 'a cluster URL names nodes only'],
      ['redis+sentinel://u:hunter2@h1/bad name', 'contains white space'],
      ['redis://u:hunter2@', 'is not a valid redis URL'],
    ];
    for (const [url, expected] of cases) {
      const message = refusal(url);
      expect(message, url).toContain(expected);
      expect(message, url).not.toContain('hunter2');
    }
  });

  it('redacts the password of every form, and a sentinel password', () => {
    expect(redactRedisUrl('redis://u:pw@h:1/0')).toBe('redis://u:***@h:1/0');
    expect(redactRedisUrl('redis+sentinel://:pw@h1,h2/m?sentinelPassword=sp')).toBe('redis+sentinel://:***@h1,h2/m?sentinelPassword=***');
    expect(redactRedisUrl('redis://h:1')).toBe('redis://h:1');
  });

  it('a malformed REINS_REDIS_URL is a configuration error naming the variable, without the password', () => {
    let error: unknown;
    try {
      loadConfig({ REINS_REDIS_URL: 'redis+sentinel://admin:hunter2@h1:26379' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('REINS_REDIS_URL');
    expect((error as Error).message).toContain('names no master');
    expect((error as Error).message).not.toContain('hunter2');
    expect(() => loadConfig({ REINS_REDIS_URL: 'redis+sentinel://h1:26379,h2:26379/mymaster' })).not.toThrow();
  });
});
