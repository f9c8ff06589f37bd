import { readFile } from 'node:fs/promises';
import { isInit, isResult, type ResultEvent, type StreamEvent } from '@reins/shared';
import { OutputReader } from '../claude/stream-reader.js';
import type { EndedAttempt } from '../claude/outcome.js';
import type { AttemptFiles } from '../tmux/launcher.js';
import type { TmuxDriver } from '../tmux/driver.js';
import { ExitWatch } from './exit-watch.js';
import { stopAgent } from './stop-agent.js';

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
  /** The last plain (not stream-json) lines the agent printed: the summary of an agent without a result line. */
  outputTail?: string;
}

/** How many of the last plain output lines make a summary. */
const OUTPUT_TAIL_LINES = 5;

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

/**
 * Watches one agent in its tmux session until it ends. Every tick it reads the new output and hands it to
 * onTick; it ends when the launcher wrote the exit file (seen at once through ExitWatch, or at the next
 * tick), when the session vanished, or after it stopped the agent for a reason of its own.
 */
export async function watchAttempt(watch: AttemptWatch): Promise<AttemptEnd> {
  const reader = new OutputReader(watch.files.stdout);
  // The agent's end wakes the loop at once; the tick stays for heartbeats and output.
  const exited = new ExitWatch(watch.files.exit);
  let result: ResultEvent | undefined;
  let sessionId: string | undefined;
  let stoppedBy: StopReason | undefined;
  const outputLines: string[] = [];

  const take = (events: StreamEvent[]) => {
    for (const event of events) {
      if (isInit(event)) sessionId = event.session_id;
      if (isResult(event)) result = event;
      if (event.type === 'output') {
        outputLines.push(event.text);
        if (outputLines.length > OUTPUT_TAIL_LINES) outputLines.shift();
      }
    }
  };
  const finish = async (exitCode: number | null): Promise<AttemptEnd> => {
    const rest = await reader.readRest();
    take(rest);
    if (rest.length > 0) await watch.onTick(rest).catch(watch.onTickError);
    return { result, exitCode, stderrTail: await tail(watch.files.stderr), stoppedBy, sessionId, ...(outputLines.length ? { outputTail: outputLines.join('\n') } : {}) };
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
      await exited.sleep(watch.monitorIntervalMs, watch.signal);
    }
  } finally {
    exited.close();
    await reader.close();
  }
}
