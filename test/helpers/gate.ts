import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './chaos.js';

/**
 * Agents that end when the test says so. A gate is a file the test creates once it has seen what it
 * came to see; until then the agent runs, however slow the machine is. No agent sleeps a fixed time.
 */

/** Polls for `gate`, then runs `then` (JavaScript, default: exit 0). The gate travels as argv, never as code. */
export function gatedNodeAgent(gate: string, then = 'process.exit(0)'): { kind: 'command'; argv: string[] } {
  const script = `const fs=require('fs');const gate=process.argv[1];const t=setInterval(()=>{if(fs.existsSync(gate)){clearInterval(t);${then}}},25)`;
  return { kind: 'command', argv: [process.execPath, '-e', script, gate] };
}

/** A shell command for a Bash tool call or an sh agent: returns once `gate` exists. */
export function waitForGateSh(gate: string): string {
  return `while [ ! -e '${gate.replace(/'/g, `'\\''`)}' ]; do sleep 0.05; done`;
}

/** An agent that runs until it is killed: for limits, hangs and cancels, where outliving them is the point. */
export const blockingAgent = { kind: 'command', argv: [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'] } as const;

/**
 * An agent whose first attempt writes its epoch to `startedFile` and then works until it is stopped (a worker
 * killed, an outage), while any later attempt finishes at once, saying which attempt it was.
 */
export function firstAttemptBlocksAgent(startedFile: string): { kind: 'command'; argv: string[] } {
  const script = `const fs = require('node:fs');
   if (Number(process.env.REINS_ATTEMPT) > 1) { console.log('finished on attempt ' + process.env.REINS_ATTEMPT); process.exit(0); }
   fs.writeFileSync(process.argv[1], process.env.REINS_EPOCH);
   setInterval(() => undefined, 1000);`;
  return { kind: 'command', argv: [process.execPath, '-e', script, startedFile] };
}

export function openGate(gate: string): void {
  writeFileSync(gate, '');
}

/** Live processes (not zombies) whose environment names the run: the CLI and everything its tools started. */
export function processesOfRun(runId: string): string[] {
  const marker = `REINS_RUN_ID=${runId}`;
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) continue;
      found.push(`${entry} ${readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim().slice(0, 160)}`);
    } catch {
      // it ended while we looked
    }
  }
  return found;
}

/** Whether a process runs the gate loop of `gate`: the Bash tool is inside its call. */
export function toolWaitsOn(gate: string): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(gate)) return true;
    } catch {
      // it ended while we looked
    }
  }
  return false;
}

/**
 * Holds a Bash tool call that waits on `gate` for `ms` from when the test first sees it waiting (the duration
 * is the point: it outlasts an idle timeout), then opens the gate. Throws if the call ended before.
 */
export async function holdToolCall(gate: string, ms: number): Promise<void> {
  await waitFor(() => toolWaitsOn(gate), 'the slow step to run');
  const startedAt = Date.now();
  await waitFor(() => Date.now() > startedAt + ms, `${ms} ms inside the slow step`);
  if (!toolWaitsOn(gate)) throw new Error(`the tool call waiting on ${gate} ended before the test opened its gate`);
  openGate(gate);
}

export interface AgentInterval {
  attemptDir: string;
  startMs: number;
  /** Undefined when the launcher never recorded a stop: the agent may still be running. */
  stopMs: number | undefined;
}

/**
 * The start and stop of every agent one member ran, from the launcher's `times` record in each attempt
 * dir (`<dataDir>/runs/<runId>/<member>/e*`, over every data dir given: hosts may have their own), sorted
 * by start. The first start and the last stop count.
 */
export function agentIntervals(dataDirs: string | readonly string[], runId: string, member: string): AgentInterval[] {
  const dirs = (typeof dataDirs === 'string' ? [dataDirs] : dataDirs).flatMap((dataDir) => {
    const memberDir = path.join(dataDir, 'runs', runId, member);
    return existsSync(memberDir)
      ? readdirSync(memberDir)
          .filter((d) => /^e\d+/.test(d))
          .map((d) => path.join(memberDir, d))
      : [];
  });
  const intervals = dirs.flatMap((attemptDir): AgentInterval[] => {
    const file = path.join(attemptDir, 'times');
    if (!existsSync(file)) return []; // the attempt never got as far as launching its agent
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    const starts = lines.filter(([what]) => what === 'start').map(([, at]) => Number(at));
    const stops = lines.filter(([what]) => what === 'stop').map(([, at]) => Number(at));
    if (starts.length === 0) throw new Error(`${file} has no start line:\n${lines.join('\n')}`);
    return [{ attemptDir, startMs: Math.min(...starts), stopMs: stops.length > 0 ? Math.max(...stops) : undefined }];
  });
  return intervals.sort((a, b) => a.startMs - b.startMs);
}

/**
 * Pairs of one member's agents whose lives overlapped (an agent with no recorded stop overlaps every
 * later one). Empty when no two of its agents ever ran at once.
 */
export function overlappingAgents(intervals: readonly AgentInterval[]): string[] {
  const overlaps: string[] = [];
  const show = (a: AgentInterval) => `${path.basename(a.attemptDir)} [${a.startMs}, ${a.stopMs ?? 'never stopped'}]`;
  // Sorted by start, each agent must start at or after the latest stop of all the agents before it.
  let latest: AgentInterval | undefined;
  for (const next of intervals) {
    if (latest && (latest.stopMs === undefined || next.startMs < latest.stopMs)) overlaps.push(`${show(latest)} overlaps ${show(next)}`);
    // An agent that never stopped stays the latest: it overlaps everything after it.
    const stopsLater = !latest || (latest.stopMs !== undefined && (next.stopMs === undefined || next.stopMs > latest.stopMs));
    if (stopsLater) latest = next;
  }
  return overlaps;
}
