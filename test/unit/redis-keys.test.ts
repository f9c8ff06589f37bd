import { describe, it, expect } from 'vitest';
import { createKeys } from '@reins/shared';

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
    expect(keys.worker('host-1')).toBe('{reins}:worker:host-1');
    expect(keys.controlChannel).toBe('{reins}:control');
    expect(keys.runEventsChannel).toBe('{reins}:run-events');
  });

  it('puts the hash tag first in every key, so all share one cluster slot', () => {
    const all = [
      keys.bullPrefix,
      keys.run('r'),
      keys.member('r', 'm'),
      keys.runs,
      keys.activeRuns,
      keys.events('r', 'm'),
      keys.heartbeat('j'),
      keys.cursor('r', 'm'),
      keys.worker('w'),
      keys.controlChannel,
      keys.runEventsChannel,
    ];
    for (const key of all) {
      expect(key.startsWith('{reins}')).toBe(true);
      // Redis Cluster hashes the text between the first "{" and the next "}".
      expect(/^[^{]*\{([^}]*)\}/.exec(key)?.[1]).toBe('reins');
    }
    expect(new Set(all).size).toBe(all.length);
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
