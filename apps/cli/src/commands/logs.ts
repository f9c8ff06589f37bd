import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError, UsageError, escapeControlChars, isFinalMemberStatus, terminalJson, isFinalRunStatus, type RunRecord, type RunStore } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { lookupRun } from '../run-lookup.js';
import { attemptEntries, byTime, eventEntry, formatEntry, type TimelineEntry } from '../timeline.js';
import { help } from './submit.js';

export const LOGS_HELP = `Usage: reins logs RUN [MEMBER] [-f] [--raw] [--json]

Prints an agent's events, readable: what it said, the tools it called and on what, the API's retries,
each attempt starting and ending (reins's own retries), and the result. Without MEMBER, every member's
events in time order. Control characters an agent printed (ESC, CR, C1, bidi overrides) show as \\x1b,
\\x0d, \\u202e: an agent's escape sequences never reach the terminal.
  -f, --follow   keep printing as events arrive, until the member ends (without MEMBER: the run);
                 then exit 0 if it succeeded, 1 if not
  --raw          the agent's stream-json lines as it printed them (the last 2000), one per line; needs MEMBER.
                 Byte for byte only into a pipe or a file; on a terminal, control characters show escaped
  --json         one JSON object per line: {member, id, at, kind, text}`;

const POLL_MS = 250;
/** Stream entries read per round trip; a longer backlog takes several. */
const PAGE = 1_000;

export async function logs(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('logs', argv, { follow: { type: 'boolean', short: 'f' }, raw: { type: 'boolean' }, json: { type: 'boolean' } }, { min: 1, max: 2, names: 'RUN [MEMBER]' });
  if (values.help) return help(LOGS_HELP);
  const [runId, member] = positionals as [string, string | undefined];
  if (values.raw && member === undefined) throw new UsageError('reins logs: --raw needs a MEMBER (raw stream-json lines do not say whose they are)');
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const store = await ctx.store();
    const run = await findRun(ctx, store, runId, Boolean(values.follow));
    if (member !== undefined && !run.members.includes(member)) {
      throw new NotFoundError(`run ${runId} has no member ${JSON.stringify(member)} (members: ${run.members.join(', ')})`);
    }
    const follow = Boolean(values.follow);
    if (values.raw) return await printRaw(store, runId, member!, follow);
    return await printTimeline(store, runId, member, { follow, json: Boolean(values.json) });
  } finally {
    await ctx.close();
  }
}

/** The run; when following, one still waiting on the control queue is waited for. */
async function findRun(ctx: CliContext, store: RunStore, runId: string, follow: boolean): Promise<RunRecord> {
  for (;;) {
    const run = await store.getRun(runId);
    if (run) return run;
    if (!follow) throw new NotFoundError(`no run with id ${JSON.stringify(runId)}`);
    await lookupRun(ctx, runId); // throws NotFoundError unless the submission is queued
    await sleep(POLL_MS);
  }
}

/**
 * Prints the timeline once, or keeps printing new entries until the member (or the run) has ended. The
 * status is read before the events each round: the worker writes an attempt's last events before its
 * outcome, so once a final status is read, the events read after it are complete.
 */
async function printTimeline(store: RunStore, runId: string, member: string | undefined, options: { follow: boolean; json: boolean }): Promise<ExitCode> {
  const lastEventId = new Map<string, string>();
  const printedAttempts = new Set<string>();
  let printed = 0;
  for (;;) {
    const run = await store.requireRun(runId);
    const names = member !== undefined ? [member] : run.members;
    const records = await store.getMembers({ runId, members: names });
    const batch: TimelineEntry[] = [];
    for (const name of names) {
      let from = lastEventId.get(name) ?? '-';
      for (;;) {
        const events = await store.readEvents(runId, name, from, PAGE);
        for (const event of events) batch.push(eventEntry(name, event));
        if (events.length > 0) from = events.at(-1)!.id;
        if (events.length < PAGE) break;
      }
      lastEventId.set(name, from);
      const attempts = attemptEntries(
        name,
        await store.readAttempts(runId, name),
        records.find((r) => r.name === name),
      );
      for (const entry of attempts) {
        // Epochs count per member: every member's first attempt is attempt:1, so the key names the member.
        const key = `${name}\u0000${entry.id}`;
        if (printedAttempts.has(key)) continue;
        printedAttempts.add(key);
        batch.push(entry);
      }
    }
    batch.sort(byTime);
    const memberWidth = names.length > 1 ? Math.max(...names.map((n) => n.length)) : undefined;
    for (const entry of batch) {
      process.stdout.write(`${options.json ? terminalJson(entry) : formatEntry(entry, { ...(memberWidth ? { memberWidth } : {}), stream: process.stdout })}\n`);
    }
    printed += batch.length;

    if (!options.follow) {
      if (printed === 0) console.error(`no events yet for ${member ?? `run ${runId}`}`);
      return EXIT.ok;
    }
    const followed = member !== undefined ? records[0] : run;
    const ended = member !== undefined ? records[0] !== undefined && isFinalMemberStatus(records[0].status) : isFinalRunStatus(run.status);
    if (ended) return followed?.status === 'succeeded' ? EXIT.ok : EXIT.failed;
    await sleep(POLL_MS);
  }
}

/**
 * The raw stream-json lines, as the agent printed them (cut at 32 KiB each by the worker). They are exact
 * only off a terminal, for a program to read: on one, the agent's control characters would act, so they
 * are escaped as everywhere else (a person reading --raw still sees every line).
 */
async function printRaw(store: RunStore, runId: string, member: string, follow: boolean): Promise<ExitCode> {
  const shown = process.stdout.isTTY ? escapeControlChars : (line: string) => line;
  let from = '-';
  for (;;) {
    const record = await store.getMember(runId, member);
    for (;;) {
      const lines = await store.readRawEvents(runId, member, from, PAGE);
      for (const { line } of lines) process.stdout.write(`${shown(line)}\n`);
      if (lines.length > 0) from = lines.at(-1)!.id;
      if (lines.length < PAGE) break;
    }
    if (!follow) return EXIT.ok;
    if (record && isFinalMemberStatus(record.status)) return record.status === 'succeeded' ? EXIT.ok : EXIT.failed;
    await sleep(POLL_MS);
  }
}
