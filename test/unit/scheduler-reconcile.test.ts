import { describe, expect, it } from 'vitest';
import type { MemberRecord, MemberStatus, RunRecord } from '@reins/shared';
import type { Harness } from '../../libs/shared/src/spec/harness.js';
import { integrateJobWanted, jobFactsWanted, reconcile, workerLabelsWanted, type JobFact, type ReconcileAction, type ReconcileFacts } from '../../apps/scheduler/src/reconcile.js';

const NOW = 1_800_000_000_000;
const TTL = 10_000;
const policy = { heartbeatTtlMs: TTL };
const agent = { kind: 'command' as const, argv: ['true'] };

type TeamEntry = { name: string; depends_on?: string[]; requires?: string[] };

function makeRun(team: TeamEntry[] | undefined, extra: Partial<RunRecord> = {}, spec: Partial<Harness> = {}): RunRecord {
  const entries = (team ?? []).map((m) => ({ ...m, prompt: `do ${m.name}` }));
  return {
    runId: 'r-abcdef12',
    name: 'test',
    goal: 'test',
    status: 'queued',
    source: '/tmp/h.yaml',
    spec: { name: 'test', agent, ...(team ? { team: entries } : {}), ...spec } as Harness,
    members: team ? team.map((m) => m.name) : ['_planner'],
    skills: {},
    createdAt: NOW - 60_000,
    cancelled: false,
    ...extra,
  };
}

function member(name: string, status: MemberStatus, extra: Partial<MemberRecord> = {}): MemberRecord {
  return { runId: 'r-abcdef12', name, status, dependsOn: [], jobId: `r-abcdef12.${name}`, attempts: 0, ...extra };
}

function facts(extra: Omit<Partial<ReconcileFacts>, 'jobs'> & { jobs?: Record<string, JobFact> } = {}): ReconcileFacts {
  const { jobs, ...rest } = extra;
  return { now: NOW, jobs: new Map(Object.entries(jobs ?? {})), liveHeartbeats: new Set(), ...rest };
}

const ofType = <T extends ReconcileAction['type']>(actions: ReconcileAction[], type: T) => actions.filter((a): a is Extract<ReconcileAction, { type: T }> => a.type === type);
const withoutAnnounce = (actions: ReconcileAction[]) => actions.filter((a) => a.type !== 'announce');

describe('reconcile: dependency release', () => {
  const diamond: TeamEntry[] = [{ name: 'd', depends_on: ['b', 'c'] }, { name: 'a' }, { name: 'b', depends_on: ['a'] }, { name: 'c', depends_on: ['a'] }];
  const diamondMembers = (statuses: Record<string, MemberStatus>) => diamond.map((m) => member(m.name, statuses[m.name] ?? 'pending', { dependsOn: m.depends_on ?? [] }));

  it('releases only the members whose dependencies succeeded, on the plain agent queue; the run stays queued until one runs', () => {
    const run = makeRun(diamond);
    const actions = reconcile(run, diamondMembers({}), facts(), policy);
    expect(withoutAnnounce(actions)).toEqual([{ type: 'release', member: 'a', queue: 'agent' }]);
    expect(ofType(reconcile(run, diamondMembers({ a: 'running' }), facts(), policy), 'set_status')).toEqual([{ type: 'set_status', status: 'running' }]);
  });

  it('releases both middle members once the root succeeded, and the join once both did', () => {
    const run = makeRun(diamond, { status: 'running' });
    expect(ofType(reconcile(run, diamondMembers({ a: 'succeeded' }), facts(), policy), 'release').map((a) => a.member)).toEqual(['b', 'c']);
    expect(ofType(reconcile(run, diamondMembers({ a: 'succeeded', b: 'succeeded', c: 'running' }), facts(), policy), 'release')).toEqual([]);
    expect(ofType(reconcile(run, diamondMembers({ a: 'succeeded', b: 'succeeded', c: 'succeeded' }), facts(), policy), 'release').map((a) => a.member)).toEqual(['d']);
  });

  it('sends a member that requires labels to its pool queue', () => {
    const run = makeRun([{ name: 'gpu', requires: ['region-eu', 'gpu'] }]);
    expect(ofType(reconcile(run, [member('gpu', 'pending')], facts(), policy), 'release')).toEqual([{ type: 'release', member: 'gpu', queue: 'agent@gpu+region-eu' }]);
  });

  it('cascades skips within one pass, in harness order, and fails the run once all ended', () => {
    const team: TeamEntry[] = [{ name: 'a' }, { name: 'b', depends_on: ['a'] }, { name: 'c', depends_on: ['b'] }];
    const run = makeRun(team, { status: 'running' });
    const members = [member('a', 'failed'), member('b', 'pending', { dependsOn: ['a'] }), member('c', 'pending', { dependsOn: ['b'] })];
    const actions = reconcile(run, members, facts(), policy);
    expect(withoutAnnounce(actions)).toEqual([
      { type: 'skip', member: 'b', reason: 'skipped: a failed' },
      { type: 'skip', member: 'c', reason: 'skipped: b skipped' },
      { type: 'set_status', status: 'failed' },
    ]);
  });

  it('releases a dependant in the same pass that settles its dependency', () => {
    const run = makeRun([{ name: 'a' }, { name: 'b', depends_on: ['a'] }], { status: 'running' });
    const members = [member('a', 'queued'), member('b', 'pending', { dependsOn: ['a'] })];
    const actions = reconcile(run, members, facts({ jobs: { a: { state: 'completed', returnValue: { summary: 'done' }, finishedOn: NOW - 5 } } }), policy);
    expect(actions.map((a) => a.type)).toEqual(['settle', 'release', 'announce']);
  });

  it('asks for nothing but an announcement when nothing changed', () => {
    const run = makeRun([{ name: 'a' }], { status: 'queued' });
    expect(reconcile(run, [member('a', 'queued')], facts({ jobs: { a: { state: 'waiting' } } }), policy).map((a) => a.type)).toEqual(['announce']);
  });
});

describe('reconcile: settling jobs that ended with no worker record', () => {
  const run = makeRun([{ name: 'a' }], { status: 'running' });

  it('settles a completed job as succeeded, with the summary and workspace of its result, and the run succeeds', () => {
    const actions = reconcile(
      run,
      [member('a', 'running', { startedAt: NOW - 2 * TTL })],
      facts({ jobs: { a: { state: 'completed', returnValue: { status: 'succeeded', summary: 'all done', workspace: '/w/a' }, finishedOn: NOW - 100 } } }),
      policy,
    );
    expect(withoutAnnounce(actions)).toEqual([
      { type: 'settle', member: 'a', event: { type: 'job_settled', outcome: 'succeeded', at: NOW - 100, summary: 'all done', workspace: '/w/a' } },
      { type: 'set_status', status: 'succeeded' },
    ]);
  });

  it("settles a failed job as failed, keeping the error the member already had, else the job's reason", () => {
    const failedJob: JobFact = { state: 'failed', failedReason: 'lock lost', finishedOn: NOW - 1 };
    const first = ofType(reconcile(run, [member('a', 'queued')], facts({ jobs: { a: failedJob } }), policy), 'settle');
    expect(first[0]?.event).toEqual({ type: 'job_settled', outcome: 'failed', at: NOW - 1, error: 'lock lost' });
    const second = ofType(reconcile(run, [member('a', 'retrying', { error: 'crash 1' })], facts({ jobs: { a: failedJob } }), policy), 'settle');
    expect(second[0]?.event.error).toBe('crash 1');
  });

  it('settles with the time of the pass when BullMQ has no finish time, and a result that does not parse adds nothing', () => {
    const [settle] = ofType(reconcile(run, [member('a', 'queued')], facts({ jobs: { a: { state: 'completed', returnValue: 'garbage' } } }), policy), 'settle');
    expect(settle?.event).toEqual({ type: 'job_settled', outcome: 'succeeded', at: NOW });
  });

  it('adds the job again when a queued member has none', () => {
    expect(ofType(reconcile(run, [member('a', 'queued')], facts({ jobs: { a: { state: 'missing' } } }), policy), 'enqueue')).toEqual([{ type: 'enqueue', member: 'a' }]);
  });

  it('does not ask BullMQ about a running member whose heartbeat is alive, nor about a recent start', () => {
    const members = [member('old', 'running', { startedAt: NOW - 2 * TTL }), member('young', 'running', { startedAt: NOW - 10 }), member('q', 'queued'), member('p', 'pending'), member('s', 'succeeded')];
    expect(jobFactsWanted(run, members, new Set())).toEqual(['q']);
    expect(jobFactsWanted(run, members, new Set(['old']))).toEqual(['old', 'q']);
    // Even if the shell had read one, a live member's job fact is not acted on.
    const actions = reconcile(run, [member('young', 'running', { startedAt: NOW - 10 })], facts({ jobs: { young: { state: 'completed', returnValue: {} } } }), policy);
    expect(ofType(actions, 'settle')).toEqual([]);
  });
});

describe("reconcile: the watchdog's part", () => {
  const run = makeRun([{ name: 'a' }], { status: 'running' });
  const running = member('a', 'running', { startedAt: NOW - 2 * TTL, workerId: 'w1' });

  it('asks to kill an agent whose heartbeat is gone and whose job is still active', () => {
    const actions = reconcile(run, [running], facts({ jobs: { a: { state: 'active' } } }), policy);
    expect(ofType(actions, 'kill')).toEqual([{ type: 'kill', member: 'a', jobId: 'r-abcdef12.a', workerId: 'w1' }]);
  });

  it('leaves an agent alone while its heartbeat lives, or when its job is no longer active', () => {
    expect(ofType(reconcile(run, [running], facts({ liveHeartbeats: new Set(['a']), jobs: { a: { state: 'active' } } }), policy), 'kill')).toEqual([]);
    expect(ofType(reconcile(run, [running], facts({ jobs: { a: { state: 'waiting' } } }), policy), 'kill')).toEqual([]);
  });
});

describe('reconcile: members no live worker can serve', () => {
  const run = makeRun([{ name: 'g', requires: ['gpu'] }], { status: 'running' });
  const note = 'no live worker has the labels gpu; it waits for one';

  it('reads worker labels only when a member waits in a pool queue', () => {
    expect(workerLabelsWanted(run, [member('g', 'queued', { queue: 'agent@gpu' })])).toBe(true);
    expect(workerLabelsWanted(run, [member('g', 'queued', { queue: 'agent' })])).toBe(false);
  });

  it('notes a member no live worker serves, once, and takes the note back when one does', () => {
    const waiting = member('g', 'queued', { queue: 'agent@gpu' });
    expect(ofType(reconcile(run, [waiting], facts({ workerLabels: [['cpu']], jobs: { g: { state: 'waiting' } } }), policy), 'note')).toEqual([{ type: 'note', member: 'g', note }]);
    const noted = { ...waiting, error: note };
    expect(ofType(reconcile(run, [noted], facts({ workerLabels: [['cpu']], jobs: { g: { state: 'waiting' } } }), policy), 'note')).toEqual([]);
    expect(ofType(reconcile(run, [noted], facts({ workerLabels: [['cpu'], ['gpu', 'x']], jobs: { g: { state: 'waiting' } } }), policy), 'note')).toEqual([{ type: 'note', member: 'g', note: null }]);
  });
});

describe('reconcile: a cancelled run', () => {
  const run = makeRun([{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }], { status: 'cancelled', cancelled: true });

  it('cancels idle members, removing jobs still on a queue, leaves active ones to their worker, and does not retire yet', () => {
    const members = [member('a', 'queued'), member('b', 'running'), member('c', 'pending'), member('d', 'succeeded')];
    expect(jobFactsWanted(run, members, new Set())).toEqual(['a', 'b', 'c']);
    const actions = reconcile(run, members, facts({ jobs: { a: { state: 'waiting' }, b: { state: 'active' }, c: { state: 'missing' } } }), policy);
    expect(actions).toEqual([
      { type: 'cancel', member: 'a', removeJob: true },
      { type: 'cancel', member: 'c', removeJob: false },
    ]);
  });

  it('retires the run once no member is left running, and never sets its status', () => {
    const members = [member('a', 'cancelled'), member('b', 'retrying')];
    expect(reconcile(run, members, facts({ jobs: { b: { state: 'completed', returnValue: {} } } }), policy)).toEqual([{ type: 'cancel', member: 'b', removeJob: false }, { type: 'retire' }]);
    expect(reconcile(run, [member('a', 'cancelled')], facts(), policy)).toEqual([{ type: 'retire' }]);
  });
});

describe('reconcile: a planned run', () => {
  const plan = JSON.stringify([
    { name: 'x', prompt: 'do x' },
    { name: 'y', prompt: 'do y', depends_on: ['x'] },
  ]);

  it("adopts the planner's team once it succeeded, and ends the pass there (no status from the planner alone)", () => {
    const run = makeRun(undefined, { status: 'running' }, { plan: 'auto', goal: 'g' } as Partial<Harness>);
    const actions = reconcile(run, [member('_planner', 'succeeded', { plan })], facts(), policy);
    expect(actions).toEqual([
      {
        type: 'adopt_plan',
        team: [
          { name: 'x', prompt: 'do x' },
          { name: 'y', prompt: 'do y', depends_on: ['x'] },
        ],
      },
    ]);
  });

  it('releases the planner first, and does not adopt for a plan-only run, which ends with the planner', () => {
    const planned = makeRun(undefined, {}, { plan: 'auto', goal: 'g' } as Partial<Harness>);
    expect(ofType(reconcile(planned, [member('_planner', 'pending')], facts(), policy), 'release')).toEqual([{ type: 'release', member: '_planner', queue: 'agent' }]);
    const planOnly = makeRun(undefined, { status: 'running', planOnly: true }, { plan: 'auto', goal: 'g' } as Partial<Harness>);
    expect(withoutAnnounce(reconcile(planOnly, [member('_planner', 'succeeded', { plan })], facts(), policy))).toEqual([{ type: 'set_status', status: 'succeeded' }]);
  });
});

describe('reconcile: merge-back in a git workdir', () => {
  const team: TeamEntry[] = [{ name: 'b', depends_on: ['a'] }, { name: 'a' }];
  const git = { status: 'running' as const, workdir: '/repo', baseCommit: 'abc123' };
  const done = [member('b', 'succeeded', { dependsOn: ['a'] }), member('a', 'succeeded')];

  it('asks for the merge-back in dependency order once every member succeeded, and keeps the run running', () => {
    const run = makeRun(team, git);
    expect(integrateJobWanted(run, done, new Map())).toBe(true);
    const actions = reconcile(run, done, facts({ integrateJob: { state: 'missing' } }), policy);
    expect(withoutAnnounce(actions)).toEqual([{ type: 'request_merge_back', members: ['a', 'b'] }]);
  });

  it('waits while the merge-back it asked for is under way, and ends with its result', () => {
    expect(withoutAnnounce(reconcile(makeRun(team, { ...git, integration: 'pending' }), done, facts({ integrateJob: { state: 'active' } }), policy))).toEqual([]);
    expect(withoutAnnounce(reconcile(makeRun(team, { ...git, integration: 'done', conflicts: [] }), done, facts(), policy))).toEqual([{ type: 'set_status', status: 'succeeded' }]);
    expect(withoutAnnounce(reconcile(makeRun(team, { ...git, integration: 'done', conflicts: [{ member: 'b', files: ['x'] }] }), done, facts(), policy))).toEqual([{ type: 'set_status', status: 'failed' }]);
    expect(withoutAnnounce(reconcile(makeRun(team, { ...git, integration: 'pending' }), done, facts({ integrateJob: { state: 'failed', failedReason: 'git' } }), policy))).toEqual([
      { type: 'set_status', status: 'failed' },
    ]);
  });

  it('does not read the merge-back job while a member is still to finish, nor for a run without git', () => {
    expect(integrateJobWanted(makeRun(team, git), [member('b', 'running'), member('a', 'succeeded')], new Map())).toBe(false);
    expect(integrateJobWanted(makeRun(team, git), [member('b', 'queued'), member('a', 'succeeded')], new Map([['b', { state: 'completed', returnValue: {} }]]))).toBe(true);
    expect(integrateJobWanted(makeRun(team, { status: 'running' }), done, new Map())).toBe(false);
  });
});

describe("reconcile: the run's status", () => {
  const team: TeamEntry[] = [{ name: 'a' }, { name: 'b' }];
  const statusOf = (run: RunRecord, members: MemberRecord[]) => ofType(reconcile(run, members, facts(), policy), 'set_status')[0]?.status;

  it('follows its members: queued, running, succeeded, failed', () => {
    expect(statusOf(makeRun(team, { status: 'running' }), [member('a', 'queued'), member('b', 'queued')])).toBe('queued');
    expect(statusOf(makeRun(team), [member('a', 'running'), member('b', 'queued')])).toBe('running');
    expect(statusOf(makeRun(team, { status: 'running' }), [member('a', 'succeeded'), member('b', 'succeeded')])).toBe('succeeded');
    expect(statusOf(makeRun(team, { status: 'running' }), [member('a', 'succeeded'), member('b', 'failed')])).toBe('failed');
  });

  it('does not end while a member still runs, even after a sibling failed', () => {
    expect(statusOf(makeRun(team, { status: 'running' }), [member('a', 'failed'), member('b', 'running')])).toBeUndefined();
  });

  it('leaves a refused submission as it is: no members, no status from them (a pass on its event made it failed)', () => {
    expect(reconcile(makeRun([], { status: 'refused', members: [], refusal: 'spec.name: bad' }), [], facts(), policy)).toEqual([]);
  });

  it('is budget_exhausted when a member failed for the budget and all have ended', () => {
    expect(statusOf(makeRun(team, { status: 'running' }), [member('a', 'succeeded'), member('b', 'failed', { errorClass: 'budget', error: 'run budget spent' })])).toBe('budget_exhausted');
  });

  it('announces what the members look like after the pass', () => {
    const run = makeRun([{ name: 'a' }], { status: 'running' });
    const [announce] = ofType(reconcile(run, [member('a', 'queued')], facts({ jobs: { a: { state: 'failed', failedReason: 'x' } } }), policy), 'announce');
    expect(announce?.status).toBe('failed');
    expect(announce?.members.map((m) => [m.name, m.status, m.error])).toEqual([['a', 'failed', 'x']]);
  });
});
