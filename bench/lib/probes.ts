import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

const MIB = 1024 * 1024;
/** Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_S = 100;

/** A process's resident set (VmRSS in /proc/<pid>/status), in MiB; undefined once it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? (Number(match[1]) * 1024) / MIB : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used (user + system, from /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after its last ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Per command: calls and microseconds since the server started (or CONFIG RESETSTAT). */
export type CommandStats = Map<string, { calls: number; usec: number }>;

export async function commandStats(client: Redis): Promise<CommandStats> {
  const text = await client.info('commandstats');
  const stats: CommandStats = new Map();
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match) stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

export interface CommandDelta {
  calls: number;
  usec: number;
  /** Calls per command, busiest first. */
  byCommand: Record<string, number>;
}

/**
 * What the server ran between two snapshots, leaving out the bench's own INFO. Redis counts the commands
 * a Lua script runs (BullMQ's and reins' fencing scripts) as well as the EVALSHA that ran it.
 */
export function commandDelta(before: CommandStats, after: CommandStats, exclude: readonly string[] = ['info']): CommandDelta {
  let calls = 0;
  let usec = 0;
  const rows: [string, number][] = [];
  for (const [name, now] of after) {
    if (exclude.includes(name)) continue;
    const was = before.get(name) ?? { calls: 0, usec: 0 };
    const n = now.calls - was.calls;
    if (n <= 0) continue;
    calls += n;
    usec += now.usec - was.usec;
    rows.push([name, n]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  return { calls, usec, byCommand: Object.fromEntries(rows) };
}

export interface WindowReading {
  seconds: number;
  /** One delta per Redis server watched. */
  redis: CommandDelta[];
  /** Per process watched: RSS samples (MiB, one a second) and the share of one core it used. */
  processes: { pid: number; rssMiB: number[]; cpuPercent: number }[];
}

/**
 * Watches a quiet stretch of time: INFO commandstats on each server before and after, and each
 * process's RSS every second. The bench sends nothing else to those servers meanwhile.
 */
export async function measureWindow(options: { servers: readonly Redis[]; pids: readonly number[]; windowMs: number }): Promise<WindowReading> {
  const { servers, pids, windowMs } = options;
  const cpuBefore = pids.map((pid) => cpuSeconds(pid) ?? Number.NaN);
  const statsBefore = await Promise.all(servers.map(commandStats));
  const startedAt = Date.now();
  const rss: number[][] = pids.map(() => []);
  const deadline = startedAt + windowMs;
  for (;;) {
    pids.forEach((pid, i) => {
      const value = rssMiB(pid);
      if (value !== undefined) rss[i]!.push(value);
    });
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(1_000, left));
  }
  const statsAfter = await Promise.all(servers.map(commandStats));
  const seconds = (Date.now() - startedAt) / 1_000;
  return {
    seconds,
    redis: statsBefore.map((before, i) => commandDelta(before, statsAfter[i]!)),
    processes: pids.map((pid, i) => ({ pid, rssMiB: rss[i]!, cpuPercent: (100 * ((cpuSeconds(pid) ?? Number.NaN) - cpuBefore[i]!)) / seconds })),
  };
}
