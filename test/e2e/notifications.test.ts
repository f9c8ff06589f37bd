import path from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMessagesApi, type Handler, type MessagesApi } from '../helpers/messages-api.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { gatedNodeAgent, openGate } from '../helpers/gate.js';

interface Received {
  event: string;
  runId: string;
  member?: string;
  class?: string;
  text: string;
  costUsd?: number;
}

let redis: TestRedis;
let api: MessagesApi;
let handler: Handler = () => ({ text: 'ok' });
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let failNext = 0;

beforeAll(async () => {
  redis = await startRedis();
  api = await startMessagesApi({ handler: (req) => handler(req) });
  // A local webhook receiver; it can be told to fail, to prove deliveries are retried.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (failNext > 0) {
        failNext -= 1;
        res.writeHead(500).end();
        return;
      }
      received.push(JSON.parse(body) as Received);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/reins`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await api?.close();
  await redis?.stop();
});

describe('notifications', () => {
  it('POSTs member failed for good and run failed to the harness webhooks, retrying a failed delivery', async () => {
    received.length = 0;
    failNext = 1;
    const file = await writeHarness(tempDir('notified'), {
      name: 'notified',
      notify: { webhooks: [receiverUrl] },
      retry: { attempts: 1 },
      team: [
        { name: 'broken', prompt: 'x', agent: { kind: 'command', argv: ['sh', '-c', 'echo cannot >&2; exit 4'] } },
        { name: 'fine', prompt: 'y', agent: { kind: 'command', argv: ['true'] } },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const runId = (JSON.parse(result.stdout) as { runId: string }).runId;
      await waitFor(() => received.some((r) => r.event === 'run.failed') && received.some((r) => r.event === 'member.failed'), 'both notifications');
      const memberFailed = received.find((r) => r.event === 'member.failed')!;
      expect(memberFailed).toMatchObject({ runId, member: 'broken', class: 'crash' });
      expect(memberFailed.text).toContain('exited with code 4');
      expect(received.find((r) => r.event === 'run.failed')).toMatchObject({ runId, text: 'broken failed', costUsd: 0 });
      // Each event once, even though the scheduler reconciles the run many times.
      expect(received.filter((r) => r.event === 'run.failed')).toHaveLength(1);
      expect(failNext).toBe(0);
    });
  });

  it("announces a rate-limit pause and the resume, then the run's success, to the fleet's webhooks", async () => {
    received.length = 0;
    let limited = 0;
    handler = () => (limited++ < 1 ? { error: { status: 429, message: 'slow down' } } : { text: 'done after the pause' });
    const file = await writeHarness(tempDir('paused'), { name: 'paused', team: [{ name: 'patient', prompt: 'wait your turn' }] });
    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_WEBHOOKS: receiverUrl, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_MAX_RETRIES: '0' } }, async (fleet) => {
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(storeOf(redis.client, fleet), runId);
      expect(view.status).toBe('succeeded');
      await waitFor(() => received.some((r) => r.event === 'run.succeeded'), 'run.succeeded');
      const events = received.filter((r) => r.runId === runId).map((r) => r.event);
      expect(events).toContain('rate_limit.paused');
      expect(events).toContain('rate_limit.resumed');
      expect(events.indexOf('rate_limit.paused')).toBeLessThan(events.indexOf('run.succeeded'));
      expect(received.find((r) => r.event === 'rate_limit.paused')).toMatchObject({ member: 'patient', class: 'rate_limit' });
    });
  });

  it("tells the webhooks when a run's budget is reached", async () => {
    received.length = 0;
    // The member that got the run's reservation holds it, running, until the other has been refused.
    const dir = tempDir('budget-hook');
    const gate = path.join(dir, 'gate');
    const file = await writeHarness(dir, {
      name: 'spendthrift',
      limits: { runBudgetUsd: 0.5 },
      agent: gatedNodeAgent(gate),
      team: [
        { name: 'a', prompt: 'a' },
        { name: 'b', prompt: 'b' },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_WEBHOOKS: receiverUrl, REINS_BUDGET_RESERVE_USD: '0.3' } }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      await waitFor(async () => (await store.getMembers({ runId, members: ['a', 'b'] })).some((m) => m.status === 'failed'), 'a member refused by the run budget');
      openGate(gate);
      expect((await waitForRunEnd(store, runId)).status).toBe('budget_exhausted');
      const reached = await waitFor(() => received.find((r) => r.runId === runId && r.event === 'budget.reached'), 'budget.reached');
      expect(reached.text).toContain("the run's budget would be exceeded");
      expect(
        received
          .filter((r) => r.runId === runId)
          .map((r) => r.event)
          .sort(),
      ).toEqual(['budget.reached', 'member.failed']);
    });
  });
});
