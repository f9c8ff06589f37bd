import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import { describeEvent, type AgentJobData, type ApiRetryEvent, type AttemptMeta, type StreamEvent } from '@reins/shared';
import type { OutputBatch } from '../claude/stream-reader.js';
import { renewLease } from '../heartbeat.js';
import { attemptFiles, type AttemptFiles } from '../tmux/launcher.js';
import { AccountWatch } from './account.js';
import { Checkpointer } from './checkpointer.js';
import { limitFor, sessionIndexDir, tokenCaps, type AgentActivity, type AttemptDeps } from './deps.js';
import { TokenMeter } from './token-meter.js';
import { agentPid, stopAgent } from './stop-agent.js';
import { watchAttempt, type AttemptEnd, type StopReason } from './watch.js';

export type { AgentActivity } from './deps.js';

/**
 * Whether the agent must be stopped now: past its wall clock, or idle (no output and no tool activity)
 * for longer than the idle timeout. A tool between its hook pings is working, however long it takes: a
 * long build is not a hang. The wall clock still bounds it. Pure.
 */
export function limitReached(activity: AgentActivity, limits: { timeoutMs: number | undefined; idleTimeoutMs: number }, now: number): StopReason | undefined {
  if (limits.timeoutMs !== undefined && now - activity.startedAt > limits.timeoutMs) return 'timeout';
  if (!activity.inTool && now - Math.max(activity.lastEventAt, activity.lastHookAt) > limits.idleTimeoutMs) return 'hang';
  return undefined;
}

export type MonitoredEnd = AttemptEnd & {
  numTurns: number;
  /** The round's tokens (the result line's figure when it printed one). */
  tokens: number;
  /** The member's tokens over all its attempts once this round was counted; undefined when none were counted. */
  memberTokens?: number;
};

/**
 * Watches the agent until it ends. Every tick: heartbeat and lease (fencing), the lock of an adopted job,
 * the concurrency slot, events to the member's stream, its tokens (counted fleet-wide, stopped over a cap),
 * the wall clock and idle watchdog, and checkpoints.
 * When it ends, the final checkpoint is taken and the session, slot and index entry are given up.
 */
export async function monitorAgent(deps: AttemptDeps, job: Job, meta: AttemptMeta, data: AgentJobData, mode: { adopted: boolean }): Promise<MonitoredEnd> {
  const { config, logger } = deps;
  const files = attemptFiles(meta.attemptDir);
  const stop = new AbortController();
  const activity: AgentActivity = { startedAt: meta.startedAt, lastEventAt: Math.max(meta.startedAt, deps.now()), lastHookAt: 0, inTool: false };
  deps.running.set(meta.jobId, { meta, stop, files, activity });
  // Served from launch on; an adopted agent's socket is served again by this process.
  if (meta.channel) await deps.sockets.listen({ ...meta, channel: meta.channel });
  const checkpointer = new Checkpointer(deps.store, { ...meta, as: deps.agentUser, base: data.baseCommit }, config.transcriptMaxBytes);
  checkpointer.lastAt = meta.startedAt;
  const limits = { timeoutMs: data.limits.timeoutMs, idleTimeoutMs: data.limits.idleTimeoutMs ?? config.idleTimeoutMs };
  const counts = { numTurns: 0, events: 0 };
  const meter = new TokenMeter(deps, meta, tokenCaps(config, data));
  let stopMessage: string | undefined;
  let pid: number | undefined;
  let lastTickWarning = 0;
  let lastBeatAt = Number.NEGATIVE_INFINITY;
  const limit = limitFor(config, data);
  const account = new AccountWatch(
    deps,
    meta.jobId,
    deps.accounts.held.find((a) => a.name === meta.account),
  );
  try {
    const end = await watchAttempt({
      tmux: deps.tmux,
      sessionName: meta.sessionName,
      files,
      monitorIntervalMs: config.monitorIntervalMs,
      signal: stop.signal,
      stopGraceMs: deps.timings.stopGraceMs,
      outputMaxBytes: config.outputMaxBytes,
      onEvent: (event) => meter.add(event),
      onTickError: (error) => {
        if (deps.now() - lastTickWarning > 5_000) logger.warn({ err: error, jobId: meta.jobId }, 'monitor tick failed');
        lastTickWarning = deps.now();
      },
      onTick: async (batch) => {
        const now = deps.now();
        if (batch.count > 0) {
          activity.lastEventAt = now;
          counts.events += batch.count;
          counts.numTurns += batch.turns;
        }
        pid ??= await agentPid(files);
        // Every beatIntervalMs (half a tick early, so a tick's jitter never skips one); a failed beat is tried next tick.
        if (now - lastBeatAt >= deps.timings.beatIntervalMs - deps.timings.monitorIntervalMs / 2) {
          await beat(deps, meta, files, pid);
          lastBeatAt = now;
        }
        if (mode.adopted && (await job.extendLock(meta.token, config.heartbeatTtlMs)) !== 1) return 'fenced';
        // The slot is a lease renewed with the heartbeat: a dead worker's slot frees itself.
        if (limit?.max !== undefined) await deps.limits.acquire(limit.key, meta.jobId, limit.max);
        if (batch.count > 0) await report(deps, job, meta, batch, counts.events);
        await account.tick(batch.events);
        // Claude Code retries refused credentials for minutes: the account is broken now, and the member moves on.
        if (batch.events.some(refusedCredentials)) return 'auth';
        const overBudget = await meter.count();
        if (overBudget) {
          stopMessage ??= overBudget;
          return 'budget';
        }
        const reason = limitReached(activity, limits, now);
        if (reason) return reason;
        if (now - checkpointer.lastAt >= config.checkpointIntervalMs) await checkpointer.take(counts.numTurns, now);
        return undefined;
      },
    });
    // The latest state goes into the cursor before anyone hears how the attempt ended.
    if (end.stoppedBy !== 'fenced' && !(end.result && !end.result.is_error)) {
      await checkpointer.take(counts.numTurns).catch((error: unknown) => logger.warn({ err: error }, 'final checkpoint failed'));
    }
    // What the last reads brought (the result line's final figure among them) is counted before anyone hears of the end.
    await meter.count().catch((error: unknown) => logger.warn({ err: error }, 'counting the last tokens failed'));
    return {
      ...end,
      numTurns: counts.numTurns,
      tokens: meter.tokens,
      ...(meter.spent ? { memberTokens: meter.spent.member } : {}),
      ...(end.stoppedBy === 'budget' && stopMessage ? { stopMessage } : {}),
    };
  } finally {
    // Still counted as running until its processes and session are gone: a draining worker waits for that.
    await stopAgent(deps.tmux, meta.sessionName, files, deps.timings.stopGraceMs).catch(() => undefined);
    deps.running.delete(meta.jobId);
    await deps.sockets.close(meta.jobId);
    if (limit?.max !== undefined) await deps.limits.release(limit.key, meta.jobId).catch(() => undefined);
    await rm(path.join(sessionIndexDir(deps), meta.sessionName), { force: true });
  }
}

/** An API retry for refused credentials (401 or 403): retrying them does not help. */
const refusedCredentials = (event: StreamEvent): boolean =>
  event.type === 'system' && 'subtype' in event && event.subtype === 'api_retry' && ((event as ApiRetryEvent).error === 'authentication_failed' || [401, 403].includes((event as ApiRetryEvent).error_status ?? 0));

/** Refreshes the heartbeat, then the launcher's lease. (What the tool hooks say reaches `activity` through the agent's socket.) */
async function beat(deps: AttemptDeps, meta: AttemptMeta, files: AttemptFiles, pid: number | undefined): Promise<void> {
  // The lease counts from when the beat was sent: Redis starts its TTL no earlier than that.
  const sentAt = deps.now();
  await deps.heartbeats.beat(meta.jobId, { ...deps.worker, attempt: meta.attempt, epoch: meta.epoch, pid });
  deps.redisAnswered(sentAt);
  await renewLease(files.lease, sentAt + deps.timings.fenceAfterMs);
}

/** Job log lines a tick writes at most; the job keeps its last KEEP_JOB_LOG_LINES (libs/shared queues.ts). */
const JOB_LOG_LINES_PER_TICK = 20;

/**
 * One round of reporting: readable lines to the member's event stream and the job log, figures to progress.
 * Bounded per tick: the batch holds only its newest events (the rest are counted, and said to be left out),
 * and the streams keep their newest entries (RunStore.appendEvents).
 */
async function report(deps: AttemptDeps, job: Job, meta: AttemptMeta, batch: OutputBatch, eventCount: number): Promise<void> {
  const now = deps.now();
  const { events } = batch;
  const lines = events.flatMap(describeEvent).slice(-events.length);
  const left = batch.count - events.length;
  if (left > 0) lines.unshift({ kind: 'output', text: `reins: ${left} of ${batch.count} events read in this tick are left out (only the newest ${events.length} are stored)` });
  const raw = events.map((e) => (e.type === 'output' ? e.text : JSON.stringify(e.type === 'other' ? e.raw : e)));
  await deps.store.appendEvents(
    meta.runId,
    meta.member,
    lines.map((l) => ({ at: now, kind: l.kind, text: l.text })),
    raw,
  );
  for (const line of lines.slice(-JOB_LOG_LINES_PER_TICK)) await job.log(`${line.kind}: ${line.text}`);
  const last = lines.at(-1);
  await job.updateProgress({ attempt: meta.attempt, events: eventCount, lastEventAt: now, ...(last ? { lastEvent: `${last.kind}: ${last.text}` } : {}) });
}
