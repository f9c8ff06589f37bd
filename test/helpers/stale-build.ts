import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Projects (the root tsconfig's references) whose compiled dist/ is older than their src/, and the CLI's
 * bundle when older than what it bundles, one line each. Tests spawn dist/ and the bundle, so a run after
 * editing src/ without building would test yesterday's code.
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
  return [...stale, ...staleBundle(repoRoot)];
}

/** The CLI's bundle (apps/cli/build.mjs), which bin/reins.js runs, against the builds it is made of. */
function staleBundle(repoRoot: string): string[] {
  const entry = path.join(repoRoot, 'apps/cli/dist/bundle/entry.json');
  if (!existsSync(entry)) return ['apps/cli: never bundled (no dist/bundle/entry.json)'];
  const bundledAtMs = statSync(entry).mtimeMs;
  const newer = ['apps/cli', 'libs/shared'].filter((project) => {
    const buildInfo = path.join(repoRoot, project, 'dist', '.tsbuildinfo');
    return existsSync(buildInfo) && statSync(buildInfo).mtimeMs > bundledAtMs;
  });
  return newer.map((project) => `apps/cli: the bundle is older than ${project}'s last build`);
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
