import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { withScripts, type ReinsScripts } from '../redis/scripts.js';

export type Reservation = { ok: true } | { ok: false; budget: 'run' | 'day'; spentUsd: number; reservedUsd: number; capUsd: number };

export interface BudgetState {
  spentUsd: number;
  reservedUsd: number;
  capUsd: number | undefined;
}

/** The tokens counted so far: the run's, one member's (over all its attempts), and the fleet's today. */
export interface TokensSpent {
  run: number;
  member: number;
  day: number;
}

/** The UTC day a reservation counts against. */
export const budgetDay = (now = Date.now()): string => new Date(now).toISOString().slice(0, 10);

const DAY_TTL_MS = 2 * 24 * 3600 * 1000;

/**
 * Money, fleet-wide: before an agent starts, a reservation is taken from its run's and the day's budget
 * (atomically, in Lua, so many workers cannot overspend together); when it ends, its real cost settles it.
 */
export class Budgets {
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
  ) {
    this.redis = withScripts(redis);
  }

  async reserve(runId: string, jobId: string, amountUsd: number, caps: { runUsd?: number | undefined; dayUsd?: number | undefined }, now = Date.now()): Promise<Reservation> {
    const reply = await this.redis.reinsBudgetReserve(
      this.keys.runBudget(runId),
      this.keys.dayBudget(budgetDay(now)),
      jobId,
      String(amountUsd),
      caps.runUsd === undefined ? '' : String(caps.runUsd),
      caps.dayUsd === undefined ? '' : String(caps.dayUsd),
      String(DAY_TTL_MS),
    );
    if (Number(reply[0]) === 1) return { ok: true };
    return { ok: false, budget: reply[1] === 'day' ? 'day' : 'run', spentUsd: Number(reply[2]), reservedUsd: Number(reply[3]), capUsd: Number(reply[4]) };
  }

  /** Settles with the real cost (0 for a reservation that was never used). The day is the reservation's. */
  async settle(runId: string, jobId: string, costUsd: number, reservedAt = Date.now()): Promise<void> {
    await this.redis.reinsBudgetSettle(this.keys.runBudget(runId), this.keys.dayBudget(budgetDay(reservedAt)), jobId, String(costUsd));
  }

  async runBudget(runId: string): Promise<BudgetState> {
    const [spent, reserved, cap] = await this.redis.hmget(this.keys.runBudget(runId), 'spent', 'reserved', 'cap');
    return { spentUsd: Number(spent ?? 0), reservedUsd: Number(reserved ?? 0), capUsd: cap ? Number(cap) : undefined };
  }

  /**
   * Counts a round's tokens so far (`round` names it uniquely in the run: member and attempt folder) into the
   * run's, the member's and today's totals, atomically for the whole fleet; returns the totals after it.
   * Only what the round used beyond its last count is added, so counting the same figure twice adds nothing.
   */
  async countTokens(runId: string, member: string, round: string, tokens: number, now = Date.now()): Promise<TokensSpent> {
    const [run, memberTokens, day] = await this.redis.reinsBudgetTokens(this.keys.runBudget(runId), this.keys.dayBudget(budgetDay(now)), member, round, String(Math.round(tokens)), String(DAY_TTL_MS));
    return { run: Number(run), member: Number(memberTokens), day: Number(day) };
  }

  async tokensSpent(runId: string, member: string, now = Date.now()): Promise<TokensSpent> {
    const [[run, memberTokens], day] = await Promise.all([this.redis.hmget(this.keys.runBudget(runId), 'tokens', `tokens:${member}`), this.redis.hget(this.keys.dayBudget(budgetDay(now)), 'tokens')]);
    return { run: Number(run ?? 0), member: Number(memberTokens ?? 0), day: Number(day ?? 0) };
  }

  /** Raises (or sets, or with undefined removes) a run's cap, so `reins retry` can continue a run that ran out. */
  async setRunCap(runId: string, capUsd: number | undefined): Promise<void> {
    if (capUsd === undefined) await this.redis.hdel(this.keys.runBudget(runId), 'cap');
    else await this.redis.hset(this.keys.runBudget(runId), 'cap', String(capUsd));
  }
}
