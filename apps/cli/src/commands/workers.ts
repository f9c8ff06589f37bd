import { FleetReader, escapeControlChars, formatDuration, terminalJson, type WorkerRegistration } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../render.js';
import { help } from './submit.js';

export const WORKERS_HELP = `Usage: reins workers [--json]

Lists live workers: id, host, state, agent slots in use out of the total, labels, and how long each has
been up. A worker is live while its registration, refreshed every tick, has not expired (one heartbeat TTL).
States: running; degraded (its data dir has less free space than REINS_MIN_FREE_BYTES: it takes no jobs,
its agents go on; the line below the table says why); draining (shutting down).
  --json   one JSON object: {workers: [{workerId, host, pid, startedAt, slots, used, state, reason?, diskFreeBytes?, labels?}]}`;

/** Labels as a worker may give them: a list of tags, or key=value pairs. */
function formatLabels(labels: unknown): string {
  if (Array.isArray(labels)) return labels.map(String).join(',') || '-';
  if (labels && typeof labels === 'object')
    return (
      Object.entries(labels)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',') || '-'
    );
  return '-';
}

export async function workers(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('workers', argv, { json: { type: 'boolean' } }, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(WORKERS_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const live: (WorkerRegistration & { labels?: unknown })[] = await new FleetReader(await ctx.redis(), ctx.keys).liveWorkers();
    if (values.json) {
      console.log(terminalJson({ workers: live }));
      return EXIT.ok;
    }
    if (live.length === 0) {
      console.error('no live workers; start one with `reins worker` (or `reins up`)');
      return EXIT.ok;
    }
    const now = Date.now();
    // A registration is what a worker wrote about itself, labels included: escaped (the table has no colours).
    const rows = live.map((w) => [w.workerId, w.host, w.state, `${w.used}/${w.slots}`, formatLabels(w.labels), formatDuration(now - w.startedAt)].map(escapeControlChars));
    console.log(table([['WORKER', 'HOST', 'STATE', 'SLOTS', 'LABELS', 'UP'], ...rows]));
    for (const w of live) if (w.reason) console.log(escapeControlChars(`${w.workerId} is ${w.state}: ${w.reason}`));
    const used = live.reduce((sum, w) => sum + w.used, 0);
    const slots = live.reduce((sum, w) => sum + w.slots, 0);
    console.log(`\n${live.length} worker${live.length === 1 ? '' : 's'}, ${used}/${slots} slots in use`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
