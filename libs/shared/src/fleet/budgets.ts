import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { withScripts } from '../redis/scripts.js';

/**
 * Reserves against a run's and the day's budget at once. KEYS: run budget, day budget. ARGV: job id,
 * amount, run cap ('' for none), day cap ('' for none), day TTL ms. A budget hash holds spent, reserved,
 * cap (the run's cap is kept here, so it can be raised) and one res:<job> field per open reservation.
 * Returns {1} when reserved, or {0, which, spent, reserved, cap} when it would go over.
 */
const RESERVE = `
local amount = tonumber(ARGV[2])
local caps = { ARGV[3], ARGV[4] }
if caps[1] ~= '' then redis.call('HSETNX', KEYS[1], 'cap', caps[1]) end
local runCap = redis.call('HGET', KEYS[1], 'cap')
local limits = { runCap or '', caps[2] }
for i = 1, 2 do
  if limits[i] ~= '' then
    local spent = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
    local reserved = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
    local held = tonumber(redis.call('HGET', KEYS[i], 'res:' .. ARGV[1]) or '0')
    if spent + reserved - held + amount > tonumber(limits[i]) + 1e-9 then
      return { 0, i == 1 and 'run' or 'day', tostring(spent), tostring(reserved - held), limits[i] }
    end
  end
end
for i = 1, 2 do
  local held = tonumber(redis.call('HGET', KEYS[i], 'res:' .. ARGV[1]) or '0')
  redis.call('HINCRBYFLOAT', KEYS[i], 'reserved', amount - held)
  redis.call('HSET', KEYS[i], 'res:' .. ARGV[1], tostring(amount))
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return { 1 }
`;

/** Settles a reservation with the real cost. KEYS: run budget, day budget. ARGV: job id, cost. */
const SETTLE = `
for i = 1, 2 do
  local held = redis.call('HGET', KEYS[i], 'res:' .. ARGV[1])
  if held then
    redis.call('HINCRBYFLOAT', KEYS[i], 'reserved', -tonumber(held))
    redis.call('HDEL', KEYS[i], 'res:' .. ARGV[1])
    redis.call('HINCRBYFLOAT', KEYS[i], 'spent', ARGV[2])
  end
end
return 1
`;

type BudgetCommands = {
  reinsReserve(run: string, day: string, jobId: string, amount: string, runCap: string, dayCap: string, dayTtlMs: string): Promise<(number | string)[]>;
  reinsSettle(run: string, day: string, jobId: string, cost: string): Promise<number>;
};

export type Reservation = { ok: true } | { ok: false; budget: 'run' | 'day'; spentUsd: number; reservedUsd: number; capUsd: number };

export interface BudgetState {
  spentUsd: number;
  reservedUsd: number;
  capUsd: number | undefined;
}

/** The UTC day a reservation counts against. */
export const budgetDay = (now = Date.now()): string => new Date(now).toISOString().slice(0, 10);

/**
 * Money, fleet-wide: before an agent starts, a reservation is taken from its run's and the day's budget
 * (atomically, in Lua, so many workers cannot overspend together); when it ends, its real cost settles it.
 */
export class Budgets {
  private readonly redis: Redis & BudgetCommands;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = withScripts<BudgetCommands>(redis, { reinsReserve: { numberOfKeys: 2, lua: RESERVE }, reinsSettle: { numberOfKeys: 2, lua: SETTLE } });
  }

  async reserve(runId: string, jobId: string, amountUsd: number, caps: { runUsd?: number | undefined; dayUsd?: number | undefined }, now = Date.now()): Promise<Reservation> {
    const reply = await this.redis.reinsReserve(
      this.keys.runBudget(runId),
      this.keys.dayBudget(budgetDay(now)),
      jobId,
      String(amountUsd),
      caps.runUsd === undefined ? '' : String(caps.runUsd),
      caps.dayUsd === undefined ? '' : String(caps.dayUsd),
      String(2 * 24 * 3600 * 1000),
    );
    if (Number(reply[0]) === 1) return { ok: true };
    return { ok: false, budget: reply[1] === 'day' ? 'day' : 'run', spentUsd: Number(reply[2]), reservedUsd: Number(reply[3]), capUsd: Number(reply[4]) };
  }

  /** Settles with the real cost (0 for a reservation that was never used). The day is the reservation's. */
  async settle(runId: string, jobId: string, costUsd: number, reservedAt = Date.now()): Promise<void> {
    await this.redis.reinsSettle(this.keys.runBudget(runId), this.keys.dayBudget(budgetDay(reservedAt)), jobId, String(costUsd));
  }

  async runBudget(runId: string): Promise<BudgetState> {
    const [spent, reserved, cap] = await this.redis.hmget(this.keys.runBudget(runId), 'spent', 'reserved', 'cap');
    return { spentUsd: Number(spent ?? 0), reservedUsd: Number(reserved ?? 0), capUsd: cap ? Number(cap) : undefined };
  }

  /** Raises (or sets) a run's cap, so `reins retry` can continue a run that ran out. */
  async setRunCap(runId: string, capUsd: number): Promise<void> {
    await this.redis.hset(this.keys.runBudget(runId), 'cap', String(capUsd));
  }
}
