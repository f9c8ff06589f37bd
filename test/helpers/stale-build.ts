import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Projects (the root tsconfig's references) whose compiled dist/ is older than their src/, one line each.
 * Tests spawn dist/, so a run after editing src/ without building would test yesterday's code.
 *
 * Each project's dist/.tsbuildinfo is compared with its newest src/ .ts file rather than each .js with its .ts:
 * `tsc -b` leaves a .js alone when its source was only touched (a checkout, a rebase) but always rewrites the
 * build info, so per-file times would call a fresh build stale.
 */
export function staleBuilds(repoRoot: string): string[] {
  const stale: string[] = [];
  for (const project of projectDirs(repoRoot)) {
    const buildInfo = path.join(repoRoot, project, 'dist', '.tsbuildinfo');
    const newest = newestSource(path.join(repoRoot, project, 'src'));
    if (newest === undefined) continue;
    if (!existsSync(buildInfo)) {
      stale.push(`${project}: never built (no dist/.tsbuildinfo)`);
      continue;
    }
    const builtAtMs = statSync(buildInfo).mtimeMs;
    if (newest.mtimeMs > builtAtMs) stale.push(`${project}: ${path.relative(path.join(repoRoot, project), newest.file)} changed after the last build`);
  }
  return stale;
}

function projectDirs(repoRoot: string): string[] {
  const tsconfig = JSON.parse(readFileSync(path.join(repoRoot, 'tsconfig.json'), 'utf8')) as { references?: { path: string }[] };
  return (tsconfig.references ?? []).map((reference) => path.normalize(reference.path));
}

function newestSource(dir: string): { file: string; mtimeMs: number } | undefined {
  if (!existsSync(dir)) return undefined;
  let newest: { file: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.[cm]?ts$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const { mtimeMs } = statSync(file);
    if (newest === undefined || mtimeMs > newest.mtimeMs) newest = { file, mtimeMs };
  }
  return newest;
}
