import { Gauge, Histogram, Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import { runDurationMs } from './runs/run-reader.js';
import { accountOverview, isFinalMemberStatus, MEMBER_STATUSES, RUN_STATUSES, type AccountOverview, type Accounts, type FleetReader, type RunStore } from '@reins/shared';

/** Scrapes look at the newest runs only, so a scrape's cost does not grow with history. */
export const METRICS_RUN_WINDOW = 500;
/** One scrape calls every collect callback; they share one read of the run window. */
const WINDOW_REUSE_MS = 1_000;
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;
const RUN_DURATION_BUCKETS_S = [10, 30, 60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400];

interface RunWindow {
  runsByStatus: Map<string, number>;
  membersByStatus: Map<string, number>;
  attemptsByOutcome: Map<string, number>;
  retriesByClass: Map<string, number>;
  costUsd: number;
  runDurationsS: number[];
}

export interface MetricsOptions {
  queues: readonly Queue[];
  store: RunStore;
  fleet: FleetReader;
  accounts: Accounts;
}

/**
 * The board's Prometheus registry. Every figure is computed when scraped (collect callbacks) from
 * Redis, so the board keeps no state and any number of boards agree. Figures over runs cover the
 * newest METRICS_RUN_WINDOW runs and are gauges, not counters: they fall as old runs leave the window.
 */
export function createMetrics({ queues, store, fleet, accounts }: MetricsOptions): Registry {
  const registry = new Registry();
  const runWindow = sharedWithinScrape(() => readRunWindow(store, fleet));
  const liveWorkers = sharedWithinScrape(() => fleet.liveWorkers());
  const accountsNow = sharedWithinScrape(async () => {
    const now = Date.now();
    return { now, overview: await accountOverview(accounts, await liveWorkers(), now) };
  });
  /** One series per account the fleet knows, so an account that stops being paused or broken reads 0, not nothing. */
  const perAccount = (name: string, help: string, value: (account: AccountOverview, now: number) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['account'],
      registers: [registry],
      async collect() {
        const { now, overview } = await accountsNow();
        this.reset();
        for (const account of overview) this.set({ account: account.name }, value(account, now));
      },
    });
  const setAll = (gauge: Gauge<string>, label: string, values: Map<string, number>, known: readonly string[] = []) => {
    gauge.reset();
    for (const key of known) gauge.set({ [label]: key }, 0);
    for (const [key, value] of values) gauge.set({ [label]: key }, value);
  };

  new Gauge({
    name: 'reins_jobs',
    help: 'Jobs in each BullMQ state, per reins queue.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(queues.map(async (q) => [q.name, await q.getJobCounts(...JOB_STATES)] as const));
      this.reset();
      for (const [queue, byState] of counts) for (const state of JOB_STATES) this.set({ queue, state }, byState[state] ?? 0);
    },
  });

  new Gauge({
    name: 'reins_worker_agents',
    help: 'Agents running on each live worker, from its registration.',
    labelNames: ['worker', 'host'],
    registers: [registry],
    async collect() {
      const workers = await liveWorkers();
      this.reset();
      for (const w of workers) this.set({ worker: w.workerId, host: w.host }, w.used);
    },
  });
  new Gauge({
    name: 'reins_worker_slots',
    help: 'Agent slots of each live worker, from its registration.',
    labelNames: ['worker', 'host'],
    registers: [registry],
    async collect() {
      const workers = await liveWorkers();
      this.reset();
      for (const w of workers) this.set({ worker: w.workerId, host: w.host }, w.slots);
    },
  });
  new Gauge({
    name: 'reins_worker_state',
    help: "1 for each live worker's state (running, degraded: too little free space in its data dir to take jobs, draining), from its registration.",
    labelNames: ['worker', 'host', 'state'],
    registers: [registry],
    async collect() {
      const workers = await liveWorkers();
      this.reset();
      for (const w of workers) this.set({ worker: w.workerId, host: w.host, state: w.state }, 1);
    },
  });
  new Gauge({
    name: 'reins_worker_disk_free_bytes',
    help: "Free bytes in each live worker's data dir, as it last measured them.",
    labelNames: ['worker', 'host'],
    registers: [registry],
    async collect() {
      const workers = await liveWorkers();
      this.reset();
      for (const w of workers) if (w.diskFreeBytes !== undefined) this.set({ worker: w.workerId, host: w.host }, w.diskFreeBytes);
    },
  });

  new Gauge({
    name: 'reins_account_utilization',
    help: "Each Claude account's utilization of each usage window (five_hour, seven_day, …), a fraction, as Claude Code last reported it.",
    labelNames: ['account', 'window'],
    registers: [registry],
    async collect() {
      const { overview } = await accountsNow();
      this.reset();
      for (const account of overview) for (const [window, w] of Object.entries(account.windows)) if (w.utilization !== undefined) this.set({ account: account.name, window }, w.utilization);
    },
  });
  perAccount('reins_account_paused', '1 while a Claude account is paused fleet-wide (a rejected window, until it resets), else 0.', (a, now) => (a.pausedUntil !== undefined && a.pausedUntil > now ? 1 : 0));
  perAccount('reins_account_broken', "1 when a Claude account's credentials were refused (no agent starts under it until a worker brings other ones), else 0.", (a) => (a.broken ? 1 : 0));
  perAccount('reins_account_agents', 'Agents running under each Claude account now, fleet-wide.', (a) => a.agents);
  perAccount('reins_account_tokens_today', 'Tokens (input, output, cache) used under each Claude account today (UTC).', (a) => a.today.tokens);
  perAccount('reins_account_cost_usd_today', 'What the agents under each Claude account cost today (UTC), in US dollars, as they reported it (0 on subscriptions).', (a) => a.today.costUsd);

  new Gauge({
    name: 'reins_runs',
    help: `Runs by status, among the newest ${METRICS_RUN_WINDOW}.`,
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      setAll(this, 'status', (await runWindow()).runsByStatus, RUN_STATUSES);
    },
  });
  new Gauge({
    name: 'reins_members',
    help: `Members by status, in the newest ${METRICS_RUN_WINDOW} runs.`,
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      setAll(this, 'status', (await runWindow()).membersByStatus, MEMBER_STATUSES);
    },
  });
  new Gauge({
    name: 'reins_attempts',
    help: `Ended attempts by outcome (a failure class, or succeeded), in the newest ${METRICS_RUN_WINDOW} runs.`,
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      setAll(this, 'outcome', (await runWindow()).attemptsByOutcome);
    },
  });
  new Gauge({
    name: 'reins_retries',
    help: `Failed attempts that were followed by another attempt, by failure class, in the newest ${METRICS_RUN_WINDOW} runs.`,
    labelNames: ['failure_class'],
    registers: [registry],
    async collect() {
      setAll(this, 'failure_class', (await runWindow()).retriesByClass);
    },
  });
  new Gauge({
    name: 'reins_heartbeat_expiries',
    help: `Attempts that ended because their heartbeat expired (outcome stalled: the worker was lost), in the newest ${METRICS_RUN_WINDOW} runs.`,
    registers: [registry],
    async collect() {
      this.set((await runWindow()).attemptsByOutcome.get('stalled') ?? 0);
    },
  });
  new Gauge({
    name: 'reins_cost_usd',
    help: `What the members of the newest ${METRICS_RUN_WINDOW} runs cost, in US dollars, as the agents reported it.`,
    registers: [registry],
    async collect() {
      this.set((await runWindow()).costUsd);
    },
  });
  new Histogram({
    name: 'reins_run_duration_seconds',
    help: `How long the ended runs among the newest ${METRICS_RUN_WINDOW} took, from start (or submission, if never started) to end.`,
    buckets: RUN_DURATION_BUCKETS_S,
    registers: [registry],
    async collect() {
      const { runDurationsS } = await runWindow();
      this.reset();
      this.zero({}); // an empty window still reports a count of 0
      for (const seconds of runDurationsS) this.observe(seconds);
    },
  });
  return registry;
}

/** Reuses one read for WINDOW_REUSE_MS, so the collect callbacks of one scrape share it; a failed read is not reused. */
function sharedWithinScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > WINDOW_REUSE_MS) {
      const value = read();
      const entry = { at: Date.now(), value };
      last = entry;
      value.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.value;
  };
}

async function readRunWindow(store: RunStore, fleet: FleetReader): Promise<RunWindow> {
  const heads = await fleet.runHeads(await store.listRunIds(METRICS_RUN_WINDOW));
  const window: RunWindow = {
    runsByStatus: new Map(),
    membersByStatus: new Map(),
    attemptsByOutcome: new Map(),
    retriesByClass: new Map(),
    costUsd: 0,
    runDurationsS: [],
  };
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const perRun = await Promise.all(
    heads.map(async (head) => {
      const members = await store.getMembers(head);
      const attempts = await Promise.all(members.map((m) => store.readAttempts(head.runId, m.name)));
      return { head, members, attempts };
    }),
  );
  for (const { head, members, attempts } of perRun) {
    bump(window.runsByStatus, head.status);
    if (head.endedAt !== undefined) window.runDurationsS.push(runDurationMs(head)! / 1_000);
    members.forEach((member, i) => {
      bump(window.membersByStatus, member.status);
      window.costUsd += member.costUsd ?? 0;
      const history = attempts[i] ?? [];
      history.forEach((attempt, j) => {
        bump(window.attemptsByOutcome, attempt.outcome);
        // A failure is a retry when another attempt followed it, or one is still to come.
        const followed = j < history.length - 1 || !isFinalMemberStatus(member.status);
        if (attempt.outcome !== 'succeeded' && followed) bump(window.retriesByClass, attempt.outcome);
      });
    });
  }
  return window;
}
