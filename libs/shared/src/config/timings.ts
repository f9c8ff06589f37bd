/**
 * The safety nets' timings, derived from the heartbeat TTL and the monitor tick. One place computes them,
 * so the worker that uses them and the configuration check that guards them cannot disagree.
 */

/** How often the launcher reads its lease (see the worker's tmux/launcher.ts). */
export const LEASE_CHECK_MS = 250;

/** Between SIGTERM and SIGKILL for a stopped agent: a quarter of the heartbeat TTL, at most 2 s. */
export const stopGraceMs = (heartbeatTtlMs: number): number => Math.min(2_000, Math.floor(heartbeatTtlMs / 4));

/**
 * How long after a heartbeat was sent its agent may live without another: the launcher stops it then (the
 * lease), and the worker stops all its agents after that long without Redis (self-fencing). It leaves room,
 * before the heartbeat expires, for one tick, the launcher's check and the stop grace, so the agent is gone
 * before any other attempt may start.
 */
export function fenceAfterMs(heartbeatTtlMs: number, monitorIntervalMs: number): number {
  return Math.max(Math.floor(heartbeatTtlMs / 4), heartbeatTtlMs - monitorIntervalMs - LEASE_CHECK_MS - stopGraceMs(heartbeatTtlMs));
}

/**
 * How often a running agent's heartbeat (and with it the launcher's lease) is refreshed: every tick while
 * the lease is short, else every few ticks, at most half the lease apart. Each beat anchors the lease, so an
 * agent whose beats stop is still stopped before its heartbeat expires; a beat that fails is tried again at
 * the next tick. With the defaults (TTL 30 s, tick 5 s, lease 22.75 s) it is every other tick: 0.1 Redis
 * commands a second per agent instead of 0.2.
 */
export function beatIntervalMs(heartbeatTtlMs: number, monitorIntervalMs: number): number {
  return monitorIntervalMs * Math.max(1, Math.floor(fenceAfterMs(heartbeatTtlMs, monitorIntervalMs) / (2 * monitorIntervalMs)));
}

/**
 * The lease is renewed every tick, so it must outlast one: otherwise every agent is stopped about a second
 * after it starts, attempt after attempt (seen with a 4 s TTL and the default 5 s tick).
 */
export const timingsWork = (heartbeatTtlMs: number, monitorIntervalMs: number): boolean => fenceAfterMs(heartbeatTtlMs, monitorIntervalMs) > monitorIntervalMs;

/** The smallest heartbeat TTL that works with this tick (the lease grows with the TTL, so a search finds it). */
export function smallestWorkingTtlMs(monitorIntervalMs: number): number {
  let low = 1;
  let high = 4 * (monitorIntervalMs + 1);
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (timingsWork(mid, monitorIntervalMs)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * How often BullMQ renews a job's lock: its lock manager looks every half of this and renews locks older than
 * that half. BullMQ's default (half the lock) renews a 30 s lock every 7.5 s, three commands a job each time;
 * renewing it every 20 s still leaves 10 s before it would expire. Short locks (tests) keep the default.
 */
export const lockRenewTimeMs = (lockMs: number): number => Math.max(lockMs / 2, Math.min((lockMs * 2) / 3, lockMs - 10_000));
