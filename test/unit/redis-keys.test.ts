import { describe, it, expect } from 'vitest';
import { QueueKeys } from 'bullmq';
import { QUEUES, createKeys, type Keys } from '@reins/shared';

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag (the text inside the first "{…}", if not empty) or the whole key, mod 16384. */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * Every key createKeys() can build, found by walking the object itself (so a builder added later is
 * covered without touching this file): strings as they are, functions called with sample arguments that
 * carry braces of their own, which must never become the hash tag.
 */
function everyKey(keys: Keys): [string, string][] {
  return Object.entries(keys).map(([name, builder]: [string, unknown]) => {
    if (typeof builder === 'string') return [name, builder];
    if (typeof builder === 'function') {
      const args = Array.from({ length: builder.length }, (_, i) => `{arg${i}}-r-x`);
      const key: unknown = builder(...args);
      if (typeof key !== 'string') throw new Error(`keys.${name}(…) returned ${typeof key}, not a key`);
      return [name, key];
    }
    throw new Error(`keys.${name} is a ${typeof builder}: neither a key nor a key builder`);
  });
}

describe('createKeys', () => {
  const keys = createKeys('reins');

  it('builds every key under the {prefix} hash tag, in its documented shape', () => {
    expect(keys.bullPrefix).toBe('{reins}');
    expect(keys.run('r-abc123')).toBe('{reins}:run:r-abc123');
    expect(keys.member('r-abc123', 'writer')).toBe('{reins}:member:r-abc123:writer');
    expect(keys.runs).toBe('{reins}:runs');
    expect(keys.activeRuns).toBe('{reins}:runs:active');
    expect(keys.events('r-abc123', 'writer')).toBe('{reins}:events:r-abc123:writer');
    expect(keys.heartbeat('r-abc123.writer')).toBe('{reins}:hb:r-abc123.writer');
    expect(keys.cursor('r-abc123', 'writer')).toBe('{reins}:cursor:r-abc123:writer');
    expect(keys.skills('r-abc123')).toBe('{reins}:skills:r-abc123');
    expect(keys.artifacts('r-abc123')).toBe('{reins}:artifacts:r-abc123');
    expect(keys.worker('host-1')).toBe('{reins}:worker:host-1');
    expect(keys.controlChannel).toBe('{reins}:control');
    expect(keys.runEventsChannel).toBe('{reins}:run-events');
  });

  it('puts every key of every builder in the one cluster slot of its prefix, with the prefix as the first hash tag', () => {
    for (const prefix of ['reins', 'team-a.1']) {
      const all = everyKey(createKeys(prefix));
      // Every own property is a key or a builder; a new one shows up here by itself.
      expect(all.length).toBe(Object.keys(createKeys(prefix)).length);
      for (const [name, key] of all) {
        expect(/^[^{]*\{([^}]*)\}/.exec(key)?.[1], `keys.${name} → ${key}`).toBe(prefix);
        expect(clusterSlot(key), `keys.${name} → ${key}`).toBe(clusterSlot(`{${prefix}}`));
      }
      // Builders called with the same arguments still build different keys.
      expect(new Set(all.map(([, key]) => key)).size, JSON.stringify(all)).toBe(all.length);
    }
  });

  it('puts BullMQ keys of the reins queues in the same slot, through bullPrefix', () => {
    const bullKeys = Object.values(QUEUES).flatMap((queue) => Object.values(new QueueKeys(keys.bullPrefix).getKeys(queue)));
    expect(bullKeys.length).toBeGreaterThan(Object.keys(QUEUES).length);
    for (const key of bullKeys) expect(clusterSlot(key), key).toBe(clusterSlot(keys.run('r')));
  });

  it('computes cluster slots as Redis does', () => {
    // From the Redis Cluster specification: CRC16("123456789") = 0x31C3; and hash tags.
    expect(clusterSlot('123456789')).toBe(0x31c3 % 16384);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('bar')).toBe(5061);
    expect(clusterSlot('{foo}:anything')).toBe(12182);
    // An empty first tag hashes the whole key.
    expect(clusterSlot('foo{}{bar}')).not.toBe(clusterSlot('bar'));
    expect(clusterSlot('{reins}:a')).not.toBe(clusterSlot('{other}:a'));
  });

  it('uses the given prefix', () => {
    const other = createKeys('team-a.1');
    expect(other.bullPrefix).toBe('{team-a.1}');
    expect(other.run('r-x')).toBe('{team-a.1}:run:r-x');
    expect(other.heartbeat('r-x.m')).toBe('{team-a.1}:hb:r-x.m');
  });

  it('keeps the keys of two prefixes apart', () => {
    const a = createKeys('a');
    const b = createKeys('b');
    expect(a.run('r')).not.toBe(b.run('r'));
    expect(a.runs).toBe('{a}:runs');
    expect(b.runs).toBe('{b}:runs');
  });
});
