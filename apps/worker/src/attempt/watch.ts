import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isInit, isResult, type ResultEvent, type StreamEvent } from '@reins/shared';
import { OutputReader } from './agent/output-reader.js';
import type { EndedAttempt } from './agent/outcome.js';
import type { AttemptFiles } from './tmux/launcher.js';
import type { TmuxDriver } from './tmux/driver.js';

/**
 * Why the worker stopped an agent before it ended by itself:
 * - cancelled: the run was cancelled
 * - shutdown:  the worker is draining; the job is handed back
 * - timeout:   the attempt's wall clock ran out
 * - hang:      no output and no tool activity for the idle timeout
 * - fenced:    the worker lost Redis for longer than its lease; it may no longer own the job
 * - killed:    the scheduler found the job's heartbeat missing and asked for the session to be killed
 */
export type StopReason = 'cancelled' | 'shutdown' | 'timeout' | 'hang' | 'fenced' | 'killed';

export interface AttemptWatch {
  tmux: TmuxDriver;
  sessionName: string;
  files: AttemptFiles;
  monitorIntervalMs: number;
  /** Aborting stops the agent; the reason must be a StopReason. */
  signal: AbortSignal;
  /** How long a stopped agent gets between SIGTERM and SIGKILL. */
  stopGraceMs: number;
  /**
   * Called every tick with the events that arrived since the last one (maybe none). It refreshes the
   * heartbeat, reports, checkpoints, and may ask for the agent to be stopped.
   */
  onTick: (events: StreamEvent[]) => Promise<StopReason | undefined>;
  onTickError: (error: unknown) => void;
}

export interface AttemptEnd extends EndedAttempt {
  stoppedBy: StopReason | undefined;
  sessionId: string | undefined;
}

async function readExitCode(file: string): Promise<number | undefined> {
  try {
    const code = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isFinite(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

async function tail(file: string, maxBytes = 4_096): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).slice(-maxBytes);
  } catch {
    return '';
  }
}

/** The agent's pid, which is also its process group (the launcher starts it under setsid). */
export async function agentPid(files: AttemptFiles): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(files.pid, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether any live process is left in the group. Zombies do not count: `kill -0` on the group would count
 * orphans nobody has reaped yet (a container's PID 1 may never reap them), and the stop would wait in vain.
 */
function groupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(group) === pgid && state !== 'Z') return true;
    } catch {
      // the process ended while we looked
    }
  }
  return false;
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

/**
 * Watches one agent in its tmux session until it ends. Every tick it reads the new output and hands it to
 * onTick; it ends when the launcher wrote the exit file, when the session vanished, or after it stopped
 * the agent for a reason of its own.
 */
export async function watchAttempt(watch: AttemptWatch): Promise<AttemptEnd> {
  const reader = new OutputReader(watch.files.stdout);
  let result: ResultEvent | undefined;
  let sessionId: string | undefined;
  let stoppedBy: StopReason | undefined;

  const take = (events: StreamEvent[]) => {
    for (const event of events) {
      if (isInit(event)) sessionId = event.session_id;
      if (isResult(event)) result = event;
    }
  };
  const finish = async (exitCode: number | null): Promise<AttemptEnd> => {
    const rest = await reader.readRest();
    take(rest);
    if (rest.length > 0) await watch.onTick(rest).catch(watch.onTickError);
    return { result, exitCode, stderrTail: await tail(watch.files.stderr), stoppedBy, sessionId };
  };

  try {
    for (;;) {
      const events = await reader.readNew();
      take(events);
      const exitCode = await readExitCode(watch.files.exit);
      if (exitCode !== undefined) {
        if (events.length > 0) await watch.onTick(events).catch(watch.onTickError);
        return await finish(exitCode);
      }
      let reason: StopReason | undefined;
      try {
        reason = await watch.onTick(events);
      } catch (error) {
        watch.onTickError(error);
      }
      if (stoppedBy === undefined && watch.signal.aborted) stoppedBy = watch.signal.reason as StopReason;
      if (stoppedBy === undefined && reason !== undefined) stoppedBy = reason;
      if (stoppedBy !== undefined) {
        await stopAgent(watch.tmux, watch.sessionName, watch.files, watch.stopGraceMs);
        return await finish((await readExitCode(watch.files.exit)) ?? null);
      }
      if (!(await watch.tmux.has(watch.sessionName))) {
        // The launcher writes the exit file as its last act; a session gone without it was killed.
        return await finish((await readExitCode(watch.files.exit)) ?? null);
      }
      await sleep(watch.monitorIntervalMs, undefined, { signal: watch.signal }).catch(() => undefined);
    }
  } finally {
    await reader.close();
  }
}
