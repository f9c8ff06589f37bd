import { access, open, readFile } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isInit, isRateLimit, isResult, type RateLimitInfo, type ResultEvent, type StreamEvent } from '@reins/shared';
import { OutputReader, type OutputBatch } from '../claude/stream-reader.js';
import type { EndedAttempt } from '../claude/outcome.js';
import type { AttemptFiles } from '../tmux/launcher.js';
import type { TmuxDriver } from '../tmux/driver.js';
import { ExitWatch } from './exit-watch.js';
import { OutputCap } from './output-cap.js';
import { stopAgent } from './stop-agent.js';

/**
 * Why the worker stopped an agent before it ended by itself:
 * - cancelled: the run was cancelled
 * - shutdown:  the worker is draining; the job is handed back
 * - timeout:   the attempt's wall clock ran out
 * - hang:      no output and no tool activity for the idle timeout
 * - fenced:    the worker lost Redis for longer than its lease; it may no longer own the job
 * - killed:    the scheduler found the job's heartbeat missing and asked for the session to be killed
 * - auth:      the API refused the account's credentials; Claude Code would retry them for minutes
 * - budget:    the tokens of its member, run or day went over their cap
 */
export type StopReason = 'cancelled' | 'shutdown' | 'timeout' | 'hang' | 'fenced' | 'killed' | 'auth' | 'budget';

export interface AttemptWatch {
  tmux: TmuxDriver;
  sessionName: string;
  files: AttemptFiles;
  monitorIntervalMs: number;
  /** Aborting stops the agent; the reason must be a StopReason. */
  signal: AbortSignal;
  /** How long a stopped agent gets between SIGTERM and SIGKILL. */
  stopGraceMs: number;
  /** The cap of stdout.jsonl and stderr.log on disk (REINS_OUTPUT_MAX_BYTES). */
  outputMaxBytes: number;
  /**
   * Called every tick with what was read since the last one (maybe nothing; a bounded batch, see
   * OutputReader). It refreshes the heartbeat, reports, checkpoints, and may ask for the agent to be stopped.
   */
  onTick: (batch: OutputBatch) => Promise<StopReason | undefined>;
  onTickError: (error: unknown) => void;
  /** Every event read, before its tick: a batch keeps only the newest, and counting tokens needs them all. */
  onEvent?: (event: StreamEvent) => void;
}

export interface AttemptEnd extends EndedAttempt {
  stoppedBy: StopReason | undefined;
  sessionId: string | undefined;
  /** The last usage report of a subscription account (a rate_limit_event): a rejected window's reset time. */
  rateLimit?: RateLimitInfo;
  /** The last plain (not stream-json) lines the agent printed: the summary of an agent without a result line. */
  outputTail?: string;
  /** Why the worker stopped it, when the reason alone does not say (which budget, what was spent). */
  stopMessage?: string;
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

/** The end of a file, read from there: an agent's stderr may be as large as its cap. */
async function tail(file: string, maxBytes = 4_096): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.min(size, maxBytes));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size - buffer.length);
      // A hole (OutputCap) reads as zeros; a cut character at the start as U+FFFD.
      return buffer.subarray(0, bytesRead).toString('utf8').replace(/\0+/g, '');
    } finally {
      await handle.close();
    }
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
  const stdoutCap = new OutputCap(watch.files.stdout, watch.outputMaxBytes, watch.files.stdoutStart);
  const stderrCap = new OutputCap(watch.files.stderr, watch.outputMaxBytes);
  // An adopted agent's output is read from where the last worker's cut left it, not from a hole.
  reader.skipTo(await stdoutCap.load());
  // The agent's end wakes the loop at once; the tick stays for heartbeats and output.
  const exited = new ExitWatch(watch.files.exit);
  let result: ResultEvent | undefined;
  let rateLimit: RateLimitInfo | undefined;
  let sessionId: string | undefined;
  let stoppedBy: StopReason | undefined;
  const outputLines: string[] = [];

  const take = (event: StreamEvent) => {
    watch.onEvent?.(event);
    if (isInit(event)) sessionId = event.session_id;
    if (isResult(event)) result = event;
    if (isRateLimit(event)) rateLimit = event.rate_limit_info;
    if (event.type === 'output') {
      outputLines.push(event.text);
      if (outputLines.length > OUTPUT_TAIL_LINES) outputLines.shift();
    }
  };
  /** Both files back under their cap; the reader jumps past what was cut before it got there. */
  const cap = async () => {
    await stdoutCap.enforce().then((start) => reader.skipTo(start), watch.onTickError);
    await stderrCap.enforce().catch(watch.onTickError);
  };
  const finish = async (exitCode: number | null): Promise<AttemptEnd> => {
    // An agent the launcher stopped for its lapsed lease, or that self-fencing stopped, is fenced, not
    // crashed, however its end was seen (the exit watch at once, the session gone, a tick later).
    if (stoppedBy === undefined && watch.signal.aborted) stoppedBy = watch.signal.reason as StopReason;
    if (stoppedBy === undefined && exitCode !== 0 && (await leaseLapsed(watch.files))) stoppedBy = 'fenced';
    // The rest in bounded reads, each reported (and beating) like a tick, with the loop free in between.
    await cap();
    for (;;) {
      const batch = await reader.read(take, { final: true });
      if (batch.count > 0) await watch.onTick(batch).catch(watch.onTickError);
      if (!batch.more) break;
      await yieldToLoop();
    }
    return { result, exitCode, stderrTail: await tail(watch.files.stderr), stoppedBy, sessionId, ...(rateLimit ? { rateLimit } : {}), ...(outputLines.length ? { outputTail: outputLines.join('\n') } : {}) };
  };

  try {
    for (;;) {
      await cap();
      const batch = await reader.read(take, { size: stdoutCap.size });
      const exitCode = exited.mayHaveExited() ? await readExitCode(watch.files.exit) : undefined;
      if (exitCode !== undefined) {
        if (batch.count > 0) await watch.onTick(batch).catch(watch.onTickError);
        return await finish(exitCode);
      }
      let reason: StopReason | undefined;
      try {
        reason = await watch.onTick(batch);
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

/** Whether the launcher stopped the agent for its lapsed lease (or the deadline has passed): its worker lost Redis. */
async function leaseLapsed(files: Pick<AttemptFiles, 'lease' | 'leaseStopped'>): Promise<boolean> {
  if (
    await access(files.leaseStopped).then(
      () => true,
      () => false,
    )
  )
    return true;
  const deadline = Number((await readFile(files.lease, 'utf8').catch(() => '')).trim());
  return Number.isFinite(deadline) && deadline > 0 && Date.now() > deadline;
}
