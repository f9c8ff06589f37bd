import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptFiles } from '../tmux/launcher.js';
import type { TmuxDriver } from '../tmux/driver.js';

/** The agent's pid, which is also its process group (the launcher starts it under setsid). */
export async function agentPid(files: AttemptFiles): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(files.pid, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether any live process is left in the group. Zombies do not count: `kill -0` on the group would count
 * orphans nobody has reaped yet (a container's PID 1 may never reap them), and the stop would wait in vain.
 */
function groupAlive(pgid: number): boolean {
  // No process at all in the group, zombies included, is the usual answer once an agent has exited and its
  // launcher reaped it: one syscall, where reading every /proc/<pid>/stat took ~5 ms at each attempt's end.
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // Its leader (pid = pgid, under setsid) alive and not a zombie answers yes from one file: a scan of /proc
  // with 1,000 agents running is thousands of reads, and a draining worker asks for each of its agents.
  if (liveInGroup(`/proc/${pgid}/stat`, pgid)) return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // kill found the group; without /proc a zombie cannot be told from a live process
  }
  return entries.some((entry) => /^\d+$/.test(entry) && liveInGroup(`/proc/${entry}/stat`, pgid));
}

/** Whether the process behind a /proc/<pid>/stat is in group `pgid` and not a zombie (false once it ended). */
function liveInGroup(statFile: string, pgid: number): boolean {
  try {
    const stat = readFileSync(statFile, 'latin1');
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(group) === pgid && state !== 'Z';
  } catch {
    return false; // the process ended while we looked
  }
}

/**
 * Stops an agent and everything it started, then its tmux session: SIGTERM to its process group, SIGKILL to
 * whatever is left after the grace period (a tool's child that ignores SIGTERM included). Returns once the
 * group is empty, so a caller that goes on to start another attempt never has two agents alive for one member.
 */
export async function stopAgent(tmux: TmuxDriver, sessionName: string, files: AttemptFiles, graceMs = 2_000): Promise<void> {
  const pgid = await agentPid(files);
  if (pgid !== undefined && groupAlive(pgid)) {
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pgid, sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pgid)) signal('SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (groupAlive(pgid) && Date.now() < killDeadline) await sleep(20);
  }
  await tmux.kill(sessionName);
}
