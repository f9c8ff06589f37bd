import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isInit, isResult, type ResultEvent, type StreamEvent } from '@reins/shared';
import { OutputReader } from './agent/output-reader.js';
import type { EndedAttempt } from './agent/outcome.js';
import type { AttemptFiles } from './tmux/launcher.js';
import type { TmuxDriver } from './tmux/driver.js';

/** Why the worker stopped an agent before it ended by itself. */
export type StopReason = 'cancelled' | 'shutdown' | 'timeout';

export interface AttemptWatch {
  tmux: TmuxDriver;
  sessionName: string;
  files: AttemptFiles;
  monitorIntervalMs: number;
  /** Wall clock for this attempt; past it the session is killed. */
  timeoutMs: number | undefined;
  /** Aborting kills the session; the reason must be a StopReason. */
  signal: AbortSignal;
  /** Called every tick with the events that arrived since the last one. */
  onEvents: (events: StreamEvent[]) => Promise<void>;
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
    const text = await readFile(file, 'utf8');
    return text.slice(-maxBytes);
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
 * Stops an agent and everything it started, then its tmux session. Returns once the agent's process is
 * gone, so a caller that goes on to start another attempt never has two agents alive for one member.
 */
export async function stopAgent(tmux: TmuxDriver, sessionName: string, files: AttemptFiles, graceMs = 2_000): Promise<void> {
  const pid = await agentPid(files);
  if (pid !== undefined && isAlive(pid)) {
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(pid)) signal('SIGKILL');
    while (isAlive(pid)) await sleep(20);
  }
  await tmux.kill(sessionName);
}

/**
 * Watches one agent in its tmux session until it ends: every tick it reads the new output, hands the events
 * on, and checks for the exit file, a vanished session, the wall clock and a stop request.
 */
export async function watchAttempt(watch: AttemptWatch): Promise<AttemptEnd> {
  const reader = new OutputReader(watch.files.stdout);
  const startedAt = Date.now();
  let result: ResultEvent | undefined;
  let sessionId: string | undefined;
  let stoppedBy: StopReason | undefined;

  const take = async (events: StreamEvent[]) => {
    for (const event of events) {
      if (isInit(event)) sessionId = event.session_id;
      if (isResult(event)) result = event;
    }
    if (events.length > 0) await watch.onEvents(events);
  };

  try {
    for (;;) {
      await take(await reader.readNew());
      const exitCode = await readExitCode(watch.files.exit);
      if (exitCode !== undefined) {
        await take(await reader.readRest());
        return { result, exitCode, stderrTail: await tail(watch.files.stderr), stoppedBy, sessionId };
      }
      if (stoppedBy === undefined && watch.signal.aborted) stoppedBy = watch.signal.reason as StopReason;
      if (stoppedBy === undefined && watch.timeoutMs !== undefined && Date.now() - startedAt > watch.timeoutMs) stoppedBy = 'timeout';
      if (stoppedBy !== undefined) await stopAgent(watch.tmux, watch.sessionName, watch.files);
      if (!(await watch.tmux.has(watch.sessionName))) {
        // The launcher writes the exit file as its last act; a session that is gone without it was killed.
        const lateExit = await readExitCode(watch.files.exit);
        await take(await reader.readRest());
        return { result, exitCode: lateExit ?? null, stderrTail: await tail(watch.files.stderr), stoppedBy, sessionId };
      }
      await sleep(watch.monitorIntervalMs, undefined, { signal: watch.signal }).catch(() => undefined);
    }
  } finally {
    await reader.close();
  }
}
