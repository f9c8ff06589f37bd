import { spawn, type ChildProcess } from 'node:child_process';
import { appBin } from '@reins/shared';

export type Role = 'scheduler' | 'worker' | 'board';

/**
 * The CLI runs each role as its own process, from the entry point that app declares in its package.json
 * "bin": apps never import each other, and a role that crashes does not take the CLI (or, under
 * `reins up`, its siblings) down.
 */
export function roleEntry(role: Role): string {
  return appBin(role, `reins-${role}`);
}

export interface RoleProcess {
  role: Role;
  child: ChildProcess;
  exited: Promise<number>;
}

/**
 * Starts a role in its own process group, so a terminal's Ctrl-C reaches only the CLI, which then
 * forwards one signal; the role sees a second signal only when the user really pressed twice.
 * An IPC channel lets the role notice when the CLI dies and shut itself down.
 */
export function startRole(role: Role, env: NodeJS.ProcessEnv, stdio: 'inherit' | [number, number]): RoleProcess {
  const out = stdio === 'inherit' ? 'inherit' : stdio[0];
  const err = stdio === 'inherit' ? 'inherit' : stdio[1];
  const child = spawn(process.execPath, [roleEntry(role)], { env, stdio: ['ignore', out, err, 'ipc'], detached: true });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 1 : 1)));
    child.on('error', () => resolve(1));
  });
  return { role, child, exited };
}

/** Runs one role in the foreground until it exits, forwarding SIGINT, SIGTERM and SIGHUP. */
export async function runRoleInForeground(role: Role, env: NodeJS.ProcessEnv): Promise<number> {
  const proc = startRole(role, env, 'inherit');
  const forward = (signal: NodeJS.Signals) => proc.child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  try {
    return await proc.exited;
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, forward);
  }
}
