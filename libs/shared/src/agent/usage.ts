import { z } from 'zod';

const tokenField = z.number().finite().nonnegative().optional().catch(undefined);

/**
 * The token counts of a Messages API `usage` object, as Claude Code puts it on each `assistant` line (the
 * message's usage as its stream began: output_tokens there is provisional) and on its `result` line (the
 * whole invocation's, final). Loose: the CLI adds fields (service_tier, server_tool_use, iterations…), and
 * a field that is not a count is read as missing rather than losing the line.
 */
export const UsageSchema = z.looseObject({
  input_tokens: tokenField,
  output_tokens: tokenField,
  cache_creation_input_tokens: tokenField,
  cache_read_input_tokens: tokenField,
});
export type Usage = z.infer<typeof UsageSchema>;

/**
 * The tokens a usage counts against a token budget: input, output, and both kinds of cache (writing and
 * reading a cached prompt are tokens the account's limits count too). A missing field counts 0.
 */
export function tokensOf(usage: Usage | undefined): number {
  if (!usage) return 0;
  const { input_tokens = 0, output_tokens = 0, cache_creation_input_tokens = 0, cache_read_input_tokens = 0 } = usage;
  return Math.round(input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens);
}
