import { chooseAccount, isRateLimit, pausedUntil, type AccountState, type AgentJobData, type Candidate, type StreamEvent } from '@reins/shared';
import { credentialAdvice, type HeldAccount } from '../accounts.js';
import { recordWait } from './admission.js';
import type { AttemptDeps } from './deps.js';

/** What admission decided about the account of a Claude agent. */
export type AccountAdmission = { kind: 'go'; account: HeldAccount | undefined } | { kind: 'wait'; untilMs: number } | { kind: 'refused'; message: string };

/** The accounts the member may use among those this worker holds (all it holds when the member names none). */
export const usableHere = (deps: Pick<AttemptDeps, 'accounts'>, data: Pick<AgentJobData, 'accounts'>): HeldAccount[] => deps.accounts.held.filter((a) => data.accounts === undefined || data.accounts.includes(a.name));

/** A broken mark counts against this worker's credentials only when it was made with them (same fingerprint). */
const brokenHere = (state: AccountState, held: HeldAccount): AccountState => (state.broken && state.broken.fingerprint !== held.fingerprint ? { ...state, broken: undefined } : state);

/**
 * Before a Claude agent starts: the account it starts under, chosen by headroom (libs/shared accounts/choose.ts),
 * with a place under it taken fleet-wide. When none has room the job waits (no attempt used) and the member
 * says why; when every account it may use here is broken, the member is refused at once.
 */
export async function admitAccount(deps: AttemptDeps, jobId: string, data: AgentJobData, random: () => number = Math.random): Promise<AccountAdmission> {
  if (data.agent.kind !== 'claude') return { kind: 'go', account: undefined };
  const jitter = () => Math.floor(random() * deps.timings.monitorIntervalMs);
  const usable = usableHere(deps, data);
  if (usable.length === 0) {
    const reason = `needs account ${data.accounts!.join(' or ')}; worker ${deps.worker.workerId} holds ${deps.accounts.held.map((a) => a.name).join(', ') || 'none'}`;
    await recordWait(deps, data, reason);
    return { kind: 'wait', untilMs: deps.now() + deps.timings.monitorIntervalMs + jitter() };
  }
  const names = usable.map((a) => a.name);
  for (let tries = 0; tries < 3; tries += 1) {
    const now = deps.now();
    const [states, running] = await Promise.all([deps.accounts.state.states(names), deps.accounts.state.running(names, now)]);
    const candidates: Candidate[] = usable.map((held, i) => ({ state: brokenHere(states[i]!, held), running: running[i]!, max: held.max }));
    const choice = chooseAccount(candidates, now, deps.config.accountWarnUtilization);
    if (choice.kind === 'none') {
      const broken = usable.map((held, i) => `account ${held.name} was refused (${states[i]!.broken?.message ?? 'no credentials'}): ${credentialAdvice(held)}`);
      return { kind: 'refused', message: broken.join('; ') };
    }
    if (choice.kind === 'wait') {
      await recordWait(deps, data, choice.reason, choice.untilMs);
      return { kind: 'wait', untilMs: (choice.untilMs ?? now + deps.timings.monitorIntervalMs) + jitter() };
    }
    const account = usable.find((a) => a.name === choice.name)!;
    if (await deps.accounts.state.acquire(account.name, jobId, account.max, now)) return { kind: 'go', account };
    // Another worker took its last place in between: ask again.
  }
  await recordWait(deps, data, `every account it may use filled up while it chose: ${names.join(', ')}`);
  return { kind: 'wait', untilMs: deps.now() + deps.timings.monitorIntervalMs + jitter() };
}

/**
 * When an account the member may use takes agents again (epoch ms; now when one does at once), fleet-wide:
 * any account a worker announced, not broken, the member's own choice. Undefined when none will.
 */
export async function nextAccountAt(deps: AttemptDeps, data: Pick<AgentJobData, 'accounts'>, except: string | undefined): Promise<number | undefined> {
  const known = (await deps.accounts.state.names()).filter((n) => n !== except && (data.accounts === undefined || data.accounts.includes(n)));
  const now = deps.now();
  const times = (await deps.accounts.state.states(known)).filter((s) => !s.broken).map((s) => pausedUntil(s, now) ?? now);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/**
 * What one tick of a Claude agent tells its account: the windows of each rate_limit_event (a rejected one pauses
 * the account fleet-wide at once), and the agent's place under the account, renewed as a lease every third of a TTL.
 */
export class AccountWatch {
  private renewedAt: number;
  private lastSeen = '';

  constructor(
    private readonly deps: AttemptDeps,
    private readonly jobId: string,
    readonly account: HeldAccount | undefined,
  ) {
    this.renewedAt = deps.now();
  }

  async tick(events: readonly StreamEvent[]): Promise<void> {
    const { account, deps } = this;
    if (!account) return;
    for (const event of events) {
      if (!isRateLimit(event)) continue;
      const info = event.rate_limit_info;
      // Written when it says something new: an agent's every turn repeats the same headers.
      const seen = `${info.status}:${info.rateLimitType}:${info.utilization}:${info.resetsAt}`;
      if (seen === this.lastSeen) continue;
      this.lastSeen = seen;
      await deps.accounts.state.observe(account.name, info, deps.now());
    }
    if (deps.now() - this.renewedAt >= deps.timings.heartbeatTtlMs / 3) {
      this.renewedAt = deps.now();
      await deps.accounts.state.acquire(account.name, this.jobId, undefined);
    }
  }

  async release(): Promise<void> {
    if (this.account) await this.deps.accounts.state.release(this.account.name, this.jobId);
  }
}
