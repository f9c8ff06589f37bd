import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Budgets, createKeys } from '@reins/shared';
import { budgetDay } from '../../libs/shared/src/fleet/budgets.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();

describe("the run's, members' and day's token counters", () => {
  it('count each round once and only upwards, however often and by however many workers it is counted', async () => {
    const keys = createKeys('tokens-once');
    const budgets = new Budgets(redis.client, keys);
    expect(await budgets.countTokens('r1', 'a', 'a:e1', 1_000)).toEqual({ run: 1_000, member: 1_000, day: 1_000 });
    // The same figure again (an adopting worker reading the round anew), and a lower one (its output cut): nothing.
    expect(await budgets.countTokens('r1', 'a', 'a:e1', 1_000)).toEqual({ run: 1_000, member: 1_000, day: 1_000 });
    expect(await budgets.countTokens('r1', 'a', 'a:e1', 400)).toEqual({ run: 1_000, member: 1_000, day: 1_000 });
    expect(await budgets.countTokens('r1', 'a', 'a:e1', 1_500)).toEqual({ run: 1_500, member: 1_500, day: 1_500 });
    // Another round of the member adds to its total; another member's to the run's only.
    expect(await budgets.countTokens('r1', 'a', 'a:e2', 200)).toEqual({ run: 1_700, member: 1_700, day: 1_700 });
    expect(await budgets.countTokens('r1', 'b', 'b:e1', 300)).toEqual({ run: 2_000, member: 300, day: 2_000 });
    // Another run counts into the same day.
    expect(await budgets.countTokens('r2', 'a', 'a:e1', 50)).toEqual({ run: 50, member: 50, day: 2_050 });
    expect(await budgets.tokensSpent('r1', 'a')).toEqual({ run: 2_000, member: 1_700, day: 2_050 });
    expect(await budgets.tokensSpent('r1', 'nobody')).toEqual({ run: 2_000, member: 0, day: 2_050 });
    // The day's counter expires with the day's budget, two days on.
    expect(await redis.client.pttl(keys.dayBudget(budgetDay()))).toBeGreaterThan(47 * 3600 * 1000);
  });

  it('lose nothing when many workers count at once', async () => {
    const keys = createKeys('tokens-racing');
    const workers = Array.from({ length: 8 }, () => new Redis(redis.url));
    try {
      // Eight workers, a member each, every one counting its round up to 1 000 in steps of 10, all at once.
      await Promise.all(
        workers.map(async (connection, i) => {
          const budgets = new Budgets(connection, keys);
          for (let tokens = 10; tokens <= 1_000; tokens += 10) await budgets.countTokens('race', `m${i}`, `m${i}:e1`, tokens);
        }),
      );
      const budgets = new Budgets(redis.client, keys);
      expect(await budgets.tokensSpent('race', 'm3')).toEqual({ run: 8_000, member: 1_000, day: 8_000 });
    } finally {
      await Promise.all(workers.map((w) => w.quit()));
    }
  });
});
