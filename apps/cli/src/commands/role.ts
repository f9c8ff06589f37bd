import { assertWorkableTimings, loadConfig, type EnvName } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import type { ExitCode } from '../exit-codes.js';
import { runRoleInForeground, type Role } from '../roles.js';
import { help } from './submit.js';

const ROLE_FLAGS: Record<Role, { options: Record<string, { type: 'string' | 'boolean' }>; env: Record<string, EnvName>; help: string }> = {
  worker: {
    options: { concurrency: { type: 'string' }, id: { type: 'string' }, labels: { type: 'string' } },
    env: { concurrency: 'REINS_WORKER_CONCURRENCY', id: 'REINS_WORKER_ID', labels: 'REINS_WORKER_LABELS' },
    help: `Usage: reins worker [--concurrency N] [--id ID] [--labels L,M]

Pulls agent jobs and runs each agent in a tmux session on this worker's private socket.
  --concurrency N   agents at once (REINS_WORKER_CONCURRENCY, default 4)
  --id ID           worker id (REINS_WORKER_ID, default the host name); give each worker on a host its own
  --labels L,M      what this host offers (REINS_WORKER_LABELS), e.g. gpu,region-eu`,
  },
  scheduler: {
    options: {},
    env: {},
    help: `Usage: reins scheduler

Turns submitted harnesses into agent jobs, releases them in dependency order and decides each run's outcome.`,
  },
  board: {
    options: { port: { type: 'string' }, host: { type: 'string' }, 'read-only': { type: 'boolean' } },
    env: { port: 'REINS_BOARD_PORT', host: 'REINS_BOARD_HOST', 'read-only': 'REINS_BOARD_READ_ONLY' },
    help: `Usage: reins board [--port P] [--host H] [--read-only]

Serves the runs pages, Bull Board for the reins queues and /metrics (default http://127.0.0.1:8700).
Off 127.0.0.1 it needs REINS_BOARD_TOKEN, or REINS_BOARD_USER and REINS_BOARD_PASSWORD.
  --read-only   hide (and refuse) retry, clean and delete (REINS_BOARD_READ_ONLY; without auth they are off anyway)`,
  },
};

/** `reins worker|scheduler|board`: checks the flags and environment, then runs the role in the foreground. */
export async function role(name: Role, argv: string[]): Promise<ExitCode> {
  const spec = ROLE_FLAGS[name];
  const { values } = parseCommandArgs(name, argv, spec.options, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(spec.help);
  const overrides = flagOverrides(values, spec.env);
  // A boolean flag stands for its variable set to 1.
  for (const [flag, envName] of Object.entries(spec.env)) if ((values as Record<string, unknown>)[flag] === true) overrides[envName] = '1';
  // Fail here, with exit 2, rather than in the child.
  const config = loadConfig(process.env, overrides);
  if (name === 'worker') assertWorkableTimings(config);
  const env = { ...process.env, ...overrides };
  return (await runRoleInForeground(name, env)) as ExitCode;
}

/** `role` for one role, as a command of its own. */
export function roleCommand(name: Role): (argv: string[]) => Promise<ExitCode> {
  return (argv) => role(name, argv);
}
