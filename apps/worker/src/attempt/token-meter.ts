import path from 'node:path';
import { describeTokenBudget, tokenBudgetReached, type AttemptMeta, type StreamEvent, type TokenCaps, type TokensSpent } from '@reins/shared';
import { TokenTally } from '../claude/token-tally.js';
import type { AttemptDeps } from './deps.js';

/**
 * One round's tokens, counted into the run's, the member's and the day's totals as they grow, and checked
 * against their caps. Claude Code has no max-tokens flag, so the worker enforces the caps itself: counted
 * fleet-wide as the agent goes (not only at its end), an agent sees what the run's other agents spent, and a
 * worker that dies mid-round leaves its round counted up to its last tick.
 */
export class TokenMeter {
  private readonly tally = new TokenTally();
  /** The figure last counted into Redis. */
  private counted = 0;
  /** The member's, the run's and the day's totals after the last count; undefined until one was needed. */
  spent: TokensSpent | undefined;

  constructor(
    private readonly deps: Pick<AttemptDeps, 'budgets' | 'now'>,
    private readonly meta: Pick<AttemptMeta, 'runId' | 'member' | 'attemptDir'>,
    private readonly caps: TokenCaps,
  ) {}

  /** Every event the agent printed, kept in a batch or not. */
  add(event: StreamEvent): void {
    this.tally.add(event);
  }

  /** The round's tokens so far (final once its result line came). */
  get tokens(): number {
    return this.tally.total;
  }

  /**
   * Counts what the round used since the last call into Redis (nothing to send: no call), and says which
   * cap the totals went over, if one did: the agent must then be stopped.
   */
  async count(): Promise<string | undefined> {
    const tokens = this.tally.total;
    if (tokens === this.counted) return undefined;
    // Unique in the run: a member's attempt folders are named by epoch and round (e3, e3-r2).
    const round = `${this.meta.member}:${path.basename(this.meta.attemptDir)}`;
    this.spent = await this.deps.budgets.countTokens(this.meta.runId, this.meta.member, round, tokens, this.deps.now());
    this.counted = tokens;
    const reached = tokenBudgetReached(this.spent, this.caps, 'running');
    return reached ? `stopped: ${describeTokenBudget(reached, 'running')}` : undefined;
  }
}
