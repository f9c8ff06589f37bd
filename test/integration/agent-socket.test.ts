import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_REQUEST_MAX_BYTES, askWorker, createKeys, createLogger, RunStore, TaskList } from '@reins/shared';
import { AgentSockets, newAgentChannel, type AgentChannel } from '../../apps/worker/src/attempt/agent-socket.js';
import { useRedis } from '../helpers/redis.js';
import { startAttempt } from '../helpers/member-fixture.js';
import { tempDir } from '../helpers/test-root.js';

const redis = useRedis();
const keys = createKeys('agent-socket');
let store: RunStore;
const logger = createLogger({ name: 'test', level: 'silent' });
const open: AgentSockets[] = [];
/** The tool hooks the workers were told of, as [job, event]. */
const hooks: [string, string | undefined][] = [];

/** A worker's sockets: each test's two "workers" serve one attempt each. */
function worker(): AgentSockets {
  const sockets = new AgentSockets({ redis: redis.client, keys, store, logger, heartbeatTtlMs: 30_000, onHook: (jobId, event) => hooks.push([jobId, event]) });
  open.push(sockets);
  return sockets;
}

beforeAll(() => {
  store = new RunStore(redis.client, keys);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.closeAll()));
});

let runs = 0;
async function runWithMembers(...members: string[]): Promise<string> {
  runs += 1;
  const runId = `r-socket${String(runs).padStart(5, '0')}`;
  await store.createRun(
    { runId, name: 's', goal: 's', source: 'x', spec: { name: 's', agent: { kind: 'command', argv: ['true'] }, team: members.map((name) => ({ name, prompt: 'p' })) }, members, skills: {}, createdAt: Date.now() },
    members.map((name) => ({ name, dependsOn: [], jobId: `${runId}.${name}` })),
  );
  return runId;
}

/** Starts an attempt of the member and serves its socket on `sockets`. */
async function serveAttempt(sockets: AgentSockets, runId: string, member: string): Promise<{ epoch: number; channel: AgentChannel }> {
  const epoch = await startAttempt(store, runId, member);
  const channel = newAgentChannel(tempDir('sockets'));
  await sockets.listen({ runId, member, attempt: epoch, epoch, jobId: `${runId}.${member}`, channel });
  return { epoch, channel };
}

describe("an agent's socket to its worker", () => {
  it('is mode 0600 and serves the agent its own run: tasks and messages as its member', async () => {
    const runId = await runWithMembers('alice', 'bob');
    const alice = await serveAttempt(worker(), runId, 'alice');
    expect((await stat(alice.channel.path)).mode & 0o777).toBe(0o600);
    const added = await askWorker(alice.channel.path, alice.channel.token, { op: 'task.add', title: 'review' });
    expect(added).toMatchObject({ ok: true, result: { title: 'review', createdBy: 'alice' } });
    expect(await askWorker(alice.channel.path, alice.channel.token, { op: 'task.claim' })).toMatchObject({ ok: true, result: { claimedBy: 'alice' } });
    expect(await askWorker(alice.channel.path, alice.channel.token, { op: 'msg.send', to: 'bob', text: 'hi' })).toEqual({ ok: true, result: { sent: ['bob'] } });
    expect(await askWorker(alice.channel.path, alice.channel.token, { op: 'msg.send', to: 'mallory', text: 'hi' })).toMatchObject({ ok: false, kind: 'not_found' });
    // The list is the run's: what reached Redis is under this run, by this member.
    expect((await new TaskList(redis.client, keys, runId).list()).map((t) => [t.title, t.claimedBy])).toEqual([['review', 'alice']]);
  });

  it("refuses another attempt's token, on its own socket or on the other attempt's", async () => {
    const runId = await runWithMembers('alice', 'bob');
    const sockets = worker();
    const alice = await serveAttempt(sockets, runId, 'alice');
    const bob = await serveAttempt(sockets, runId, 'bob');
    // Bob's agent, connecting to Alice's socket with its own token, to act as Alice.
    expect(await askWorker(alice.channel.path, bob.channel.token, { op: 'task.add', title: 'as alice' })).toMatchObject({ ok: false, kind: 'refused', error: expect.stringContaining('token does not match') });
    expect(await askWorker(alice.channel.path, 'guess', { op: 'checkpoint', data: {} })).toMatchObject({ ok: false, kind: 'refused' });
    expect(await new TaskList(redis.client, keys, runId).list()).toEqual([]);
  });

  it("refuses a superseded attempt's requests, and an old epoch's token on the new attempt's socket", async () => {
    const runId = await runWithMembers('solo');
    const [oldWorker, newWorker] = [worker(), worker()];
    const first = await serveAttempt(oldWorker, runId, 'solo');
    const second = await serveAttempt(newWorker, runId, 'solo');
    expect(second.epoch).toBe(first.epoch + 1);
    // The old attempt's agent, still running on a worker that has not noticed: every write refused.
    expect(await askWorker(first.channel.path, first.channel.token, { op: 'checkpoint', data: { x: 1 } })).toMatchObject({ ok: false, kind: 'refused', error: expect.stringContaining('superseded') });
    expect(await askWorker(first.channel.path, first.channel.token, { op: 'task.add', title: 'late' })).toMatchObject({ ok: false, kind: 'refused' });
    expect(await askWorker(first.channel.path, first.channel.token, { op: 'beat', event: 'PreToolUse' })).toEqual({ ok: true, result: { superseded: true } });
    // Its token replayed on the new attempt's socket.
    expect(await askWorker(second.channel.path, first.channel.token, { op: 'checkpoint', data: { x: 1 } })).toMatchObject({ ok: false, kind: 'refused' });
    expect(await askWorker(second.channel.path, second.channel.token, { op: 'checkpoint', data: { x: 2 } })).toEqual({ ok: true, result: { saved: true } });
    expect(await askWorker(second.channel.path, second.channel.token, { op: 'beat', event: 'PostToolUse' })).toEqual({ ok: true, result: { superseded: false } });
    // The worker's monitor hears of each tool hook (a tool between them is work, not a hang).
    expect(hooks.slice(-2)).toEqual([
      [`${runId}.solo`, 'PreToolUse'],
      [`${runId}.solo`, 'PostToolUse'],
    ]);
    expect((await store.readCursor(runId, 'solo'))?.data).toEqual({ x: 2 });
  });

  it('answers a malformed or oversized request with bad_request, and reads no more of it', async () => {
    const runId = await runWithMembers('solo');
    const solo = await serveAttempt(worker(), runId, 'solo');
    expect(await askWorker(solo.channel.path, solo.channel.token, { op: 'task.add', title: '   ' })).toMatchObject({ ok: false, kind: 'bad_request', error: expect.stringContaining('title') });
    expect(await askWorker(solo.channel.path, solo.channel.token, { op: 'rm -rf' } as never)).toMatchObject({ ok: false, kind: 'bad_request' });
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(solo.channel.path);
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      // More than the cap, with no newline: the worker answers once it is past the cap.
      socket.write('x'.repeat(AGENT_REQUEST_MAX_BYTES + 1));
    });
    expect(JSON.parse(reply)).toMatchObject({ ok: false, kind: 'bad_request', error: expect.stringContaining(String(AGENT_REQUEST_MAX_BYTES)) });
  });

  it("at a worker's start, removes sockets nobody serves and keeps those another worker serves", async () => {
    const dataDir = tempDir('sweep');
    const runId = await runWithMembers('live');
    const live = newAgentChannel(dataDir);
    const epoch = await startAttempt(store, runId, 'live');
    await worker().listen({ runId, member: 'live', attempt: epoch, epoch, jobId: `${runId}.live`, channel: live });
    // A socket file whose process died: bound, never served again.
    const stale = newAgentChannel(dataDir).path;
    execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stale]);
    await worker().sweep(dataDir);
    expect(existsSync(stale)).toBe(false);
    expect(await askWorker(live.path, live.token, { op: 'task.list' })).toEqual({ ok: true, result: [] });
  });
});
