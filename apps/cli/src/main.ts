import { escapeControlChars, isConfigError, isNotFoundError, isRedisUnreachableError, isSpecError, isUsageError } from '@reins/shared';
import { EXIT, type ExitCode } from './exit-codes.js';

const USAGE = `reins: run teams of Claude Code agents, unattended, across machines.

Usage: reins <command> [options]

Runs:
  design [GOAL] [--out DIR]       design a harness with Claude Code (the reins plugin's /reins:design)
  validate FILE [--json]          check a harness as submit does, without Redis; every problem at once
  submit FILE [--wait] [--json]   validate a harness and submit it
  status RUN [--watch] [--json]   a run and its members; --watch follows it live
  logs RUN [MEMBER] [-f] [--raw]  an agent's events, readable; -f follows them
  attach RUN MEMBER               watch an agent's tmux session (or how to, from its host)
  runs [--status S] [--limit N]   recent runs, newest first
  retry RUN [MEMBER]              retry a failed or cancelled run (or member) from its cursors
  cancel RUN                      stop a run's agents, mark it cancelled

  plan FILE [--json]              run only the planner of a plan: auto harness; print its team

Inside an agent (or with --run RUN --as MEMBER):
  checkpoint --data JSON          save your own progress into your cursor
  task add|list|claim|done        the run's shared task list (claims are atomic)
  msg send MEMBER|all TEXT        message teammates; msg inbox reads yours

Fleet:
  up [--run FILE]                 scheduler + worker + board (+ redis) on this machine
  scheduler                       run the scheduler in the foreground
  worker [--concurrency N] [--id ID]
  board [--port P]
  workers                         live workers: host, slots in use, labels
  accounts                        Claude accounts: usage windows, paused or broken, agents, tokens today
  doctor                          check Redis, tmux, claude and the API settings

Every command takes --redis-url, --prefix and --data-dir (over REINS_REDIS_URL, REINS_PREFIX, REINS_DATA_DIR).
Read commands (status, logs, runs, workers, accounts, doctor) take --json. Colours only on a terminal; NO_COLOR turns them off.
Exit codes: 0 succeeded, 1 failed or cancelled, 2 invalid input.`;

type Command = (argv: string[]) => Promise<ExitCode>;

/**
 * Each command is loaded only when it is run: `reins submit` does not pay for the board's or the
 * doctor's modules. In the bundle (apps/cli/build.mjs) a module reached only through one of these is
 * initialized only when its command runs.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  design: async () => (await import('./commands/design.js')).design,
  validate: async () => (await import('./commands/validate.js')).validate,
  submit: async () => (await import('./commands/submit.js')).submit,
  status: async () => (await import('./commands/status.js')).status,
  logs: async () => (await import('./commands/logs.js')).logs,
  attach: async () => (await import('./commands/attach.js')).attach,
  runs: async () => (await import('./commands/runs.js')).runs,
  retry: async () => (await import('./commands/retry.js')).retry,
  cancel: async () => (await import('./commands/cancel.js')).cancel,
  checkpoint: async () => (await import('./commands/checkpoint.js')).checkpoint,
  plan: async () => (await import('./commands/plan.js')).plan,
  task: async () => (await import('./commands/task.js')).task,
  msg: async () => (await import('./commands/msg.js')).msg,
  up: async () => (await import('./commands/up.js')).up,
  doctor: async () => (await import('./commands/doctor.js')).doctor,
  workers: async () => (await import('./commands/workers.js')).workers,
  accounts: async () => (await import('./commands/accounts.js')).accounts,
  scheduler: async () => (await import('./commands/role.js')).roleCommand('scheduler'),
  worker: async () => (await import('./commands/role.js')).roleCommand('worker'),
  board: async () => (await import('./commands/role.js')).roleCommand('board'),
};

/** Runs one `reins` command; bin/reins.js loads this from the bundle and exits with what it returns. */
export async function main(argv: string[]): Promise<ExitCode> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? EXIT.invalid : EXIT.ok;
  }
  const load = COMMANDS[command];
  if (!load) {
    console.error(`reins: unknown command ${escapeControlChars(JSON.stringify(command))}\n\n${USAGE}`);
    return EXIT.invalid;
  }
  try {
    return await (await load())(rest);
  } catch (error) {
    // Messages quote run data (member lists, a harness's values, Redis's replies): escaped, as all output is.
    if (isSpecError(error) || isUsageError(error) || isConfigError(error) || isNotFoundError(error)) {
      console.error(escapeControlChars(error.message));
      return EXIT.invalid;
    }
    if (isRedisUnreachableError(error)) {
      console.error(escapeControlChars(error.message));
      return EXIT.failed;
    }
    console.error(escapeControlChars(`reins ${command}: ${(error as Error).message ?? String(error)}`));
    if (process.env.REINS_DEBUG) console.error(error);
    return EXIT.failed;
  }
}
