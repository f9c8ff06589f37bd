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
      ['redis+cluster://u:hunter2@n1:7000/0', 'names database 0: Redis Cluster has only database 0'],
      ['redis+sentinel://u:hunter2@h1/bad name', 'contains white space'],
      ['redis://u:hunter2@', 'is not a valid redis URL'],
    ];
    for (const [url, expected] of cases) {
      const message = refusal(url);
      expect(message, url).toContain(expected);
      expect(message, url).not.toContain('hunter2');
    }
  });

  it('names the part of a cluster URL that is wrong, and never shows the password', () => {
    const cases: [string, string][] = [
      ['redis+cluster://u:hunter2@', 'redis+cluster://u:***@ names no cluster node: expected host:port[,host:port…] after //'],
      ['rediss+cluster://:hunter2@', 'names no cluster node'],
      ['redis+cluster://u:hunter2@n1:7000,n2:70000', 'port 70000 of "n2:70000" in redis+cluster://u:***@n1:7000,n2:70000 is not from 1 to 65535'],
      ['redis+cluster://u:hunter2@n1:0', 'port 0 of "n1:0"'],
      ['redis+cluster://u:hunter2@n1:7000,n2:port', 'cluster node "n2:port" in redis+cluster://u:***@n1:7000,n2:port is not host:port'],
      ['redis+cluster://u:hunter2@n1:7000,,n2:7001', 'cluster node "" in'],
      ['redis+cluster://u:hunter2@n1:7000/3', 'redis+cluster://u:***@n1:7000/3 names database 3: Redis Cluster has only database 0'],
      ['redis+cluster://u:hunter2@n1:7000/mymaster', 'has a path "/mymaster": a cluster URL names nodes only'],
      ['redis+cluster://u:hunter2@n1:7000?db=2', 'has an unknown parameter "db"'],
      ['redis+cluster://u:hunter2@n1:7000?sentinelPassword=x', 'has an unknown parameter "sentinelPassword"'],
      ['redis+cluster://u:hunter%zz@n1:7000', 'the password of redis+cluster://u:***@n1:7000 is not valid percent-encoding'],
    ];
    for (const [url, expected] of cases) {
      const message = refusal(url);
      expect(message, url).toContain(expected);
      expect(message, url).not.toContain('hunter');
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
    expect(loadConfig({ REINS_REDIS_URL: 'rediss+cluster://app:pw@n1:7000,n2:7001' }).redisUrl).toBe('rediss+cluster://app:pw@n1:7000,n2:7001');
    expect(() => loadConfig({ REINS_REDIS_URL: 'redis+cluster://admin:hunter2@n1:7000/1' })).toThrow(/REINS_REDIS_URL: redis\+cluster:\/\/admin:\*\*\*@n1:7000\/1 names database 1/);
  });
});
