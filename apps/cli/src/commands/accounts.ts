import { Accounts, FleetReader, accountOverview, escapeControlChars, formatCostUsd, terminalJson, type AccountOverview } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../render.js';
import { help } from './submit.js';

export const ACCOUNTS_HELP = `Usage: reins accounts [--json]

Lists the fleet's Claude accounts (names only: their secrets stay on the worker hosts that hold them, in
REINS_ACCOUNTS_FILE or the worker's environment): each usage window Claude Code last reported (status,
utilization, when it resets), whether the account is paused until a reset or broken (its credentials were
refused), agents running under it, tokens and cost today (UTC), and the live workers that hold it.
  --json   one JSON object: {accounts: [{name, windows, pausedUntil?, pausedWhy?, broken?, agents, today: {tokens, costUsd, attempts}, workers}]}`;

const clock = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);

/** Its state in a word or a few: ok, paused until a time, broken. */
export function accountState(a: AccountOverview, now = Date.now()): string {
  if (a.broken) return `broken: ${a.broken.message}`;
  if (a.pausedUntil !== undefined && a.pausedUntil > now) return `paused until ${clock(a.pausedUntil)} UTC`;
  if (a.workers.length === 0) return 'no live worker holds it';
  return 'ok';
}

/** Each window as "five_hour 93% allowed_warning, resets 15:30". */
const windows = (a: AccountOverview): string =>
  Object.entries(a.windows)
    .map(([type, w]) => `${type} ${w.utilization !== undefined ? `${Math.round(w.utilization * 100)}% ` : ''}${w.status}${w.resetsAt ? `, resets ${clock(w.resetsAt).slice(11)}` : ''}`)
    .join('; ') || '-';

export async function accounts(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('accounts', argv, { json: { type: 'boolean' } }, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(ACCOUNTS_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    const redis = await ctx.redis();
    const now = Date.now();
    const live = await new FleetReader(redis, ctx.keys).liveWorkers();
    const overview = await accountOverview(new Accounts(redis, ctx.keys, ctx.config.heartbeatTtlMs), live, now);
    if (values.json) {
      console.log(terminalJson({ accounts: overview }));
      return EXIT.ok;
    }
    if (overview.length === 0) {
      console.error('no accounts yet: a worker announces the accounts it holds when it starts (REINS_ACCOUNTS_FILE, or its environment)');
      return EXIT.ok;
    }
    // Account states hold what the API and Claude Code said (a broken account's message): escaped.
    const rows = overview.map((a) => [a.name, accountState(a, now), windows(a), String(a.agents), String(a.today.tokens), formatCostUsd(a.today.costUsd), a.workers.join(',') || '-'].map(escapeControlChars));
    console.log(table([['ACCOUNT', 'STATE', 'WINDOWS', 'AGENTS', 'TOKENS TODAY', 'COST TODAY', 'WORKERS'], ...rows]));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
