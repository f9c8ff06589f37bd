import { tokensOf, type StreamEvent } from '@reins/shared';

/** Messages whose lines may still come; an older one is counted for good. */
const OPEN_MESSAGES = 64;

/**
 * The tokens one agent invocation (one round) has used, from its stream-json as it is read. While it runs,
 * each API message counts once, from its `assistant` lines (Claude Code writes a line per content block, all
 * with the message's id and the usage of its start, so a message is counted by its id, not by its lines);
 * those undercount a little (output_tokens is provisional there). Its `result` line's usage, when it comes,
 * is the authoritative total and replaces the estimate, unless it counts less than the messages already seen
 * (a subagent's messages stream too, and a result that left them out must not take them back). A command
 * agent that prints no usage counts 0.
 */
export class TokenTally {
  /** Message id → its tokens, for the newest messages; the others are in `settled`. */
  private readonly open = new Map<string, number>();
  private settled = 0;
  private resultTokens: number | undefined;

  add(event: StreamEvent): void {
    if (event.type === 'result') {
      if (event.usage) this.resultTokens = tokensOf(event.usage);
      return;
    }
    if (event.type !== 'assistant' || !event.message.usage) return;
    const tokens = tokensOf(event.message.usage);
    const id = event.message.id;
    if (id === undefined) {
      this.settled += tokens;
      return;
    }
    this.open.set(id, Math.max(this.open.get(id) ?? 0, tokens));
    if (this.open.size > OPEN_MESSAGES) {
      const [oldest, counted] = this.open.entries().next().value as [string, number];
      this.open.delete(oldest);
      this.settled += counted;
    }
  }

  /** The round's tokens so far: the result's when it came (at least what its messages summed to), else that sum. */
  get total(): number {
    let sum = this.settled;
    for (const tokens of this.open.values()) sum += tokens;
    return Math.max(sum, this.resultTokens ?? 0);
  }
}
