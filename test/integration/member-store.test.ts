import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RunStore, createKeys, isStaleEpochError, withScripts } from '@reins/shared';
import { LUA_DIR, loadScripts } from '../../libs/shared/src/redis/scripts.js';
import { useRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/chaos.js';

const redis = useRedis();

async function newMember(name: string) {
  const keys = createKeys(`ms-${name}`);
  const store = new RunStore(redis.client, keys);
  const runId = 'r-memberstore1';
  await store.createRun({ runId, name, goal: name, source: 'x', spec: { name, agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt: 'p' }] }, members: ['a'], skills: {}, createdAt: 1 }, [
    { name: 'a', dependsOn: [], jobId: `${runId}.a` },
  ]);
  return { keys, store, runId };
}
const started = { type: 'attempt_started', attempt: 1, at: 10, workerId: 'w1', host: 'h1', tmuxSocket: '/s', workspace: '/w' } as const;
const record = (epoch: number, outcome: string) => ({ attempt: 1, epoch, outcome, message: outcome, startedAt: 10, endedAt: 20, workerId: 'w1', host: 'h1' });

describe('RunStore.apply: the member state machine in Redis', () => {
  it('takes a new epoch on each attempt, and refuses a superseded attempt with StaleEpochError', async () => {
    const { store, runId } = await newMember('epochs');
    await store.apply(runId, 'a', { type: 'released', queue: 'agent' });
    const first = await store.apply(runId, 'a', started);
    const second = await store.apply(runId, 'a', { ...started, attempt: 2 });
    expect([first.epoch, second.epoch]).toEqual([1, 2]);
    const stale = await store.apply(runId, 'a', { type: 'attempt_failed', record: record(1, 'crash'), final: false }, { epoch: 1 }).catch((e: unknown) => e);
    expect(isStaleEpochError(stale)).toBe(true);
    expect((await store.getMember(runId, 'a'))!.status).toBe('running');
  });

  it('refuses, and leaves untouched, an event the status does not allow', async () => {
    const { store, runId } = await newMember('refused');
    const refused = await store.apply(runId, 'a', started);
    expect(refused).toMatchObject({ applied: false, status: 'pending' });
    expect(await store.getMember(runId, 'a')).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await store.getMember(runId, 'a'))!.epoch).toBeUndefined();
  });

  it('writes the attempt record with the transition, once per epoch (a Redis outage once recorded attempt #1 twice)', async () => {
    const { store, runId } = await newMember('once');
    await store.apply(runId, 'a', { type: 'released', queue: 'agent' });
    const { epoch } = await store.apply(runId, 'a', started);
    const crash = { type: 'attempt_failed', record: record(epoch, 'crash'), final: false } as const;
    expect((await store.apply(runId, 'a', crash, { epoch })).applied).toBe(true);
    // The same write again, as a retry after a lost reply would send it, and a stall of the same attempt.
    expect((await store.apply(runId, 'a', crash, { epoch })).applied).toBe(false);
    expect((await store.apply(runId, 'a', { type: 'attempt_failed', record: record(epoch, 'stalled'), final: false, stallsSeen: 1 }, { epoch })).applied).toBe(false);
    expect((await store.readAttempts(runId, 'a')).map((r) => r.outcome)).toEqual(['crash']);
  });

  it('announces each applied event on the run-events channel', async () => {
    const { keys, store, runId } = await newMember('announce');
    const listener = new Redis(redis.url);
    const messages: string[] = [];
    listener.on('message', (_c, m) => messages.push(m));
    await listener.subscribe(keys.runEventsChannel);
    try {
      await store.apply(runId, 'a', { type: 'released', queue: 'agent' });
      await store.apply(runId, 'a', started);
      await waitFor(() => messages.length >= 2, 'two announcements');
      expect(messages.map((m) => JSON.parse(m) as Record<string, unknown>)).toMatchObject([
        { runId, member: 'a', event: 'released', status: 'queued', epoch: 0 },
        { runId, member: 'a', event: 'attempt_started', status: 'running', epoch: 1 },
      ]);
    } finally {
      listener.disconnect();
    }
  });
});

describe('the Lua script loader', () => {
  it('loads every script of libs/shared/lua under its command name and key count', () => {
    const scripts = loadScripts();
    expect(scripts.find((s) => s.name === 'reinsMemberEvent')).toMatchObject({ numberOfKeys: 2 });
    expect(scripts.find((s) => s.name === 'reinsTaskClaim')).toMatchObject({ numberOfKeys: 1 });
    expect(scripts.length).toBeGreaterThanOrEqual(9);
    expect(LUA_DIR).toMatch(/libs\/shared\/lua$/);
  });

  it('refuses two files for one command, and a file not named <name>-<keys>.lua', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reins-lua-'));
    writeFileSync(path.join(dir, 'same-name-1.lua'), 'return 1');
    writeFileSync(path.join(dir, 'same-name-2.lua'), 'return 2');
    expect(() => loadScripts(dir)).toThrow('both define the command reinsSameName');
    const bad = mkdtempSync(path.join(os.tmpdir(), 'reins-lua-'));
    writeFileSync(path.join(bad, 'no-key-count.lua'), 'return 1');
    expect(() => loadScripts(bad)).toThrow('is not named <name>-<number of keys>.lua');
  });

  it('registers once per connection, and refuses a name the connection already has', () => {
    const connection = new Redis(redis.url, { lazyConnect: true });
    try {
      expect(withScripts(connection)).toBe(withScripts(connection));
      const other = new Redis(redis.url, { lazyConnect: true });
      other.defineCommand('reinsMemberEvent', { numberOfKeys: 0, lua: 'return 0' });
      expect(() => withScripts(other)).toThrow('already has a command of that name');
      other.disconnect();
    } finally {
      connection.disconnect();
    }
  });
});
