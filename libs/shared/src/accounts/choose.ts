import type { AccountState } from './account-state.js';

/** What a worker knows of one account it may start an agent under. */
export interface Candidate {
  state: AccountState;
  /** Agents running under it fleet-wide now. */
  running: number;
  /** Its fleet-wide cap on agents (the accounts file's `max`), if any. */
  max: number | undefined;
}

/**
 * Which account an agent starts under:
 * - use:  this one (the lowest utilization among those with room, preferring any under the warning threshold)
 * - wait: none has room now; try again at untilMs (the earliest reset of a pause, or a tick for a free slot)
 * - none: every account it may use is broken (an auth failure): nothing to wait for
 */
export type Choice = { kind: 'use'; name: string } | { kind: 'wait'; untilMs: number | undefined; reason: string } | { kind: 'none'; reason: string };

/** The window with the highest utilization: what a choice by headroom compares. */
export const utilizationOf = (state: AccountState): number => Math.max(0, ...Object.values(state.windows).map((w) => w.utilization ?? 0));

/** When the account's pause ends (epoch ms), or undefined when it takes agents now. */
export function pausedUntil(state: AccountState, now: number): number | undefined {
  const until = state.pausedUntil;
  return until !== undefined && until > now ? until : undefined;
}

/**
 * Chooses among the accounts a member may use and its worker holds. Pure: the worker reads the states and
 * counts, and takes the chosen account's slot (which may still be lost to a race: then it asks again).
 */
export function chooseAccount(candidates: readonly Candidate[], now: number, warnAt: number): Choice {
  if (candidates.length === 0) return { kind: 'none', reason: 'no account' };
  const working = candidates.filter((c) => !c.state.broken);
  if (working.length === 0) {
    return { kind: 'none', reason: candidates.map((c) => `${c.state.name} is broken (${c.state.broken!.message})`).join('; ') };
  }
  const unpaused = working.filter((c) => pausedUntil(c.state, now) === undefined);
  if (unpaused.length === 0) {
    const until = Math.min(...working.map((c) => pausedUntil(c.state, now)!));
    const paused = working.map((c) => `${c.state.name} until ${new Date(pausedUntil(c.state, now)!).toISOString()}`).join(', ');
    return { kind: 'wait', untilMs: until, reason: `every account it may use is paused by a usage limit: ${paused}` };
  }
  const open = unpaused.filter((c) => c.max === undefined || c.running < c.max);
  if (open.length === 0) {
    return { kind: 'wait', untilMs: undefined, reason: `every account it may use is at its cap of agents: ${unpaused.map((c) => `${c.state.name} ${c.running}/${c.max}`).join(', ')}` };
  }
  // Above the warning threshold an account takes no new agent while another has room.
  const fresh = open.filter((c) => utilizationOf(c.state) < warnAt);
  const pool = fresh.length > 0 ? fresh : open;
  const best = pool.reduce((a, b) => (utilizationOf(b.state) < utilizationOf(a.state) || (utilizationOf(b.state) === utilizationOf(a.state) && b.running < a.running) ? b : a));
  return { kind: 'use', name: best.state.name };
}
