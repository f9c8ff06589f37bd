import type { TokensSpent } from './budgets.js';

/** The caps on tokens an agent runs under: its member's (limits.maxTokens), its run's (limits.runMaxTokens), the fleet's today (REINS_DAILY_TOKENS). */
export interface TokenCaps {
  member?: number | undefined;
  run?: number | undefined;
  day?: number | undefined;
}

export type TokenBudget = keyof TokenCaps;

export interface TokenBudgetReached {
  budget: TokenBudget;
  spent: number;
  cap: number;
}

/** Narrowest first: when several are reached, the one closest to the agent is named. */
const BUDGETS: readonly TokenBudget[] = ['member', 'run', 'day'];

const NAMES: Record<TokenBudget, string> = {
  member: "the member's token budget (limits.maxTokens, over all its attempts)",
  run: "the run's token budget (limits.runMaxTokens)",
  day: "the fleet's daily token budget (REINS_DAILY_TOKENS, this UTC day)",
};

/**
 * The first cap the tokens spent reach. Before an agent starts, a cap is reached at it (nothing is left to
 * spend); while one runs, once it goes over (an agent that used exactly its budget has not overspent). Pure.
 */
export function tokenBudgetReached(spent: TokensSpent, caps: TokenCaps, when: 'start' | 'running'): TokenBudgetReached | undefined {
  for (const budget of BUDGETS) {
    const cap = caps[budget];
    if (cap === undefined) continue;
    if (when === 'start' ? spent[budget] >= cap : spent[budget] > cap) return { budget, spent: spent[budget], cap };
  }
  return undefined;
}

/** Whether any token cap is set at all (when none is, nothing needs reading before an agent starts). */
export const hasTokenCaps = (caps: TokenCaps): boolean => BUDGETS.some((budget) => caps[budget] !== undefined);

/** "the run's token budget (limits.runMaxTokens) is spent: 3000 of 3000 tokens used" (start), or "… ran out: 3100 of 3000 tokens used" (running). */
export function describeTokenBudget(reached: TokenBudgetReached, when: 'start' | 'running'): string {
  return `${NAMES[reached.budget]} ${when === 'start' ? 'is spent' : 'ran out'}: ${reached.spent} of ${reached.cap} tokens used`;
}
