import { FleetReader, type MemberRecord, type RunHead, type RunStatus } from '@reins/shared';
import type { CliContext } from './context.js';

export interface ListedRun {
  head: RunHead;
  members: MemberRecord[];
}

/** Run ids read per round trip when a status filter has to look further back. */
const PAGE = 100;
/** A filter that matches little stops after this many runs rather than reading all history. */
const MAX_SCANNED = 10_000;

/**
 * Recent runs, newest first, optionally only those with one status. Reads run heads (not whole records,
 * whose harness can be large) and each listed run's members; ids whose record is gone are passed over.
 */
export async function listRuns(ctx: CliContext, options: { status?: RunStatus; limit: number }): Promise<ListedRun[]> {
  const redis = await ctx.redis();
  const reader = new FleetReader(redis, ctx.keys);
  const store = await ctx.store();
  const found: ListedRun[] = [];
  for (let offset = 0; found.length < options.limit && offset < MAX_SCANNED; offset += PAGE) {
    const ids = await redis.zrevrange(ctx.keys.runs, offset, offset + PAGE - 1);
    const heads = (await reader.runHeads(ids)).filter((h) => options.status === undefined || h.status === options.status).slice(0, options.limit - found.length);
    const members = await Promise.all(heads.map((h) => store.getMembers(h)));
    heads.forEach((head, i) => found.push({ head, members: members[i]! }));
    if (ids.length < PAGE) break;
  }
  return found;
}
