import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { RunStore, createKeys } from '@reins/shared';
import { Checkpointer, type CheckpointTarget } from '../../apps/worker/src/attempt/checkpointer.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';
import { startAttempt } from '../helpers/member-fixture.js';

const SESSION = '11111111-2222-4333-8444-555555555555';
const redis = useRedis();

/** A member with one attempt begun (epoch 1), and a Claude session transcript in its home. */
async function setup(name: string) {
  const store = new RunStore(redis.client, createKeys(`cp-${name}`));
  await store.createRun({ runId: 'r-checkpoint1', name, goal: name, source: 'x', spec: { name, agent: { kind: 'claude' }, team: [{ name: 'a', prompt: 'p' }] }, members: ['a'], skills: {}, createdAt: Date.now() }, [
    { name: 'a', dependsOn: [], jobId: 'r-checkpoint1.a' },
  ]);
  const epoch = await startAttempt(store, 'r-checkpoint1', 'a');
  const root = tempDir(`checkpoint-${name}`);
  const home = path.join(root, 'home');
  const attemptDir = path.join(root, 'attempt');
  await mkdir(attemptDir, { recursive: true });
  const transcript = path.join(home, '.claude', 'projects', '-ws', `${SESSION}.jsonl`);
  await mkdir(path.dirname(transcript), { recursive: true });
  const target: CheckpointTarget = { runId: 'r-checkpoint1', member: 'a', attempt: 1, epoch, home, attemptDir, workspace: { path: path.join(root, 'ws'), kind: 'scratch' }, sessionId: SESSION };
  return { store, target, transcript };
}

describe('Checkpointer', () => {
  it('ships the transcript while it is under the cap', async () => {
    const { store, target, transcript } = await setup('under');
    await writeFile(transcript, '{"type":"user"}\n'.repeat(20));
    expect(await new Checkpointer(store, target, 4096).take(2, 1_000)).toBe(true);
    const cursor = await store.readCursor('r-checkpoint1', 'a');
    expect(cursor?.transcriptBytes).toBe(320);
    expect(gunzipSync(cursor!.transcriptGz!).toString()).toBe('{"type":"user"}\n'.repeat(20));
    expect(cursor?.transcriptOmitted).toBeUndefined();
  });

  it('drops the earlier transcript from the cursor once the transcript grows past the cap, and takes it back below', async () => {
    const { store, target, transcript } = await setup('over');
    const checkpointer = new Checkpointer(store, target, 4096);
    await writeFile(transcript, '{"type":"user"}\n'.repeat(20));
    await checkpointer.take(1, 1_000);
    expect((await store.readCursor('r-checkpoint1', 'a'))?.transcriptGz).toBeDefined();

    // Incompressible: well over the 4096-byte cap once gzipped. An older transcript must not stay behind.
    await writeFile(transcript, randomBytes(16 * 1024));
    expect(await checkpointer.take(5, 2_000)).toBe(true);
    let cursor = await store.readCursor('r-checkpoint1', 'a');
    expect(cursor?.transcriptBytes).toBe(16 * 1024);
    expect(cursor?.transcriptOmitted).toMatch(/over the 4096-byte cap$/);
    expect(cursor?.transcriptGz).toBeUndefined();

    await writeFile(transcript, '{"type":"assistant"}\n'.repeat(10));
    await checkpointer.take(6, 3_000);
    cursor = await store.readCursor('r-checkpoint1', 'a');
    expect(cursor?.transcriptOmitted).toBeUndefined();
    expect(gunzipSync(cursor!.transcriptGz!).toString()).toBe('{"type":"assistant"}\n'.repeat(10));
  });

  it('writes nothing when nothing moved, and nothing once its attempt is superseded', async () => {
    const { store, target, transcript } = await setup('fenced');
    const checkpointer = new Checkpointer(store, target, 4096);
    await writeFile(transcript, '{"type":"user"}\n');
    expect(await checkpointer.take(1, 1_000)).toBe(true);
    expect(await checkpointer.take(1, 2_000)).toBe(false);
    await startAttempt(store, 'r-checkpoint1', 'a');
    await writeFile(transcript, '{"type":"user"}\n{"type":"assistant"}\n');
    await expect(checkpointer.take(2, 3_000)).rejects.toThrow('superseded');
    expect((await store.readCursor('r-checkpoint1', 'a'))?.at).toBe(1_000);
  });
});
