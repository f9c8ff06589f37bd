import { escapeControlChars, isConfigError, isNotFoundError, isRedisUnreachableError, isSpecError, isUsageError } from '@reins/shared';
import { attach } from './commands/attach.js';
import { cancel } from './commands/cancel.js';
import { checkpoint } from './commands/checkpoint.js';
import { design } from './commands/design.js';
import { doctor } from './commands/doctor.js';
import { logs } from './commands/logs.js';
import { msg } from './commands/msg.js';
import { plan } from './commands/plan.js';
import { retry } from './commands/retry.js';
import { role } from './commands/role.js';
import { runs } from './commands/runs.js';
import { status } from './commands/status.js';
import { submit } from './commands/submit.js';
import { task } from './commands/task.js';
import { up } from './commands/up.js';
import { validate } from './commands/validate.js';
import { workers } from './commands/workers.js';
import { accounts } from './commands/accounts.js';
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

const COMMANDS: Record<string, (argv: string[]) => Promise<ExitCode>> = {
  design,
  validate,
  submit,
  status,
  logs,
  attach,
  runs,
  retry,
  cancel,
  checkpoint,
  plan,
  task,
  msg,
  up,
  doctor,
  workers,
  accounts,
  scheduler: (argv) => role('scheduler', argv),
  worker: (argv) => role('worker', argv),
  board: (argv) => role('board', argv),
};

async function main(argv: string[]): Promise<ExitCode> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? EXIT.invalid : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`reins: unknown command ${escapeControlChars(JSON.stringify(command))}\n\n${USAGE}`);
    return EXIT.invalid;
  }
  try {
    return await run(rest);
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

// Exit explicitly: open Redis handles must not keep a finished command alive. Writes to pipes
// and files are synchronous on Linux, so nothing printed is lost.
process.exit(await main(process.argv.slice(2)));
