/**
 * Every Redis key reins writes is built here; no other module types a key string.
 * The prefix is wrapped in a hash tag (`{reins}`) so all keys share one slot on Redis Cluster,
 * which lets Lua scripts and MULTI touch several of them. BullMQ's queues use the same prefix.
 */
export interface Keys {
  /** Prefix handed to BullMQ, so its keys sit beside ours in the same slot. */
  readonly bullPrefix: string;
  /** Hash: one run's record. */
  run(runId: string): string;
  /** Hash: one member's record within a run. */
  member(runId: string, member: string): string;
  /** Sorted set of run ids, scored by creation time. */
  readonly runs: string;
  /** Set of run ids that are not yet finished; the scheduler sweeps it. */
  readonly activeRuns: string;
  /** Stream of an agent's readable events, for `reins logs`. */
  events(runId: string, member: string): string;
  /** Stream of an agent's raw stream-json events (capped), for `reins logs --raw`. */
  rawEvents(runId: string, member: string): string;
  /** String with a TTL, refreshed while the agent lives. */
  heartbeat(jobId: string): string;
  /** Hash: a member's last checkpoint. */
  cursor(runId: string, member: string): string;
  /** List of JSON records, one per ended attempt of a member. */
  attempts(runId: string, member: string): string;
  /** Hash: a run's skills, packed at submit (skill name → gzipped tar), for workers on any host. */
  skills(runId: string): string;
  /** Hash: the work of a run's scratch members (member → gzipped tar of its workspace), for their dependants. */
  artifacts(runId: string): string;
  /** Hash: a run's `agent.env` values (agent scope → JSON), apart from job data; deleted when the run ends (RunSecrets). */
  secrets(runId: string): string;
  /** Hash of a run's shared tasks (id → JSON) and the counter that numbers them. */
  tasks(runId: string): string;
  taskSeq(runId: string): string;
  /** Stream of messages to one member; and the id of the last one it read. */
  inbox(runId: string, member: string): string;
  inboxRead(runId: string, member: string): string;
  /** Hash of the notifications already sent for a run (each event once). */
  notified(runId: string): string;
  /** Sorted set of the job ids holding a slot under a concurrency key, scored by lease expiry. */
  semaphore(concurrencyKey: string): string;
  /** Hash: a run's budget (spent, reserved, cap, and a field per open reservation). */
  runBudget(runId: string): string;
  /** Hash: the fleet's budget for one UTC day (YYYY-MM-DD), expiring after two days. */
  dayBudget(day: string): string;
  /** Set of the pool queues in use (agent@labels), so workers know which to consume. */
  readonly pools: string;
  /** Set of the Claude accounts workers have announced (names only: secrets stay on the hosts). */
  readonly accounts: string;
  /** Hash: one account's state (its windows, a pause, a broken mark): accounts/account-state.ts. */
  account(name: string): string;
  /** Sorted set of the job ids running under an account, scored by lease expiry. */
  accountAgents(name: string): string;
  /** Hash: an account's tokens, cost and attempts on one UTC day, expiring after two days. */
  accountUsage(name: string, day: string): string;
  /** String with a TTL: a live worker's registration. */
  worker(workerId: string): string;
  /** Pub/sub channel for commands to workers (cancel, kill). */
  readonly controlChannel: string;
  /** Pub/sub channel on which run and member changes are announced. */
  readonly runEventsChannel: string;
}

export function createKeys(prefix: string): Keys {
  const p = `{${prefix}}`;
  return {
    bullPrefix: p,
    run: (runId) => `${p}:run:${runId}`,
    member: (runId, member) => `${p}:member:${runId}:${member}`,
    runs: `${p}:runs`,
    activeRuns: `${p}:runs:active`,
    events: (runId, member) => `${p}:events:${runId}:${member}`,
    rawEvents: (runId, member) => `${p}:raw:${runId}:${member}`,
    heartbeat: (jobId) => `${p}:hb:${jobId}`,
    cursor: (runId, member) => `${p}:cursor:${runId}:${member}`,
    attempts: (runId, member) => `${p}:attempts:${runId}:${member}`,
    skills: (runId) => `${p}:skills:${runId}`,
    artifacts: (runId) => `${p}:artifacts:${runId}`,
    secrets: (runId) => `${p}:secrets:${runId}`,
    tasks: (runId) => `${p}:tasks:${runId}`,
    taskSeq: (runId) => `${p}:tasks-seq:${runId}`,
    inbox: (runId, member) => `${p}:inbox:${runId}:${member}`,
    inboxRead: (runId, member) => `${p}:inbox-read:${runId}:${member}`,
    notified: (runId) => `${p}:notified:${runId}`,
    pools: `${p}:pools`,
    semaphore: (key) => `${p}:sem:${key}`,
    runBudget: (runId) => `${p}:budget:run:${runId}`,
    dayBudget: (day) => `${p}:budget:day:${day}`,
    accounts: `${p}:accounts`,
    account: (name) => `${p}:account:${name}`,
    accountAgents: (name) => `${p}:account-agents:${name}`,
    accountUsage: (name, day) => `${p}:account-usage:${name}:${day}`,
    worker: (workerId) => `${p}:worker:${workerId}`,
    controlChannel: `${p}:control`,
    runEventsChannel: `${p}:run-events`,
  };
}
