import { isConfigError, isNotFoundError, isRedisUnreachableError, isSpecError, isUsageError } from '@reins/shared';
import { cancel } from './commands/cancel.js';
import { checkpoint } from './commands/checkpoint.js';
import { doctor } from './commands/doctor.js';
import { logs } from './commands/logs.js';
import { role } from './commands/role.js';
import { status } from './commands/status.js';
import { submit } from './commands/submit.js';
import { up } from './commands/up.js';
import { EXIT, type ExitCode } from './exit-codes.js';

const USAGE = `reins: run teams of Claude Code agents, unattended, across machines.

Usage: reins <command> [options]

Runs:
  submit FILE [--wait] [--json]   validate a harness and submit it
  status RUN [--json]             a run and its members
  logs RUN [MEMBER]               an agent's events, readable
  cancel RUN                      stop a run's agents, mark it cancelled

Inside an agent:
  checkpoint --data JSON          save your own progress into your cursor

Fleet:
  up [--run FILE]                 scheduler + worker + board (+ redis) on this machine
  scheduler                       run the scheduler in the foreground
  worker [--concurrency N] [--id ID]
  board [--port P]
  doctor                          check Redis, tmux, claude and the API settings

Every command takes --redis-url, --prefix and --data-dir (over REINS_REDIS_URL, REINS_PREFIX, REINS_DATA_DIR).
Exit codes: 0 succeeded, 1 failed or cancelled, 2 invalid input.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<ExitCode>> = {
  submit,
  status,
  logs,
  cancel,
  checkpoint,
  up,
  doctor,
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
    console.error(`reins: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return EXIT.invalid;
  }
  try {
    return await run(rest);
  } catch (error) {
    if (isSpecError(error) || isUsageError(error) || isConfigError(error) || isNotFoundError(error)) {
      console.error(error.message);
      return EXIT.invalid;
    }
    if (isRedisUnreachableError(error)) {
      console.error(error.message);
      return EXIT.failed;
    }
    console.error(`reins ${command}: ${(error as Error).message ?? String(error)}`);
    if (process.env.REINS_DEBUG) console.error(error);
    return EXIT.failed;
  }
}

// Exit explicitly: open Redis handles must not keep a finished command alive. Writes to pipes
// and files are synchronous on Linux, so nothing printed is lost.
process.exit(await main(process.argv.slice(2)));
