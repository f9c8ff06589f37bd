import { setTimeout as sleep } from 'node:timers/promises';
import { FleetReader, escapeControlChars, isFinalRunStatus, terminalJson, type AgentEvent } from '@reins/shared';
import type { CliContext } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { renderLiveTable, type LiveActivity } from './live-table.js';
import { renderRun } from './render.js';
import { lookupRun, type RunSnapshot } from './run-lookup.js';
import { LiveRegion, type Output } from './terminal.js';

export interface WatchOptions {
  /**
   * Where progress goes. On a terminal it is the live table, redrawn in place; elsewhere a line per
   * member change; with `progress: 'none'`, nothing.
   */
  progress: Output | 'none';
  /** Where the outcome goes: the run's final table, or its final JSON view. */
  result: Output;
  /**
   * json-final: one JSON view when the run ends (the `submit --wait --json` contract).
   * json-lines: a JSON view each time it changes, the last one final (`status --watch --json`).
   */
  format: 'table' | 'json-final' | 'json-lines';
  pollMs?: number;
}

const exitFor = (status: string): ExitCode => (status === 'succeeded' ? EXIT.ok : EXIT.failed);

/** Each member's newest event and the live agents' heartbeats, for the live table. */
async function readActivity(reader: FleetReader, snapshot: RunSnapshot, heartbeatTtlMs: number): Promise<LiveActivity> {
  const live = snapshot.members.filter((m) => m.status === 'running' || m.status === 'retrying');
  const [heartbeats, events] = await Promise.all([reader.heartbeats(live.map((m) => m.jobId)), Promise.all(snapshot.members.map(async (m) => [m.name, (await reader.latestEvents(m.runId, m.name, 1))[0]] as const))]);
  return { heartbeatTtlMs, heartbeats, lastEvents: new Map(events.filter((e): e is readonly [string, AgentEvent] => e[1] !== undefined)) };
}

/**
 * Follows a run until it ends, then prints its outcome; the exit code says how it ended. Ctrl-C stops
 * the watching, never the run.
 */
export async function watchRun(ctx: CliContext, runId: string, options: WatchOptions): Promise<ExitCode> {
  const reader = new FleetReader(await ctx.redis(), ctx.keys);
  const progress = options.progress === 'none' ? undefined : options.progress;
  const live = progress?.isTTY ? new LiveRegion(progress) : undefined;
  const onInterrupt = () => {
    live?.release();
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  const seen = new Map<string, string>();
  let lastJson = '';
  try {
    for (;;) {
      const snapshot = await lookupRun(ctx, runId);
      const ended = isFinalRunStatus(snapshot.view.status);
      // An ended run's last frame is not drawn: the final status takes its place.
      if (live && progress) {
        if (!ended) live.draw(renderLiveTable(snapshot, await readActivity(reader, snapshot, ctx.config.heartbeatTtlMs), progress));
      } else if (progress) printChanges(snapshot, seen, progress);
      if (options.format === 'json-lines') {
        const json = terminalJson(snapshot.view);
        if (json !== lastJson) options.result.write(`${json}\n`);
        lastJson = json;
      }
      if (ended) {
        // The final table replaces the live one: it adds what a table row cannot hold (errors, attempts).
        live?.clear();
        if (options.format === 'json-final') options.result.write(`${terminalJson(snapshot.view)}\n`);
        else if (options.format === 'table' && snapshot.run) options.result.write(`${renderRun(snapshot.run, snapshot.members, snapshot.attempts, options.result)}\n`);
        return exitFor(snapshot.view.status);
      }
      await sleep(options.pollMs ?? 300);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** Off a terminal: one line per member whose state or attempt changed, as `submit --wait` always printed. */
function printChanges(snapshot: RunSnapshot, seen: Map<string, string>, out: Output): void {
  for (const m of snapshot.view.members) {
    const line = `${m.status}${m.attempts > 1 ? ` (attempt ${m.attempts})` : ''}`;
    if (seen.get(m.name) !== line && !(m.status === 'pending' && !seen.has(m.name))) {
      out.write(`${escapeControlChars(`  ${m.name}: ${line}${m.error && m.status !== 'running' ? ` — ${m.error}` : ''}`)}\n`);
    }
    seen.set(m.name, line);
  }
}
