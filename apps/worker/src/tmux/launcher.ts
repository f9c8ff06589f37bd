import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The program tmux starts for every agent. Its argv and environment come from NUL-separated files, so no
 * prompt, path or value is ever parsed as shell code, and long prompts do not hit tmux's command-size limit.
 *
 * - The agent runs under `setsid`, in a process group of its own, so stopping it stops everything it
 *   started (a tool's child processes too). `setsid` also ends `env`'s NAME=VALUE parsing, so a program
 *   path that contains "=" is run, not read as a variable.
 * - stdout goes straight to stdout.jsonl (complete once the agent has exited); the pane tails it, to watch.
 *   The worker keeps the file under REINS_OUTPUT_MAX_BYTES on disk by punching a hole over its oldest part
 *   (attempt/output-cap.ts): the `>>` descriptor appends on at the end, undisturbed, and the tail reads zeros
 *   where it lags behind the cut. Each round has a folder of its own, so no cut outlives its file.
 * - The exit code is written last, through a rename, so a reader that sees `exit` has the whole output.
 * - The lease: while its worker lives and reaches Redis, it keeps pushing a deadline (epoch ms) into
 *   `lease`. Past the deadline the agent is stopped. An agent never outlives its worker's claim on the job,
 *   even when the worker was killed with -9 and the tmux session lives on. The check uses bash builtins
 *   only (EPOCHREALTIME, read -t), so it costs no process per check.
 * - `times` records the agent's life as lines `start <epoch-ms>` (just before it is launched) and
 *   `stop <epoch-ms>` (once `wait` saw it end, or once stop_agent saw its whole group gone), so a reader
 *   can prove from the record, not by sampling, that two agents of one member never ran at once. A stop
 *   may be written twice (the lease check and the exit both see it end); the last one counts.
 */
export const LAUNCHER_SCRIPT = `#!/usr/bin/env bash
# reins agent launcher. Usage: launch.sh <attempt-dir> [grace-ms] [umask]
dir=$1
grace_ms=\${2:-2000}
[[ -n \${3:-} ]] && umask "$3"
mapfile -d '' -t argv < "$dir/argv"
mapfile -d '' -t envv < "$dir/env"
: > "$dir/stdout.jsonl"
stamp() { printf '%s %s\\n' "$1" "$(( \${EPOCHREALTIME/./} / 1000 ))" >> "$dir/times"; }
stamp start
env -i "\${envv[@]}" setsid -- "\${argv[@]}" >> "$dir/stdout.jsonl" 2>> "$dir/stderr.log" &
agent=$!
printf '%s\\n' "$agent" > "$dir/pid"

# Whether any live process is left in the agent's group. Zombies do not count: \`kill -0\` would count
# orphans that nobody has reaped yet (a container's PID 1 may never reap them).
group_alive() {
  local stat rest
  for stat in /proc/[0-9]*/stat; do
    read -r rest < "$stat" 2> /dev/null || continue
    rest=\${rest##*) }
    set -- $rest
    [[ $3 == "$agent" && $1 != Z ]] && return 0
  done
  return 1
}

# Stops the agent's whole process group: SIGTERM, then SIGKILL for whatever is left after the grace
# period (a tool's child that ignores SIGTERM included). Done only when the group is empty. The grace is
# counted on the clock, not in polls: on a loaded machine a poll (a scan of /proc) takes longer than its pause.
now_ms() { now=$(( \${EPOCHREALTIME/./} / 1000 )); }
stop_agent() {
  local limit
  kill -TERM -- "-$agent" 2> /dev/null
  now_ms; limit=$(( now + grace_ms ))
  while group_alive; do now_ms; (( now >= limit )) && break; read -rt 0.05 -u "$tick" _ || :; done
  group_alive || return 0
  kill -KILL -- "-$agent" 2> /dev/null
  now_ms; limit=$(( now + 5000 ))
  while group_alive; do now_ms; (( now >= limit )) && return 0; read -rt 0.02 -u "$tick" _ || :; done
}
exec {tick}<> <(:)
trap 'stop_agent; stamp stop; exit 129' HUP TERM INT

if [ -f "$dir/lease" ]; then
  (
    while kill -0 "$agent" 2> /dev/null; do
      deadline=''; read -r deadline < "$dir/lease"
      now_ms
      # An unreadable or non-numeric deadline is read again next time, never taken as expired.
      if [[ $deadline =~ ^[0-9]+$ ]] && (( now > deadline )); then
        printf 'reins: the worker lease expired at %s; stopping the agent\\n' "$deadline" >> "$dir/stderr.log"
        : > "$dir/lease-stopped"
        stop_agent
        stamp stop
        break
      fi
      read -rt 0.25 -u "$tick" _ || :
    done
  ) &
fi

tail -n +1 -f "$dir/stdout.jsonl" 2> /dev/null &
viewer=$!
wait "$agent"
code=$?
stamp stop
kill "$viewer" 2> /dev/null
printf '%s\\n' "$code" > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
`;

/** Quotes a value for sh, for the small scripts reins writes (never for prompts: those travel as argv). */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Written to a temporary file and renamed: workers sharing a data dir never run a half-written script. */
async function writeExecutable(file: string, text: string): Promise<string> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o755 });
  await chmod(tmp, 0o755);
  await rename(tmp, file);
  return file;
}

export interface InstalledBin {
  /** The launcher tmux runs for each agent. */
  launcher: string;
  /** `reins`, on the agent's PATH, for `reins checkpoint` inside an agent. */
  reins: string;
  /** The heartbeat hook Claude Code runs around each tool call. */
  hook: string;
}

/** Writes the worker's small programs into its bin folder (they name this Node and this checkout). */
export async function installBin(binDir: string, paths: { reinsCli: string; hookScript: string }): Promise<InstalledBin> {
  await mkdir(binDir, { recursive: true });
  const node = shQuote(process.execPath);
  return {
    launcher: await writeExecutable(path.join(binDir, 'launch.sh'), LAUNCHER_SCRIPT),
    reins: await writeExecutable(path.join(binDir, 'reins'), `#!/bin/sh\nexec ${node} ${shQuote(paths.reinsCli)} "$@"\n`),
    hook: await writeExecutable(path.join(binDir, 'reins-hook'), `#!/bin/sh\nexec ${node} ${shQuote(paths.hookScript)}\n`),
  };
}

export interface AttemptFiles {
  dir: string;
  /** What a restarted worker needs to adopt the session (AttemptMeta, as JSON). */
  meta: string;
  /** Deadline (epoch ms) past which the launcher stops the agent. */
  lease: string;
  /** Made by the launcher when it stopped the agent for a lapsed lease. */
  leaseStopped: string;
  stdout: string;
  /** Where the kept part of stdout.jsonl starts, once the worker cut it to its cap (attempt/output-cap.ts). */
  stdoutStart: string;
  stderr: string;
  exit: string;
  pid: string;
  /** The launcher's record of the agent's start and stop (see LAUNCHER_SCRIPT). */
  times: string;
}

export function attemptFiles(dir: string): AttemptFiles {
  return {
    dir,
    meta: path.join(dir, 'meta.json'),
    lease: path.join(dir, 'lease'),
    leaseStopped: path.join(dir, 'lease-stopped'),
    stdout: path.join(dir, 'stdout.jsonl'),
    stdoutStart: path.join(dir, 'stdout.start'),
    stderr: path.join(dir, 'stderr.log'),
    exit: path.join(dir, 'exit'),
    pid: path.join(dir, 'pid'),
    times: path.join(dir, 'times'),
  };
}

/** Writes argv and env for the launcher; env is readable by the owner only, as it may hold keys. */
export async function writeLaunchFiles(dir: string, argv: readonly string[], env: Record<string, string>): Promise<AttemptFiles> {
  await mkdir(dir, { recursive: true });
  const nul = (items: readonly string[]) => items.map((item) => `${item}\0`).join('');
  if (argv.some((a) => a.includes('\0'))) throw new Error('an argument contains a NUL byte');
  const envItems = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  if (envItems.some((e) => e.includes('\0'))) throw new Error('an environment value contains a NUL byte');
  await writeFile(path.join(dir, 'argv'), nul(argv), { mode: 0o600 });
  await writeFile(path.join(dir, 'env'), nul(envItems), { mode: 0o600 });
  return attemptFiles(dir);
}
