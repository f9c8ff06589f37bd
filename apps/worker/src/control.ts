import { decodeControlMessage, type Logger } from '@reins/shared';
import type { RunningAgent } from './attempt/deps.js';
import { stopAgent } from './attempt/stop-agent.js';
import type { StopReason } from './attempt/watch.js';
import type { TmuxDriver } from './tmux/driver.js';

/**
 * Which running agents a control-channel message asks to stop, and why: a cancel stops every agent of its
 * run, a kill (the scheduler found the heartbeat missing) stops one job's agent. Pure.
 */
export function stopRequests(running: ReadonlyMap<string, Pick<RunningAgent, 'meta'>>, message: string): [jobId: string, reason: StopReason][] {
  const parsed = decodeControlMessage(message);
  if (!parsed) return [];
  const requests: [string, StopReason][] = [];
  for (const [jobId, agent] of running) {
    if (parsed.type === 'cancel' && agent.meta.runId === parsed.runId) requests.push([jobId, 'cancelled']);
    if (parsed.type === 'kill' && jobId === parsed.jobId) requests.push([jobId, 'killed']);
  }
  return requests;
}

/**
 * Self-fencing: a worker that lost Redis for longer than its lease may no longer own its jobs, so it
 * stops all its agents before another worker may start them again.
 */
export function fenceAgents(running: ReadonlyMap<string, RunningAgent>, tmux: TmuxDriver, stopGraceMs: number): void {
  for (const agent of running.values()) {
    agent.stop.abort('fenced' satisfies StopReason);
    void stopAgent(tmux, agent.meta.sessionName, agent.files, stopGraceMs);
  }
}

/** A tool hook of a watched agent: a tool starts (PreToolUse) or ended. */
export function noteToolHook(running: ReadonlyMap<string, Pick<RunningAgent, 'activity'>>, jobId: string, event: string | undefined): void {
  const activity = running.get(jobId)?.activity;
  if (!activity) return;
  activity.lastHookAt = Date.now();
  activity.inTool = event === 'PreToolUse';
}

/** Stops the agents a control message (cancel, kill) names. */
export function stopOnRequest(running: ReadonlyMap<string, RunningAgent>, message: string, logger: Logger): void {
  for (const [jobId, reason] of stopRequests(running, message)) {
    logger.info({ jobId, request: reason }, 'stopping agent on request');
    running.get(jobId)?.stop.abort(reason);
  }
}
