import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis } from '@reins/shared';
import { parseClusterNodes } from '../../libs/shared/src/redis/connection.js';

// Built with lazyConnect and never connected: these check what each URL form builds, not a server.
describe('the connection factory', () => {
  it('builds a Cluster from a cluster URL: its nodes, and credentials and TLS for every node', () => {
    const redis = createRedis('rediss+cluster://app:s3cret@n1:7000,n2:7001', 'command', { lazyConnect: true });
    expect(redis).toBeInstanceOf(Cluster);
    const cluster = redis as Cluster;
    expect((cluster as unknown as { startupNodes: unknown }).startupNodes).toEqual([
      { host: 'n1', port: 7000 },
      { host: 'n2', port: 7001 },
    ]);
    expect(cluster.options.redisOptions).toMatchObject({ username: 'app', password: 's3cret', tls: {}, maxRetriesPerRequest: 1, connectTimeout: 3_000 });
    // The role's give-up-after-three lives where a Cluster reads it: the nodes never reconnect on their own.
    expect(cluster.options.clusterRetryStrategy?.(4)).toBeNull();
    expect(cluster.options.redisOptions).not.toHaveProperty('retryStrategy');
    expect(cluster.options.lazyConnect).toBe(true);
    cluster.disconnect();
  });

  it('a blocking Cluster connection carries maxRetriesPerRequest: null in redisOptions, where BullMQ checks a Cluster', () => {
    const cluster = createRedis('redis+cluster://n1:7000', 'blocking', { lazyConnect: true, commandTimeout: 500, enableReadyCheck: false }) as Cluster;
    expect(cluster.options.redisOptions?.maxRetriesPerRequest).toBeNull();
    expect(cluster.options.redisOptions?.commandTimeout).toBe(500);
    expect(cluster.options.enableReadyCheck).toBe(false);
    expect(cluster.options.redisOptions).not.toHaveProperty('enableReadyCheck');
    // A duplicate (BullMQ makes one for its blocking reads) keeps all of it.
    const copy = cluster.duplicate();
    expect(copy.options.redisOptions?.maxRetriesPerRequest).toBeNull();
    copy.disconnect();
    cluster.disconnect();
  });

  it('standalone and Sentinel URLs still build a single-node client', () => {
    const one = createRedis('redis://127.0.0.1:1/2', 'command', { lazyConnect: true });
    expect(one).toBeInstanceOf(Redis);
    expect(one).not.toBeInstanceOf(Cluster);
    one.disconnect();
    const sentinel = createRedis('redis+sentinel://h1:26379/m', 'blocking', { lazyConnect: true }) as Redis;
    expect(sentinel.options).toMatchObject({ name: 'm', sentinels: [{ host: 'h1', port: 26379 }], maxRetriesPerRequest: null });
    sentinel.disconnect();
  });

  it('reads CLUSTER NODES: masters with their slot ranges, replicas with their master, migrating slots left out', () => {
    const reply = [
      'a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b2]',
      'b2 127.0.0.1:7001@17001,host-b master - 0 1 2 connected 5461-10922',
      'c3 127.0.0.1:7002@17002 master,fail - 0 1 3 disconnected 10923-16383',
      'd4 127.0.0.1:7003@17003 slave a1 0 1 1 connected',
      '',
    ].join('\n');
    expect(parseClusterNodes(reply)).toEqual([
      { id: 'a1', address: '127.0.0.1:7000', master: true, masterId: undefined, slots: ['0-5460'], failing: false },
      { id: 'b2', address: '127.0.0.1:7001', master: true, masterId: undefined, slots: ['5461-10922'], failing: false },
      { id: 'c3', address: '127.0.0.1:7002', master: true, masterId: undefined, slots: ['10923-16383'], failing: true },
      { id: 'd4', address: '127.0.0.1:7003', master: false, masterId: 'a1', slots: [], failing: false },
    ]);
  });
});
