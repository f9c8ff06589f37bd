import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The program tmux starts for every agent. The agent's argv and environment come from NUL-separated
 * files, so no prompt, path or value is ever parsed as shell code, and long prompts do not hit tmux's
 * command-size limit. stdout goes to the pane (to watch) and to a log (to parse), stderr to its own log; the exit code is
 * written last, after the pipeline has drained, so a reader that sees `exit` has the whole log.
 */
export const LAUNCHER_SCRIPT = `#!/usr/bin/env bash
# reins agent launcher. Usage: launch.sh <attempt-dir>
dir=$1
mapfile -d '' -t argv < "$dir/argv"
mapfile -d '' -t envv < "$dir/env"
printf '%s\\n' "$$" > "$dir/pid"
env -i "\${envv[@]}" "\${argv[@]}" 2>> "$dir/stderr.log" | tee -a "$dir/stdout.jsonl"
code=\${PIPESTATUS[0]}
printf '%s\\n' "$code" > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
`;

export async function installLauncher(binDir: string): Promise<string> {
  await mkdir(binDir, { recursive: true });
  const file = path.join(binDir, 'launch.sh');
  await writeFile(file, LAUNCHER_SCRIPT, { mode: 0o755 });
  await chmod(file, 0o755);
  return file;
}

export interface AttemptFiles {
  dir: string;
  stdout: string;
  stderr: string;
  exit: string;
  pid: string;
}

export function attemptFiles(dir: string): AttemptFiles {
  return {
    dir,
    stdout: path.join(dir, 'stdout.jsonl'),
    stderr: path.join(dir, 'stderr.log'),
    exit: path.join(dir, 'exit'),
    pid: path.join(dir, 'pid'),
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
