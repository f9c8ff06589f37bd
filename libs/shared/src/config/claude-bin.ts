import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../paths.js';

/**
 * The claude binary to run: REINS_CLAUDE_BIN, else the project's own pinned
 * node_modules/.bin/claude, else `claude` on PATH. Returns undefined when none is found.
 */
export function resolveClaudeBin(configured: string | undefined, envPath = process.env.PATH ?? ''): string | undefined {
  if (configured) return configured.includes('/') ? path.resolve(configured) : findOnPath(configured, envPath);
  const own = path.join(projectRoot, 'node_modules', '.bin', 'claude');
  if (isExecutable(own)) return own;
  return findOnPath('claude', envPath);
}

export function findOnPath(command: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
