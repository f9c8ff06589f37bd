import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUEUES, RunStore, createKeys, openQueue, retryRun, AgentQueues } from '@reins/shared';
import { isRetryRefusedError } from '../../libs/shared/src/errors/retry-refused-error.js';
import { CHAOS_ENV, storeOf, waitForRunEnd } from '../helpers/chaos.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { useRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';
import { writeMemberFields } from '../helpers/member-fixture.js';

const nodeAgent = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });

const redis = useRedis();

interface View {
  runId: string;
  status: string;
  members: { name: string; status: string; attempts: number; error?: string }[];
}

describe('reins retry', () => {
  it('retries a failed run from its cursor: the member resumes, its history is kept, and the run succeeds', async () => {
    const dir = tempDir('retry-run');
    const marker = path.join(dir, 'fixed');
    const seenCursor = path.join(dir, 'cursor.json');
    const released = path.join(dir, 'released');
    // Fails, after saving a checkpoint, until the marker exists; then records the cursor it was given and
    // runs on until the test, having seen a second retry refused meanwhile, releases it.
    const gate = `
      const fs = require('fs');
      if (!fs.existsSync(${JSON.stringify(marker)})) {
        require('child_process').execFileSync('reins', ['checkpoint', '--data', '{"step":1}']);
        console.error('not fixed yet');
        process.exit(1);
      }
      fs.writeFileSync(${JSON.stringify(seenCursor)}, process.env.REINS_CURSOR || 'none');
      const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(released)})) clearInterval(t); }, 25);`;
    const file = await writeHarness(dir, {
      name: 'retried',
      agent: nodeAgent('process.exit(0)'),
      // Two attempts, so a spurious failure of the retried attempt does not end the story.
      retry: { attempts: 2 },
      team: [
        { name: 'gate', prompt: 'pass the gate', agent: nodeAgent(gate) },
        { name: 'after', prompt: 'after the gate', depends_on: ['gate'] },
        { name: 'side', prompt: 'independent' },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const failed = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(failed.exitCode, failed.stderr).toBe(1);
      const first = JSON.parse(failed.stdout) as View;
      const runId = first.runId;
      expect(first.status).toBe('failed');
      expect(first.members.map((m) => [m.name, m.status])).toEqual([
        ['gate', 'failed'],
        ['after', 'skipped'],
        ['side', 'succeeded'],
      ]);
      const epochBefore = (await store.getMember(runId, 'gate'))!.epoch!;

      // Nothing to retry in a member that succeeded, or in one skipped for another's failure.
      const succeededMember = await fleet.reins(['retry', runId, 'side']);
      expect(succeededMember.exitCode).toBe(1);
      expect(succeededMember.stderr).toContain('member side of run');
      expect(succeededMember.stderr).toContain('already succeeded');
      const skippedMember = await fleet.reins(['retry', runId, 'after']);
      expect(skippedMember.exitCode).toBe(1);
      expect(skippedMember.stderr).toContain('was skipped because gate did not succeed; retry gate');
      const unknown = await fleet.reins(['retry', runId, 'nobody']);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain('has no member "nobody"');

      writeFileSync(marker, 'yes');
      const retried = await fleet.reins(['retry', runId]);
      expect(retried.exitCode, retried.stderr).toBe(0);
      expect(retried.stdout).toContain(`retrying gate, after of run ${runId} from their cursors`);
      // The gate runs until released, so the run is still going: a second retry is refused.
      const again = await fleet.reins(['retry', runId]);
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toMatch(new RegExp(`run ${runId} is still (running|queued); retry it once it has ended`));
      writeFileSync(released, '');

      const watched = await fleet.reins(['status', runId, '--watch', '--json']);
      expect(watched.exitCode, watched.stdout + watched.stderr).toBe(0);
      const views = watched.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as View);
      const last = views.at(-1)!;
      expect(last.status).toBe('succeeded');
      expect(last.members.map((m) => [m.name, m.status])).toEqual([
        ['gate', 'succeeded'],
        ['after', 'succeeded'],
        ['side', 'succeeded'],
      ]);
      expect(Object.keys(last).sort()).toEqual(['members', 'runId', 'status']);

      // Resumed from the cursor the failed attempt saved; its attempt is still in the history.
      expect(JSON.parse(readFileSync(seenCursor, 'utf8'))).toMatchObject({ data: { step: 1 } });
      const history = await store.readAttempts(runId, 'gate');
      expect(history.length).toBeGreaterThanOrEqual(3);
      expect(history.slice(0, 2).map((a) => a.outcome)).toEqual(['crash', 'crash']);
      expect(history.at(-1)!.outcome).toBe('succeeded');
      expect(history.map((a) => a.epoch)).toEqual([...history.map((a) => a.epoch)].sort((a, b) => a - b));
      expect((await store.getMember(runId, 'gate'))!.epoch).toBeGreaterThan(epochBefore);
      const human = await fleet.reins(['status', runId]);
      expect(human.stdout).toMatch(/#1 .* crash\s+on w1: command exited with code \d+/);
      expect(human.stdout).toMatch(/#2 .* crash\s+on w1: /);

      const done = await fleet.reins(['retry', runId]);
      expect(done.exitCode).toBe(1);
      expect(done.stderr).toContain(`run ${runId} already succeeded; there is nothing to retry`);
      expect(existsSync(seenCursor)).toBe(true);
    });
  });

  it('takes the limits its harness file sets now: a raised token cap continues a run that ran out; a bad one is refused, exit 2', async () => {
    const dir = tempDir('retry-limits');
    // Each member prints a result line with usage, as Claude Code does: 400 tokens.
    const spender = nodeAgent(`console.log(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'spent', usage: { input_tokens: 400 } }))`);
    const harness = (limits: Record<string, unknown>) => ({
      name: 'retry-limits',
      agent: spender,
      limits,
      team: [
        { name: 'a', prompt: 'a' },
        { name: 'b', prompt: 'b', depends_on: ['a'] },
        { name: 'c', prompt: 'c', depends_on: ['b'] },
      ],
    });
    const file = await writeHarness(dir, harness({ runMaxTokens: 400, timeoutMs: 60_000 }));
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const ranOut = JSON.parse((await fleet.reins(['submit', file, '--wait', '--json'])).stdout) as View;
      expect(ranOut.status).toBe('budget_exhausted');
      expect(ranOut.members.map((m) => m.status)).toEqual(['succeeded', 'failed', 'skipped']);
      const runId = ranOut.runId;

      // A mistyped cap is refused as \`reins submit\` would refuse it, and nothing is retried.
      await writeHarness(dir, harness({ runMaxTokens: '1k' }));
      const mistyped = await fleet.reins(['retry', runId]);
      expect(mistyped.exitCode).toBe(2);
      expect(mistyped.stderr).toContain('limits.runMaxTokens: expected a whole number of tokens, 1 or more, got "1k"');
      expect((await store.getRun(runId))!.status).toBe('budget_exhausted');
      const badFlag = await fleet.reins(['retry', runId, '--run-max-tokens', '0']);
      expect(badFlag.exitCode).toBe(2);
      expect(badFlag.stderr).toContain('expected --run-max-tokens to be a whole number of tokens, 1 or more, got "0"');

      // Room for one more member: b runs, c is refused, and the run's limits say what the file says now.
      await writeHarness(dir, harness({ runMaxTokens: 800 }));
      const raised = await fleet.reins(['retry', runId]);
      expect(raised.exitCode, raised.stderr).toBe(0);
      expect(raised.stdout).toContain('limits from now on: timeoutMs 60000 → none, runMaxTokens 400 → 800');
      const second = await waitForRunEnd(store, runId);
      expect(second.members.map((m) => m.status)).toEqual(['succeeded', 'succeeded', 'failed']);
      expect(second.members[2]!.error).toBe("the run's token budget (limits.runMaxTokens) is spent: 800 of 800 tokens used");
      expect((await store.getRun(runId))!.spec.limits).toEqual({ runMaxTokens: 800 });

      // The flag wins over the file.
      const flagged = await fleet.reins(['retry', runId, '--run-max-tokens', '1200', '--json']);
      expect(flagged.exitCode, flagged.stderr).toBe(0);
      expect(JSON.parse(flagged.stdout)).toEqual({ runId, members: ['c'], status: 'running', limits: { runMaxTokens: 1_200 } });
      const third = await waitForRunEnd(store, runId);
      expect(third.status).toBe('succeeded');
    });
  });

  it('retryRun takes one member and its dependants back, leaves the rest, and lets only one of two racers win', async () => {
    const keys = createKeys(`retry${Date.now().toString(36)}`);
    const store = new RunStore(redis.client, keys);
    // Each caller on its own connection, as two CLIs would be: WATCH belongs to a connection.
    const connections = [redis.client.duplicate(), redis.client.duplicate(), redis.client.duplicate()] as const;
    const queue = openQueue(QUEUES.agent, connections[0], keys);
    const runId = 'r-retryunit01';
    const team = [
      { name: 'a', dependsOn: [] },
      { name: 'b', dependsOn: ['a'] },
      { name: 'c', dependsOn: ['b'] },
      { name: 'd', dependsOn: [] },
    ];
    try {
      await store.createRun(
        {
          runId,
          name: 'unit',
          goal: 'unit',
          source: 'x',
          spec: { name: 'unit', agent: { kind: 'command', argv: ['true'] }, team: team.map((m) => ({ name: m.name, prompt: 'p', depends_on: m.dependsOn })) },
          members: team.map((m) => m.name),
          skills: {},
          createdAt: Date.now(),
        },
        team.map((m) => ({ ...m, jobId: `${runId}.${m.name}` })),
      );
      const fields = (name: string, f: Record<string, string | number>) => writeMemberFields(redis.client, keys, runId, name, f);
      await fields('a', { status: 'succeeded', attempts: 1, epoch: 1 });
      await fields('b', { status: 'running', attempts: 3, epoch: 3 });
      await store.apply(
        runId,
        'b',
        { type: 'attempt_failed', final: true, figures: { exitCode: 1 }, stallsSeen: 1, record: { attempt: 3, epoch: 3, outcome: 'crash', message: 'boom', startedAt: 0, endedAt: 1, workerId: 'w', host: 'h' } },
        { epoch: 3 },
      );
      await store.apply(runId, 'c', { type: 'skipped', reason: 'skipped: b failed', at: 1 });
      await fields('d', { status: 'failed', attempts: 1, epoch: 1, error: 'other' });
      await store.setRunStatus(runId, 'failed');
      // The old job is still there, finished: a new add with its id would be ignored.
      await queue.add('agent.run', {}, { jobId: `${runId}.b` });

      await expect(retryRun(redis.client, keys, new AgentQueues(redis.client, keys), runId, 'a')).rejects.toThrow('member a of run r-retryunit01 already succeeded');
      const outcomes = await Promise.allSettled([retryRun(connections[1], keys, new AgentQueues(connections[1]!, keys), runId, 'b'), retryRun(connections[2], keys, new AgentQueues(connections[2]!, keys), runId, 'b')]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(isRetryRefusedError(lost[0]!.reason)).toBe(true);
      expect((won[0] as PromiseFulfilledResult<{ members: string[]; status: string }>).value).toMatchObject({ members: ['b', 'c'], status: 'running' });

      const b = (await store.getMember(runId, 'b'))!;
      expect(b).toMatchObject({ status: 'pending', attempts: 3, epoch: 3 });
      for (const field of ['error', 'errorClass', 'exitCode', 'endedAt', 'stallsSeen'] as const) expect(b[field]).toBeUndefined();
      expect((await store.getMember(runId, 'c'))!.status).toBe('pending');
      expect((await store.getMember(runId, 'd'))!).toMatchObject({ status: 'failed', error: 'other' });
      expect(await store.readAttempts(runId, 'b')).toHaveLength(1);
      expect(await queue.getJob(`${runId}.b`)).toBeUndefined();
      const run = (await store.getRun(runId))!;
      expect(run).toMatchObject({ status: 'running', cancelled: false });
      expect(run.endedAt).toBeUndefined();
      expect(await store.activeRunIds()).toContain(runId);

      // A cancelled run still on the active set is still stopping; once off it, it can be retried whole.
      await store.markCancelled(runId);
      for (const name of ['b', 'c']) await store.apply(runId, name, { type: 'cancelled', at: Date.now() });
      await expect(retryRun(redis.client, keys, new AgentQueues(redis.client, keys), runId)).rejects.toThrow(`run ${runId} is cancelled but still stopping`);
      await store.retire(runId);
      const whole = await retryRun(redis.client, keys, new AgentQueues(redis.client, keys), runId);
      expect(whole).toEqual({ runId, members: ['b', 'c', 'd'], status: 'running' });
      expect((await store.getRun(runId))!.cancelled).toBe(false);
    } finally {
      await queue.close();
      for (const connection of connections) connection.disconnect();
    }
  });
});
