import { Queue, Worker, type Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QUEUES, RunStore, addJob, newRunId, type AgentJobResult } from '@reins/shared';
import type { Harness } from '../../libs/shared/src/spec/harness.js';
import { useRedis } from '../helpers/redis.js';
import { waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { withScheduler, type InProcessScheduler } from '../helpers/with-scheduler.js';

const redis = useRedis();

const harness = (team: Harness['team']): Harness => ({ name: 'story', agent: { kind: 'command', argv: ['true'] }, team }) as Harness;

async function submit(s: InProcessScheduler, spec: Harness): Promise<string> {
  const runId = newRunId();
  const queue = new Queue(QUEUES.control, { connection: s.connect(), prefix: s.keys.bullPrefix });
  await addJob(queue, 'run.submit', { runId, source: '/stories/h.yaml', spec, skills: {}, submittedAt: Date.now() }, { jobId: runId });
  await queue.close();
  return runId;
}

describe('the scheduler in process: release and outcome', () => {
  it('releases a diamond in dependency order, driven by a worker that only completes BullMQ jobs', async () => {
    await withScheduler({ redisUrl: redis.url }, async (s) => {
      const seen: { member: string; addedAt: number; doneAt: number }[] = [];
      // No member records are written by this worker: every member is settled from its finished job.
      const worker = new Worker(
        QUEUES.agent,
        async (job: Job): Promise<AgentJobResult> => {
          seen.push({ member: job.data.member as string, addedAt: job.timestamp, doneAt: Date.now() });
          return { status: 'succeeded', summary: `did ${job.data.member}`, exitCode: 0, durationMs: 1, workspace: `/fake/${job.data.member}` };
        },
        { connection: s.connect(), prefix: s.keys.bullPrefix, concurrency: 2 },
      );
      try {
        const runId = await submit(
          s,
          harness([
            { name: 'join', prompt: 'last', depends_on: ['left', 'right'] },
            { name: 'left', prompt: 'after root', depends_on: ['root'] },
            { name: 'root', prompt: 'first' },
            { name: 'right', prompt: 'after root', depends_on: ['root'] },
          ]),
        );
        const store = new RunStore(s.connect(), s.keys);
        const view = await waitForRunEnd(store, runId, 30_000);
        expect(view.status).toBe('succeeded');
        expect(view.members.map((m) => [m.name, m.status, m.workspace])).toEqual([
          ['join', 'succeeded', '/fake/join'],
          ['left', 'succeeded', '/fake/left'],
          ['root', 'succeeded', '/fake/root'],
          ['right', 'succeeded', '/fake/right'],
        ]);
        const at = (name: string) => seen.find((e) => e.member === name)!;
        expect(seen.map((e) => e.member).sort()).toEqual(['join', 'left', 'right', 'root']);
        // Each job was added only after every job it depends on had finished.
        for (const middle of ['left', 'right']) expect(at(middle).addedAt).toBeGreaterThanOrEqual(at('root').doneAt);
        expect(at('join').addedAt).toBeGreaterThanOrEqual(Math.max(at('left').doneAt, at('right').doneAt));
        expect((await store.getMember(runId, 'root'))?.summary).toBe('did root');
      } finally {
        await worker.close();
      }
    });
  });

  it('refuses a submission whose payload does not fit its schema, recording the refusal, and creates the run of one that does', async () => {
    await withScheduler({ redisUrl: redis.url }, async (s) => {
      const control = new Queue(QUEUES.control, { connection: s.connect(), prefix: s.keys.bullPrefix });
      const store = new RunStore(s.connect(), s.keys);
      // Past addJob's check, as an older or foreign client could send it.
      const bad = await control.add('run.submit', { runId: 'r-badbad01', spec: { name: 'no team' } }, { jobId: 'r-badbad01' });
      const failed = await waitFor(async () => ((await bad.getState()) === 'failed' ? await control.getJob(bad.id!) : undefined), 'the bad submission to fail');
      expect(failed?.failedReason).toMatch(/^submission refused:\n/);
      expect(failed?.attemptsMade).toBe(1);
      expect(await store.getRun('r-badbad01')).toMatchObject({
        status: 'refused',
        name: '(unnamed)',
        members: [],
        refusal: [
          'source: expected string, got nothing',
          'spec.name: expected 1 to 40 letters, digits, "_" or "-", starting with a letter or digit, got "no team"',
          'spec.team: expected a team of 1 to 8 members, or plan: auto with a goal',
          'skills: expected record, got nothing',
          'submittedAt: expected number, got nothing',
        ].join('\n'),
      });
      expect(await store.activeRunIds()).toEqual([]);

      const runId = await submit(s, harness([{ name: 'only', prompt: 'hi' }]));
      const member = await waitFor(() => store.getMember(runId, 'only').then((m) => (m?.status === 'queued' ? m : undefined)), 'the member to be released');
      expect(member.queue).toBe('agent');
      await s.scheduler.requestReconcile(runId);
      expect(await store.getRun(runId)).toMatchObject({ runId, name: 'story', status: 'queued', members: ['only'] });
      expect(s.logs.some((l) => l.msg === 'run created' && l.runId === runId)).toBe(true);
      await control.close();
    });
  });
});
